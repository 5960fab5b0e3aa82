//! Helpers shared by the core's integration tests: the Go vectors and small store utilities.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use base64::Engine;
use modsynclog_core::store::faults::FaultyVfs;
use modsynclog_core::{Date, Durability, NewRecord, Store, StoreOptions};

/// The folder of test vectors written by the original Go code.
pub fn vectors() -> PathBuf {
    let dir = std::env::var_os("MODSYNCLOG_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"));
    assert!(
        dir.join("store-manifest.json").is_file(),
        "test vectors not found at {} (set MODSYNCLOG_VECTORS)",
        dir.display()
    );
    dir
}

/// One record of `store-manifest.json`.
#[derive(Debug, Clone)]
pub struct ManifestRecord {
    pub date: Date,
    pub id: u64,
    pub time: i32,
    pub ty: i16,
    pub data: Vec<u8>,
    pub data_file_index: i16,
    pub data_offset: i64,
}

#[derive(Debug, Clone)]
pub struct ManifestDay {
    pub date: Date,
    pub records: u64,
    pub finished: bool,
}

pub fn manifest() -> (Vec<ManifestDay>, Vec<ManifestRecord>) {
    let text = std::fs::read_to_string(vectors().join("store-manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let days = m["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| ManifestDay {
            date: Date::parse(d["date"].as_str().unwrap()).unwrap(),
            records: d["records"].as_u64().unwrap(),
            finished: d["finish_file_present"].as_bool().unwrap(),
        })
        .collect();
    let records = m["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| ManifestRecord {
            date: Date::parse(r["date"].as_str().unwrap()).unwrap(),
            id: r["id"].as_u64().unwrap(),
            time: r["time"].as_i64().unwrap() as i32,
            ty: r["type"].as_i64().unwrap() as i16,
            data: base64::engine::general_purpose::STANDARD.decode(r["data_b64"].as_str().unwrap()).unwrap(),
            data_file_index: r["data_file_index"].as_i64().unwrap() as i16,
            data_offset: r["data_offset"].as_i64().unwrap(),
        })
        .collect();
    (days, records)
}

/// Copies a folder tree (files and sub-folders).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            // The vectors are read-only; copies must be writable.
            let mut perm = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&target, perm).unwrap();
        }
    }
}

pub fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

/// A store whose `day` holds `n` one-byte records, in a temp folder (in /dev/shm when
/// there is one: a million records are written quickly there).
pub fn store_of(day: Date, n: u64) -> tempfile::TempDir {
    let tmp = if Path::new("/dev/shm").is_dir() { tempfile::tempdir_in("/dev/shm") } else { tempfile::tempdir() };
    let tmp = tmp.unwrap();
    let mut store =
        Store::open(tmp.path(), StoreOptions { durability: Durability::Never, ..Default::default() }).unwrap();
    store.append(day, &vec![NewRecord { time: 1, ty: 1, data: b"x" }; n as usize]).unwrap();
    store.sync().unwrap();
    tmp
}

/// Opens the store at `dir` under `batch` (deferred appends allowed) through `vfs`.
pub fn open_faulty(dir: &Path, vfs: &FaultyVfs) -> Store {
    let opts = StoreOptions {
        durability: Durability::Batch,
        vfs: std::sync::Arc::new(vfs.clone()),
        deferred_appends: true,
        ..Default::default()
    };
    Store::open(dir, opts).unwrap()
}
