//! What a crash can leave behind, how `verify` reports it, and how reopening repairs it.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use common::date;
use modsynclog_core::store::faults::FaultyVfs;
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::store::verify::verify_day;
use modsynclog_core::{Date, Durability, ErrorKind, NewRecord, Reader, Store, StoreOptions};

const DAY: &str = "2026-11-21";

fn opts() -> StoreOptions {
    StoreOptions { durability: Durability::Batch, ..Default::default() }
}

fn payload(i: usize) -> Vec<u8> {
    format!("record number {i}").into_bytes()
}

/// A store with `n` records `payload(0..n)` in day DAY.
fn store_with(n: usize) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path(), opts()).unwrap();
    let data: Vec<_> = (0..n).map(payload).collect();
    let batch: Vec<_> = data.iter().map(|d| NewRecord { time: 1, ty: 2, data: d }).collect();
    store.append(date(DAY), &batch).unwrap();
    tmp
}

fn day_file(root: &Path, name: &str) -> std::path::PathBuf {
    root.join("20261121").join(name)
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

/// `verify` names the damage at `id`; reopening recovers `n` records; the next append gets
/// id `n` and everything reads back; afterwards `verify` is clean.
fn check_recovers(root: &Path, n: u64, damaged_id: u64, what: &str) {
    let report = verify_day(&StdVfs, root, date(DAY)).unwrap();
    let problem = report.problem.expect("verify must report the damage");
    assert_eq!(problem.id, Some(damaged_id), "{problem:?}");
    assert!(problem.what.contains(what), "{problem:?} should mention {what:?}");

    let mut store = Store::open(root, opts()).unwrap();
    assert_eq!(store.count(date(DAY)).unwrap(), n, "count after reopen (before append)");
    let extra = b"after recovery".to_vec();
    let a = store.append(date(DAY), &[NewRecord { time: 3, ty: 4, data: &extra }]).unwrap();
    assert_eq!(a.first_id, n);
    assert_eq!(store.count(date(DAY)).unwrap(), n + 1);
    drop(store);

    let got: Vec<_> = Reader::open(root).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(got.len() as u64, n + 1);
    for r in &got[..n as usize] {
        assert_eq!(r.data.to_vec(), payload(r.id as usize));
    }
    assert_eq!(got[n as usize].data.to_vec(), extra);
    let report = verify_day(&StdVfs, root, date(DAY)).unwrap();
    assert_eq!((report.count, report.problem), (n + 1, None));
}

#[test]
fn torn_index_entry() {
    let tmp = store_with(10);
    append_bytes(&day_file(tmp.path(), "index"), &[0, 0, 0, 0, 0]);
    check_recovers(tmp.path(), 10, 10, "torn entry");
}

#[test]
fn index_entry_past_the_end_of_data() {
    let tmp = store_with(10);
    let data_len = std::fs::metadata(day_file(tmp.path(), "data000000")).unwrap().len();
    let entry =
        modsynclog_core::store::format::IndexEntry { data_file_index: 0, data_offset: data_len as i64, data_type: 2 };
    append_bytes(&day_file(tmp.path(), "index"), &entry.encode());
    check_recovers(tmp.path(), 10, 10, "file ends");
}

#[test]
fn garbage_after_the_last_record() {
    let tmp = store_with(10);
    append_bytes(&day_file(tmp.path(), "data000000"), &[0xAB; 37]);
    check_recovers(tmp.path(), 10, 10, "37 bytes after the last record");
    // The garbage is gone, not merely overwritten: the file is exactly the records.
    let clean = store_with(10);
    let mut store = Store::open(clean.path(), opts()).unwrap();
    store.append(date(DAY), &[NewRecord { time: 3, ty: 4, data: b"after recovery" }]).unwrap();
    drop(store);
    for f in ["index", "data000000"] {
        assert_eq!(std::fs::read(day_file(tmp.path(), f)).unwrap(), std::fs::read(day_file(clean.path(), f)).unwrap());
    }
}

#[test]
fn corrupt_magic_of_the_last_record() {
    let tmp = store_with(10);
    let index = std::fs::read(day_file(tmp.path(), "index")).unwrap();
    let last = modsynclog_core::store::format::IndexEntry::decode(&index[9 * 12..]);
    let path = day_file(tmp.path(), "data000000");
    let mut data = std::fs::read(&path).unwrap();
    data[last.data_offset as usize] = 0;
    std::fs::write(&path, data).unwrap();
    check_recovers(tmp.path(), 9, 9, "bad magic");
}

#[test]
fn corruption_in_the_middle_is_an_error_not_a_panic() {
    let tmp = store_with(10);
    let index = std::fs::read(day_file(tmp.path(), "index")).unwrap();
    let e = modsynclog_core::store::format::IndexEntry::decode(&index[4 * 12..]);
    let path = day_file(tmp.path(), "data000000");
    let mut data = std::fs::read(&path).unwrap();
    data[e.data_offset as usize + 6..e.data_offset as usize + 10].copy_from_slice(&i32::MAX.to_be_bytes());
    std::fs::write(&path, data).unwrap();

    let mut reader = Reader::open(tmp.path()).unwrap();
    for id in 0..4 {
        assert_eq!(reader.next().unwrap().unwrap().id, id);
    }
    let err = reader.next().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    assert!(err.to_string().contains("data000000") && err.to_string().contains("record 4"), "{err}");
    let report = verify_day(&StdVfs, tmp.path(), date(DAY)).unwrap();
    assert_eq!(report.problem.unwrap().id, Some(4));
}

#[test]
fn a_torn_batch_is_invisible_and_cut_on_the_next_append() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = FaultyVfs::new();
    let mut store = Store::open(
        tmp.path(),
        StoreOptions { durability: Durability::Batch, vfs: std::sync::Arc::new(vfs.clone()), ..Default::default() },
    )
    .unwrap();
    let d: Date = date(DAY);
    let data: Vec<_> = (0..5).map(payload).collect();
    let batch: Vec<_> = data.iter().map(|p| NewRecord { time: 1, ty: 2, data: p }).collect();
    store.append(d, &batch).unwrap();

    // The data write of the next batch tears half-way.
    vfs.fail_after_bytes(40);
    let err = store.append(d, &batch).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(Reader::open(tmp.path()).unwrap().count(), 5, "readers see only whole batches");

    // The index write of the next one tears: data is complete, the index has a partial entry.
    let data_bytes: u64 = batch.iter().map(|r| 10 + r.data.len() as u64).sum();
    vfs.heal();
    vfs.fail_after_bytes(data_bytes + 18);
    assert!(store.append(d, &batch).is_err());
    assert_eq!(Reader::open(tmp.path()).unwrap().count(), 6, "one whole entry of the torn index write is visible");

    vfs.heal();
    let a = store.append(d, &batch).unwrap();
    // The failed batch was never acknowledged: the whole entry that made it is cut with
    // the rest (a resent batch must not find half of itself already stored).
    assert_eq!((a.first_id, a.count), (5, 5));
    drop(store);
    let ids: Vec<_> = Reader::open(tmp.path()).unwrap().map(|r| r.unwrap().id).collect();
    assert_eq!(ids, (0..10).collect::<Vec<_>>());
    assert_eq!(verify_day(&StdVfs, tmp.path(), d).unwrap().problem, None);
}

