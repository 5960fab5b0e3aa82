//! A replica is fed only what the writer published. A batch whose append failed can sit in
//! the files, whole or zeroed, until the writer cuts it; its resend then lands at the
//! same ids and offsets with other bytes (a new time). The master's feeder must neither
//! send the failed batch nor serve the resend from data it read ahead before the cut.

use std::path::Path;
use std::sync::Arc;

use modsynclog_core::replication::feeder::{Feed, Feeder};
use modsynclog_core::store::faults::{Fault, FaultyVfs};
use modsynclog_core::{Date, Durability, NewRecord, Store, StoreOptions};

fn day() -> Date {
    Date::parse("2026-11-21").unwrap()
}

fn append(store: &mut Store, time: i32, tag: &str) -> modsynclog_core::Result<()> {
    let data: Vec<_> = (0..3).map(|i| format!("{tag}{i}").into_bytes()).collect();
    let records: Vec<_> = data.iter().map(|d| NewRecord { time, ty: 1, data: d }).collect();
    store.append(day(), &records).map(drop)
}

fn feed_all(feeder: &mut Feeder) -> Vec<(i32, Vec<u8>)> {
    let mut got = Vec::new();
    while let Feed::Batch { records, .. } = feeder.poll().unwrap() {
        got.extend(records.into_iter().map(|r| (r.time, r.data.to_vec())));
    }
    got
}

/// The master's feeder of the day from record 0, capped by the store's published head.
fn feeder(dir: &Path, vfs: &FaultyVfs, store: &Store) -> Feeder {
    Feeder::starting_at(Arc::new(vfs.clone()), dir.into(), day(), 0, 100, 1 << 20).with_head(store.signal())
}

/// Fails the append's step `step` (counted from now) with `EIO`, checks it is the
/// index sync, then heals the disk.
fn fail_index_sync(store: &mut Store, vfs: &FaultyVfs, step: u64) {
    let at = vfs.steps() + step;
    vfs.fail_step(at, Fault::Eio);
    append(store, 1, "b").unwrap_err();
    assert_eq!(vfs.step_name(at), "sync 20261121/index");
    vfs.heal();
}

fn open(dir: &Path, vfs: &FaultyVfs) -> Store {
    let opts = StoreOptions { durability: Durability::Batch, vfs: Arc::new(vfs.clone()), ..Default::default() };
    Store::open(dir, opts).unwrap()
}

#[test]
fn a_failed_batch_is_never_fed_and_its_resend_is_fed_fresh() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = FaultyVfs::new();
    let mut store = open(tmp.path(), &vfs);
    append(&mut store, 1, "a").unwrap();

    // The next batch's data is written and synced, its index entries written, and the
    // index sync fails: the entries read back as zeroes, the data is whole.
    fail_index_sync(&mut store, &vfs, 3);

    let mut feeder = feeder(tmp.path(), &vfs, &store);
    let first = feed_all(&mut feeder);
    let tags: Vec<_> = first.iter().map(|(_, d)| String::from_utf8_lossy(d).into_owned()).collect();
    assert_eq!(tags, ["a0", "a1", "a2"], "only the published batch");

    // The resend: the store cuts the failed batch, the same ids get new bytes.
    append(&mut store, 2, "b").unwrap();
    let resent = feed_all(&mut feeder);
    assert_eq!(resent.len(), 3);
    for (i, (time, data)) in resent.iter().enumerate() {
        assert_eq!(
            (*time, data.clone()),
            (2, format!("b{i}").into_bytes()),
            "the resend as stored, not what was read ahead"
        );
    }
}

/// The same when the failed batch is the first append since the store opened: nothing
/// was published yet, and the feeder must not take the files' word for it.
#[test]
fn a_failed_first_append_is_never_fed() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = FaultyVfs::new();
    let mut store = open(tmp.path(), &vfs);
    // Steps of a first append: folder, root sync, index, data file, folder sync, data
    // write, data sync, index write, index sync.
    fail_index_sync(&mut store, &vfs, 8);
    let mut feeder = feeder(tmp.path(), &vfs, &store);
    assert!(matches!(feeder.poll().unwrap(), Feed::Waiting), "nothing was published");
    append(&mut store, 2, "b").unwrap();
    let got = feed_all(&mut feeder);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|(time, _)| *time == 2), "only the stored resend");
}

/// A batch that a crash left half-stored is cut back when the writer starts, after the
/// store opened and published the day with it. The published count must come down with
/// the cut: otherwise the next batch, should it fail with its index entries written,
/// would be fed up to the old count before the writer cuts it in turn.
#[test]
fn a_cut_lowers_what_is_published() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = FaultyVfs::new();
    let mut store = open(tmp.path(), &vfs);
    append(&mut store, 1, "a").unwrap();
    append(&mut store, 1, "h").unwrap();
    drop(store);
    let mut store = open(tmp.path(), &vfs);
    assert_eq!(store.signal().head().count, 6);
    store.cut_back(day(), 3).unwrap();
    assert_eq!(store.signal().head().count, 3, "the cut is published");

    vfs.fail_named("sync 20261121/index", 0, Fault::Eio);
    append(&mut store, 2, "b").unwrap_err();
    assert!(vfs.fired());
    vfs.heal();
    let mut feeder = feeder(tmp.path(), &vfs, &store);
    let tags: Vec<_> = feed_all(&mut feeder).iter().map(|(_, d)| String::from_utf8_lossy(d).into_owned()).collect();
    assert_eq!(tags, ["a0", "a1", "a2"], "only what is published");
    append(&mut store, 3, "b").unwrap();
    let got = feed_all(&mut feeder);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|(time, _)| *time == 3), "only the stored resend: {got:?}");
}
