//! After a failed append, a day's files may hold the failed batch until the store's
//! repair cuts it: `Store::count` must not count it (a replica resumes from that count),
//! and `Store::finish_at` (a replica finishing a day its master finished) must not mark a
//! day finished that holds another number of records than the master's.

mod common;

use modsynclog_core::store::faults::{Fault, FaultyVfs};
use modsynclog_core::{ErrorKind, NewRecord};

#[test]
fn a_failed_append_is_not_counted_and_a_day_is_not_finished_short() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = FaultyVfs::new();
    let mut store = common::open_faulty(tmp.path(), &vfs);
    let day = common::date("2026-11-21");
    let three = vec![NewRecord { time: 1, ty: 1, data: b"abc" }; 3];
    store.append_at(day, 0, &three).unwrap();

    // The next batch's index is written, and its sync fails.
    vfs.fail_named("sync 20261121/index", 0, Fault::Eio);
    let err = store.append_at(day, 3, &three[..2]).expect_err("EIO from the index's sync");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    vfs.heal();
    assert_eq!(store.count(day).unwrap(), 3, "the failed batch is not counted");

    let err = store.finish_at(day, 5).expect_err("the day holds 3");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(!store.is_finished(day));
    store.finish_at(day, 3).unwrap();
    assert!(store.is_finished(day));
}