#[test]
fn a_second_writer_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let _first = Store::open(tmp.path(), opts()).unwrap();
    let err = Store::open(tmp.path(), opts()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

#[test]
fn append_at_refuses_a_gap_or_an_overlap() {
    let tmp = store_with(3);
    let mut store = Store::open(tmp.path(), opts()).unwrap();
    let r = [NewRecord { time: 1, ty: 1, data: b"x" }];
    assert_eq!(store.append_at(date(DAY), 2, &r).unwrap_err().kind(), ErrorKind::Conflict);
    assert_eq!(store.append_at(date(DAY), 4, &r).unwrap_err().kind(), ErrorKind::Conflict);
    assert_eq!(store.append_at(date(DAY), 3, &r).unwrap().first_id, 3);
}

#[test]
fn a_finished_day_takes_no_more_records() {
    let tmp = store_with(3);
    let mut store = Store::open(tmp.path(), opts()).unwrap();
    store.finish(date(DAY)).unwrap();
    let r = [NewRecord { time: 1, ty: 1, data: b"late" }];
    assert_eq!(store.append(date(DAY), &r).unwrap_err().kind(), ErrorKind::Conflict);
    drop(store);
    // Also after a reopen, when the marker is found on disk.
    let mut store = Store::open(tmp.path(), opts()).unwrap();
    assert_eq!(store.append(date(DAY), &r).unwrap_err().kind(), ErrorKind::Conflict);
    assert_eq!(store.count(date(DAY)).unwrap(), 3);
}
