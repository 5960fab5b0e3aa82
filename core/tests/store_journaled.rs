//! Index groups (`core/src/store/index_group.rs`): an append journaled with its group
//! syncs the data and not the index, and opening the store puts back, from the groups in
//! the journal, the index entries a power loss took, but only where the data is what the
//! group wrote.

mod common;

use std::path::Path;

use modsynclog_core::store::faults::FaultyVfs;
use modsynclog_core::store::format::{INDEX_ENTRY_LEN, RECORDS_PER_DATA_FILE};
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::store::journal_file::{Frame, MAGIC_V2, journal_path, put_frame};
use modsynclog_core::store::verify::verify_store;
use modsynclog_core::store::{Durability, IndexGroup, Recovery, StoreOptions};
use modsynclog_core::{Date, ErrorKind, NewRecord, Reader, Store};

/// Records in the day before the batch: the batch of five spans data files 0 and 1.
const BEFORE: u64 = RECORDS_PER_DATA_FILE - 2;

fn day() -> Date {
    common::date("2026-11-21")
}

fn batch() -> Vec<NewRecord<'static>> {
    (0..5).map(|i| NewRecord { time: 2, ty: if i < 3 { 2 } else { 3 }, data: b"journaled" }).collect()
}

fn open(dir: &Path, recovery: Recovery) -> modsynclog_core::Result<Store> {
    Store::open(dir, StoreOptions { durability: Durability::Batch, recovery, ..Default::default() })
}

/// Writes the journal as the server's writer does: the group in a frame after the magic.
fn write_journal(root: &Path, group: &IndexGroup) {
    let mut body = Vec::new();
    group.encode(&mut body);
    let mut file = MAGIC_V2.to_vec();
    put_frame(Frame::Group(&body), &mut file);
    std::fs::create_dir_all(journal_path(root).parent().unwrap()).unwrap();
    std::fs::write(journal_path(root), file).unwrap();
}

/// A day of `BEFORE` records plus `batch()` appended with its group in the journal.
fn journaled_store() -> tempfile::TempDir {
    let tmp = common::store_of(day(), BEFORE);
    let mut store = open(tmp.path(), Recovery::Tail).unwrap();
    let records = batch();
    let group = store.plan_group(day(), &records).unwrap().expect("a group under batch");
    assert_eq!((group.first_id, group.count()), (BEFORE, 5));
    write_journal(tmp.path(), &group);
    let a = store.append_journaled(day(), &records, &group, &mut || Ok(())).unwrap();
    assert_eq!((a.first_id, a.count), (BEFORE, 5));
    tmp
}

fn index_path(root: &Path) -> std::path::PathBuf {
    root.join(day().folder_name()).join("index")
}

/// The records from id `BEFORE` on, and that every day verifies.
fn tail_and_verify(root: &Path) -> Vec<Vec<u8>> {
    for report in verify_store(&StdVfs, root).unwrap() {
        assert_eq!(report.problem, None, "day {} does not verify", report.date);
    }
    Reader::open(root).unwrap().map(|r| r.unwrap()).filter(|r| r.id >= BEFORE).map(|r| r.data.to_vec()).collect()
}

