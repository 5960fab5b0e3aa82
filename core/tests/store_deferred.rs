//! Appends acknowledged before their fsync (`Store::append_deferred`, used for legacy calls
//! answered at "written") must never leave a synced index entry pointing at data that was
//! not synced: the next synced append, `sync`, or a day's `finish` syncs them first, even
//! when the deferred records left a data file behind by rolling to the next one.

mod common;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::date;
use modsynclog_core::store::io::{StdVfs, StoreFile, Vfs};
use modsynclog_core::{Durability, NewRecord, Store, StoreOptions};

/// Which files hold writes not yet synced, and every moment an index sync made durable
/// an index while some data file was still dirty (a power loss then would leave index
/// entries pointing at zeroes).
#[derive(Debug, Default)]
struct Ledger {
    dirty: HashMap<PathBuf, bool>,
    violations: Vec<String>,
    index_syncs: usize,
    /// Every write fails (an injected I/O error).
    fail_writes: bool,
}

#[derive(Debug, Clone, Default)]
struct SyncCheckingVfs(Arc<Mutex<Ledger>>);

#[derive(Debug)]
struct CheckedFile {
    path: PathBuf,
    inner: Arc<dyn StoreFile>,
    ledger: Arc<Mutex<Ledger>>,
}

impl StoreFile for CheckedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut ledger = self.ledger.lock().unwrap();
        if ledger.fail_writes {
            return Err(io::Error::other("injected write error"));
        }
        ledger.dirty.insert(self.path.clone(), true);
        drop(ledger);
        self.inner.write_all_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        let mut ledger = self.ledger.lock().unwrap();
        if self.path.ends_with("index") {
            ledger.index_syncs += 1;
            let dirty: Vec<_> = ledger
                .dirty
                .iter()
                .filter(|(p, d)| **d && !p.ends_with("index"))
                .map(|(p, _)| p.display().to_string())
                .collect();
            if !dirty.is_empty() {
                ledger.violations.push(format!("index synced while data is dirty: {dirty:?}"));
            }
        }
        ledger.dirty.insert(self.path.clone(), false);
        self.inner.sync_data()
    }
}

impl Vfs for SyncCheckingVfs {
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        StdVfs.open_read(path)
    }
    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        let inner = StdVfs.open_write(path)?;
        Ok(Arc::new(CheckedFile { path: path.to_path_buf(), inner, ledger: self.0.clone() }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        StdVfs.create_dir_all(path)
    }
    fn create_empty(&self, path: &Path) -> io::Result<()> {
        StdVfs.create_empty(path)
    }
    fn file_len(&self, path: &Path) -> io::Result<Option<u64>> {
        StdVfs.file_len(path)
    }
    fn exists(&self, path: &Path) -> bool {
        StdVfs.exists(path)
    }
    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>> {
        StdVfs.list_dirs(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        StdVfs.remove_dir_all(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        StdVfs.sync_dir(path)
    }
}

fn open(dir: &Path, vfs: &SyncCheckingVfs) -> Store {
    Store::open(dir, StoreOptions { durability: Durability::Batch, vfs: Arc::new(vfs.clone()), ..Default::default() })
        .unwrap()
}

/// Appends (synced) 999,999 empty records: the next record is the last of data000000.
fn fill_to_one_before_the_boundary(store: &mut Store, d: modsynclog_core::Date) {
    let empty = vec![NewRecord { time: 7, ty: 1, data: b"" }; 100_000];
    for _ in 0..9 {
        store.append(d, &empty).unwrap();
    }
    store.append(d, &empty[..99_999]).unwrap();
}

fn dirty_files(vfs: &SyncCheckingVfs) -> usize {
    vfs.0.lock().unwrap().dirty.values().filter(|d| **d).count()
}

#[test]
fn deferred_appends_skip_the_fsync_and_a_later_synced_append_syncs_them_first() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = SyncCheckingVfs::default();
    let mut store = open(tmp.path(), &vfs);
    let d = date("2026-11-21");
    let rec = [NewRecord { time: 1, ty: 1001, data: b"deferred" }];
    for _ in 0..3 {
        store.append_deferred(d, &rec).unwrap();
    }
    assert_eq!(vfs.0.lock().unwrap().index_syncs, 0, "a deferred append must not fsync");
    assert_eq!(dirty_files(&vfs), 2, "data and index written, not synced");

    let a = store.append(d, &[NewRecord { time: 2, ty: 1, data: b"durable" }]).unwrap();
    assert_eq!((a.first_id, a.count), (3, 1));
    let ledger = vfs.0.lock().unwrap();
    assert_eq!(ledger.violations, Vec::<String>::new());
    assert_eq!(ledger.dirty.values().filter(|d| **d).count(), 0, "everything synced after a durable append");
}

#[test]
fn sync_and_finish_cover_deferred_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = SyncCheckingVfs::default();
    let mut store = open(tmp.path(), &vfs);
    let d = date("2026-11-21");
    store.append_deferred(d, &[NewRecord { time: 1, ty: 1, data: b"x" }]).unwrap();
    store.sync().unwrap();
    assert_eq!(dirty_files(&vfs), 0);
    store.append_deferred(d, &[NewRecord { time: 1, ty: 1, data: b"y" }]).unwrap();
    store.finish(d).unwrap();
    assert_eq!(dirty_files(&vfs), 0);
    assert!(vfs.0.lock().unwrap().violations.is_empty());
}

