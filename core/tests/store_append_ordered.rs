//! `Store::append_ordered`: its `before_index` runs once per batch, after the batch's data
//! is written (and synced when the append syncs) and before any of its index entries is
//! written, also for a batch that spills over into the next data file (two index writes);
//! an error from it fails the append and leaves nothing of the batch behind; a batch that
//! would not start at the id the caller names is refused before anything is written (for
//! `append_journaled` too: the group's first id). The server's
//! ingest journal relies on this order (see `core/src/server/dedup/mod.rs`).

mod common;

use modsynclog_core::store::faults::FaultyVfs;
use modsynclog_core::store::format::RECORDS_PER_DATA_FILE;
use modsynclog_core::store::verify::verify_store;
use modsynclog_core::{Date, Error, ErrorKind, NewRecord, Reader, Store};

/// Records in the day before the batch: two short of a full data file, so that a batch
/// of five fills data file 0 and goes on in data file 1.
const BEFORE: u64 = RECORDS_PER_DATA_FILE - 2;

fn day() -> Date {
    common::date("2026-11-21")
}

/// A store whose day holds `BEFORE` records, reopened under `batch` through a
/// `FaultyVfs` that names every step.
fn setup() -> (tempfile::TempDir, FaultyVfs, Store) {
    let tmp = common::store_of(day(), BEFORE);
    let vfs = FaultyVfs::new();
    let store = common::open_faulty(tmp.path(), &vfs);
    (tmp, vfs, store)
}

fn names(vfs: &FaultyVfs, from: u64, to: u64) -> Vec<String> {
    (from..to).map(|n| vfs.step_name(n)).collect()
}

fn batch() -> Vec<NewRecord<'static>> {
    (0..5).map(|_| NewRecord { time: 2, ty: 2, data: b"batch" }).collect()
}

/// Runs an append_ordered of `batch()`; returns the steps before and after `before_index`
/// and how often it ran.
fn append(store: &mut Store, vfs: &FaultyVfs, defer: bool) -> (Vec<String>, Vec<String>, usize) {
    let start = vfs.steps();
    let (mut calls, mut at) = (0, 0);
    let records = batch();
    let a = store
        .append_ordered(day(), BEFORE, &records, defer, &mut || {
            calls += 1;
            at = vfs.steps();
            Ok(())
        })
        .unwrap();
    assert_eq!((a.first_id, a.count), (BEFORE, 5));
    (names(vfs, start, at), names(vfs, at, vfs.steps()), calls)
}

#[test]
fn before_index_runs_once_between_the_data_and_the_first_index_entry() {
    let (_tmp, vfs, mut store) = setup();
    let (before, after, calls) = append(&mut store, &vfs, false);
    assert_eq!(calls, 1, "once per batch, though the batch is written in two runs");
    let data0 = "20261121/data000000";
    assert!(before.contains(&format!("write {data0}")), "the data is written first: {before:?}");
    assert!(before.contains(&format!("sync {data0}")), "and synced, under batch: {before:?}");
    assert!(!before.iter().any(|s| s.ends_with("/index")), "no index step before it: {before:?}");
    let index_writes = after.iter().filter(|s| *s == "write 20261121/index").count();
    assert_eq!(index_writes, 2, "both runs' index entries come after it: {after:?}");
    assert!(after.contains(&"write 20261121/data000001".to_string()), "the second run follows: {after:?}");
    assert_eq!(store.count(day()).unwrap(), BEFORE + 5);
}

#[test]
fn a_deferred_append_runs_it_before_the_index_too() {
    let (_tmp, vfs, mut store) = setup();
    let (before, after, calls) = append(&mut store, &vfs, true);
    assert_eq!(calls, 1);
    assert!(before.contains(&"write 20261121/data000000".to_string()), "{before:?}");
    assert!(!before.iter().any(|s| s.starts_with("sync")), "a deferred append does not sync: {before:?}");
    assert!(!before.iter().any(|s| s.ends_with("/index")), "{before:?}");
    assert!(after.contains(&"write 20261121/index".to_string()), "{after:?}");
}

#[test]
fn an_error_from_it_fails_the_append_and_leaves_nothing_of_the_batch() {
    let (tmp, _vfs, mut store) = setup();
    let records = batch();
    let err = store
        .append_ordered(day(), BEFORE, &records, false, &mut || Err(Error::invalid("the journal's sync failed")))
        .expect_err("the append fails with it");
    assert!(err.to_string().contains("the journal's sync failed"), "{err}");
    assert_eq!(store.count(day()).unwrap(), BEFORE, "nothing of the batch is indexed");
    // The day goes on where it was; the next batch lands at the failed one's ids.
    let a = store.append(day(), &records).unwrap();
    assert_eq!((a.first_id, a.count), (BEFORE, 5));
    drop(store);
    for report in verify_store(&modsynclog_core::store::io::StdVfs, tmp.path()).unwrap() {
        assert_eq!(report.problem, None, "day {} does not verify", report.date);
    }
    let n = Reader::open(tmp.path()).unwrap().filter(|r| r.as_ref().unwrap().data[..] == b"batch"[..]).count();
    assert_eq!(n, 5, "the batch once");
}

#[test]
fn a_batch_that_would_not_start_at_its_id_is_refused_before_anything_is_written() {
    let (_tmp, vfs, mut store) = setup();
    let records = batch();
    let group = store.plan_group(day(), &records).unwrap().expect("a group under batch");
    // The day moves on after the plan, as it would if the writer's idea of its end were wrong.
    store.append(day(), &records[..1]).unwrap();
    let start = vfs.steps();
    let mut calls = 0;
    let err = store.append_ordered(day(), BEFORE, &records, false, &mut || {
        calls += 1;
        Ok(())
    });
    assert_eq!(err.expect_err("the day ends at BEFORE + 1").kind(), ErrorKind::Conflict);
    let err = store.append_journaled(day(), &records, &group, &mut || {
        calls += 1;
        Ok(())
    });
    assert_eq!(err.expect_err("the group starts at BEFORE").kind(), ErrorKind::Conflict);
    let steps = names(&vfs, start, vfs.steps());
    assert!(!steps.iter().any(|s| s.starts_with("write")), "nothing written: {steps:?}");
    assert_eq!(calls, 0);
    assert_eq!(store.count(day()).unwrap(), BEFORE + 1);
    let a = store.append_ordered(day(), BEFORE + 1, &records, false, &mut || Ok(())).unwrap();
    assert_eq!((a.first_id, a.count), (BEFORE + 1, 5), "the right id goes through");
}