/// The batch spans two data files. Both are synced; the index entries of the last run
/// wait for the next sync, and those of the first run are synced before the second run's
/// data is written (a group is restored whole or not at all: a crash in the second run
/// must not leave the first run's entries as the disk happened to keep them).
#[test]
fn the_data_is_synced_and_the_index_waits_for_the_next_sync() {
    let tmp = common::store_of(day(), BEFORE);
    let vfs = FaultyVfs::new();
    let mut store = common::open_faulty(tmp.path(), &vfs);
    let records = batch();
    let group = store.plan_group(day(), &records).unwrap().unwrap();
    let start = vfs.steps();
    store.append_journaled(day(), &records, &group, &mut || Ok(())).unwrap();
    let steps: Vec<String> = (start..vfs.steps()).map(|n| vfs.step_name(n)).collect();
    let at = |step: &str| steps.iter().position(|s| s == step).unwrap_or_else(|| panic!("no {step}: {steps:?}"));
    let last = |step: &str| steps.iter().rposition(|s| s == step).unwrap_or_else(|| panic!("no {step}: {steps:?}"));
    for file in ["data000000", "data000001"] {
        at(&format!("sync 20261121/{file}"));
    }
    let index_synced = at("sync 20261121/index");
    assert_eq!(index_synced, last("sync 20261121/index"), "the index is synced once: {steps:?}");
    assert!(at("write 20261121/index") < index_synced, "{steps:?}");
    assert!(index_synced < at("write 20261121/data000001"), "the first run's entries, first: {steps:?}");
    assert!(last("write 20261121/index") > index_synced, "the last run's entries wait: {steps:?}");
    assert!(store.index_waits());
    let start = vfs.steps();
    store.sync().unwrap();
    let steps: Vec<String> = (start..vfs.steps()).map(|n| vfs.step_name(n)).collect();
    assert!(steps.contains(&"sync 20261121/index".to_string()), "{steps:?}");
    assert!(!store.index_waits());
}

#[test]
fn opening_restores_the_entries_a_power_loss_took() {
    let want: Vec<Vec<u8>> = vec![b"journaled".to_vec(); 5];
    // What the disk kept of the unsynced index writes (the power loss is simulated on the
    // files after the store closed).
    let damage: [(&str, &Damage); 3] = [
        ("none of them, a torn entry", &|p| truncate(p, entry(BEFORE) + 7)),
        ("the first run's, not the second's", &|p| truncate(p, entry(BEFORE + 2))),
        ("the second run's, not the first's (a hole)", &|p| zero(p, entry(BEFORE), entry(BEFORE + 2))),
    ];
    for (what, damage) in damage {
        let tmp = journaled_store();
        damage(&index_path(tmp.path()));
        let store = open(tmp.path(), Recovery::Strict).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(store.count(day()).unwrap(), BEFORE + 5, "{what}");
        drop(store);
        assert_eq!(tail_and_verify(tmp.path()), want, "{what}");
    }
}

#[test]
fn a_group_whose_data_is_not_on_the_disk_is_not_restored() {
    let tmp = journaled_store();
    truncate(&index_path(tmp.path()), INDEX_ENTRY_LEN as u64 * BEFORE);
    // The data file kept its length but not its last bytes (zeroes): only the CRC tells.
    let data1 = tmp.path().join(day().folder_name()).join("data000001");
    let len = std::fs::metadata(&data1).unwrap().len();
    zero(&data1, len - 4, len);
    let store = open(tmp.path(), Recovery::Tail).unwrap();
    assert_eq!(store.count(day()).unwrap(), BEFORE, "the group was never acknowledged: not restored");
    drop(store);
    assert_eq!(tail_and_verify(tmp.path()), Vec::<Vec<u8>>::new(), "no garbage record surfaces");
}

#[test]
fn strict_refuses_to_open_when_the_index_ends_before_a_group() {
    let tmp = journaled_store();
    truncate(&index_path(tmp.path()), INDEX_ENTRY_LEN as u64 * (BEFORE - 1));
    let err = open(tmp.path(), Recovery::Strict).expect_err("records before the group are lost");
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
    assert!(err.to_string().contains("day 2026-11-21: the index ends at record 999997"), "{err}");
    let store = open(tmp.path(), Recovery::Tail).expect("tail opens what is left");
    assert_eq!(store.count(day()).unwrap(), BEFORE - 1);
}

/// Where index entry `id` starts.
fn entry(id: u64) -> u64 {
    id * INDEX_ENTRY_LEN as u64
}

/// What a power loss did to a file, simulated on it after the store closed.
type Damage = dyn Fn(&Path);

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

fn zero(path: &Path, from: u64, to: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(&vec![0u8; (to - from) as usize], from).unwrap();
}