#[test]
fn a_data_file_left_behind_by_a_deferred_rollover_is_synced_before_the_next_index() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = SyncCheckingVfs::default();
    let mut store = open(tmp.path(), &vfs);
    let d = date("2026-11-21");
    // Synced up to just before the data-file boundary...
    fill_to_one_before_the_boundary(&mut store, d);
    // ...then one deferred batch writes the last record of data000000 and the first of
    // data000001, and a synced one follows in data000001.
    store
        .append_deferred(
            d,
            &[NewRecord { time: 8, ty: 2, data: b"end of 0" }, NewRecord { time: 8, ty: 2, data: b"start of 1" }],
        )
        .unwrap();
    let a = store.append(d, &[NewRecord { time: 9, ty: 3, data: b"durable" }]).unwrap();
    assert_eq!(a.first_id, 1_000_001);
    assert!(tmp.path().join("20261121/data000001").exists());
    let ledger = vfs.0.lock().unwrap();
    assert_eq!(ledger.violations, Vec::<String>::new());
    assert_eq!(ledger.dirty.values().filter(|d| **d).count(), 0);
}

#[test]
fn a_data_file_left_unsynced_survives_a_failed_append_until_it_is_synced() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = SyncCheckingVfs::default();
    let mut store = open(tmp.path(), &vfs);
    let d = date("2026-11-21");
    fill_to_one_before_the_boundary(&mut store, d);
    // A deferred batch ends data000000 and starts data000001...
    let two = [NewRecord { time: 8, ty: 2, data: b"end of 0" }, NewRecord { time: 8, ty: 2, data: b"start of 1" }];
    store.append_deferred(d, &two).unwrap();
    // ...then an append fails: the store drops its day writer (and would forget that
    // data000000 still waits for its sync)...
    vfs.0.lock().unwrap().fail_writes = true;
    store.append(d, &[NewRecord { time: 9, ty: 3, data: b"lost" }]).expect_err("writes fail");
    vfs.0.lock().unwrap().fail_writes = false;
    // ...and the next synced append must still sync data000000 before its index.
    let a = store.append(d, &[NewRecord { time: 9, ty: 3, data: b"durable" }]).unwrap();
    assert_eq!(a.first_id, 1_000_001);
    let ledger = vfs.0.lock().unwrap();
    assert_eq!(ledger.violations, Vec::<String>::new());
    assert_eq!(ledger.dirty.values().filter(|d| **d).count(), 0);
}
