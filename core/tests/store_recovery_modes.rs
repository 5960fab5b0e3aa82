//! Recovery modes: `tail` checks the whole of an unfinished day under `never`/`interval`
//! (a power loss can zero any unsynced page, not only the last) and cuts it back to the
//! first damaged record; `strict` refuses to open on any damage and names day and record.

mod common;

use std::os::unix::fs::FileExt;
use std::path::Path;

use common::date;
use modsynclog_core::store::Recovery;
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::store::verify::verify_day;
use modsynclog_core::{Durability, ErrorKind, NewRecord, Reader, Store, StoreOptions};

const DAY: &str = "2026-11-21";

fn opts(durability: Durability, recovery: Recovery) -> StoreOptions {
    StoreOptions { durability, recovery, ..Default::default() }
}

fn payload(i: usize) -> Vec<u8> {
    format!("record number {i:02}").into_bytes()
}

/// 10 records of 16 bytes (26 with the header) in an unfinished day, then the header of
/// record 4 zeroed, as a lost page would leave it; records 5..9 stay intact behind it.
fn store_with_a_hole(durability: Durability) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path(), opts(durability, Recovery::Tail)).unwrap();
    let data: Vec<_> = (0..10).map(payload).collect();
    let batch: Vec<_> = data.iter().map(|d| NewRecord { time: 1, ty: 2, data: d }).collect();
    store.append(date(DAY), &batch).unwrap();
    drop(store);
    let file = std::fs::OpenOptions::new().write(true).open(data_file(tmp.path())).unwrap();
    file.write_all_at(&[0u8; 10], 4 * 26).unwrap();
    tmp
}

fn data_file(root: &Path) -> std::path::PathBuf {
    root.join("20261121").join("data000000")
}

fn records(root: &Path) -> Vec<Vec<u8>> {
    Reader::open(root).unwrap().map(|r| r.unwrap().data.to_vec()).collect()
}

#[test]
fn tail_cuts_an_unfinished_never_day_back_to_its_first_damaged_record() {
    let tmp = store_with_a_hole(Durability::Never);
    let mut store = Store::open(tmp.path(), opts(Durability::Never, Recovery::Tail)).unwrap();
    assert_eq!(store.count(date(DAY)).unwrap(), 4, "records 4..9 cannot be trusted after the hole");
    assert_eq!(std::fs::metadata(data_file(tmp.path())).unwrap().len(), 4 * 26, "data cut after record 3");
    let a = store.append(date(DAY), &[NewRecord { time: 3, ty: 2, data: b"after recovery" }]).unwrap();
    assert_eq!(a.first_id, 4);
    drop(store);
    let mut want: Vec<Vec<u8>> = (0..4).map(payload).collect();
    want.push(b"after recovery".to_vec());
    assert_eq!(records(tmp.path()), want);
    assert_eq!(verify_day(&StdVfs, tmp.path(), date(DAY)).unwrap().problem, None);
}

#[test]
fn strict_refuses_any_damage_and_names_the_day_and_record() {
    for durability in [Durability::Never, Durability::Batch] {
        let tmp = store_with_a_hole(durability);
        let err = Store::open(tmp.path(), opts(durability, Recovery::Strict)).expect_err("damage must stop strict");
        assert_eq!(err.kind(), ErrorKind::Corrupt);
        assert!(err.message().contains("day 2026-11-21, record 4"), "{err}");
        // Nothing was changed: the damage is still there for an operator to look at.
        assert_eq!(std::fs::metadata(data_file(tmp.path())).unwrap().len(), 10 * 26);
    }
}

#[test]
fn strict_opens_an_undamaged_store_and_refuses_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path(), opts(Durability::Batch, Recovery::Strict)).unwrap();
    store.append(date(DAY), &[NewRecord { time: 1, ty: 2, data: b"whole" }]).unwrap();
    drop(store);
    Store::open(tmp.path(), opts(Durability::Batch, Recovery::Strict)).expect("no damage, opens");
    // A crash between the data write and the index write leaves bytes after the last record.
    let file = std::fs::OpenOptions::new().append(true).open(data_file(tmp.path())).unwrap();
    std::io::Write::write_all(&mut &file, b"torn").unwrap();
    let err = Store::open(tmp.path(), opts(Durability::Batch, Recovery::Strict)).expect_err("a torn tail is damage");
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    // `tail` repairs the same folder.
    let store = Store::open(tmp.path(), opts(Durability::Batch, Recovery::Tail)).unwrap();
    assert_eq!(store.count(date(DAY)).unwrap(), 1);
}

#[test]
fn with_deferred_appends_a_batch_day_is_checked_whole_too() {
    let tmp = store_with_a_hole(Durability::Batch);
    let opts = StoreOptions { deferred_appends: true, ..opts(Durability::Batch, Recovery::Tail) };
    let store = Store::open(tmp.path(), opts).unwrap();
    assert_eq!(store.count(date(DAY)).unwrap(), 4);
}

/// Junk after the last record of data000000 while data000001 holds records: the cut falls
/// on the file boundary; it must clean data000000 (and drop data000001), once and for all.
#[test]
fn a_cut_on_a_data_file_boundary_cleans_the_file_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path(), opts(Durability::Never, Recovery::Tail)).unwrap();
    let empty = vec![NewRecord { time: 7, ty: 1, data: b"" }; 100_000];
    for _ in 0..10 {
        store.append(date(DAY), &empty).unwrap();
    }
    store.append(date(DAY), &empty[..2]).unwrap();
    drop(store);
    let day = tmp.path().join("20261121");
    let file0 = std::fs::OpenOptions::new().append(true).open(day.join("data000000")).unwrap();
    std::io::Write::write_all(&mut &file0, b"junk").unwrap();
    for _ in 0..2 {
        let store = Store::open(tmp.path(), opts(Durability::Never, Recovery::Tail)).unwrap();
        assert_eq!(store.count(date(DAY)).unwrap(), 1_000_000);
        drop(store);
        assert_eq!(std::fs::metadata(day.join("data000000")).unwrap().len(), 1_000_000 * 10);
        assert!(!day.join("data000001").exists());
        assert_eq!(verify_day(&StdVfs, tmp.path(), date(DAY)).unwrap().problem, None);
    }
}
