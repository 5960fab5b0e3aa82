//! A fault at every step of a write: crash, `ENOSPC` and `EIO` injected into each
//! operation that changes the disk while the store appends (into the last records of a
//! data file and over into the next), answers a batch before its fsync, finishes a day
//! and opens the next day's folder. For every step and fault: what was acknowledged is
//! there after reopening, nothing is stored twice (a failed batch is resent, as the
//! server and the SDKs do), and the store verifies clean.

mod common;

use std::path::Path;

use modsynclog_core::store::faults::{Fault, FaultyVfs};
use modsynclog_core::store::format::RECORDS_PER_DATA_FILE;
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::store::verify::verify_store;
use modsynclog_core::{Date, Durability, NewRecord, Reader, Store, StoreOptions};

const DAY1: &str = "2026-11-21";
const DAY2: &str = "2026-11-22";
/// Records already in DAY1 before the scenario: two short of a full data file.
const BEFORE: u64 = RECORDS_PER_DATA_FILE - 2;

/// One operation of the scenario.
#[derive(Debug, Clone, Copy)]
enum Op {
    Append(&'static str, &'static str, usize),
    /// Answered once written, before its fsync (`--legacy-ack written`).
    AppendDeferred(&'static str, &'static str, usize),
    Finish(&'static str),
    Sync,
}

/// Fills the last records of data file 0 and spills into data file 1 (created, folder
/// synced), writes a batch whose fsync is deferred, makes it durable with the next one,
/// finishes the day, opens the next day's folder.
const SCENARIO: &[Op] = &[
    Op::Append(DAY1, "a", 1),
    Op::Append(DAY1, "b", 3),
    Op::AppendDeferred(DAY1, "c", 2),
    Op::Append(DAY1, "d", 1),
    Op::Finish(DAY1),
    Op::Append(DAY2, "e", 2),
    Op::Sync,
];

fn payload(batch: &str, i: usize) -> Vec<u8> {
    format!("{batch}{i}").into_bytes()
}

fn day(s: &str) -> Date {
    common::date(s)
}

/// A store whose DAY1 holds `BEFORE` one-byte records (made once, copied per run).
fn template() -> tempfile::TempDir {
    common::store_of(day(DAY1), BEFORE)
}

/// What a run acknowledged, in order: (date, first id, batch name, count, durable).
type Acked = Vec<(Date, u64, &'static str, usize, bool)>;

/// Runs the scenario with `fault` at step `at` (None: no fault). A failed operation is
/// retried once on a healed disk, as a resent batch would be; a crash ends the run.
/// Returns what was acknowledged, the names of the steps taken and whether a failure
/// was seen.
fn run(dir: &Path, at: Option<(u64, Fault)>) -> (Acked, Vec<String>, bool) {
    let vfs = FaultyVfs::new();
    let mut store = common::open_faulty(dir, &vfs);
    let base = vfs.steps();
    if let Some((n, fault)) = at {
        vfs.fail_step(base + n, fault);
    }
    let mut acked = Acked::new();
    let mut failed = false;
    for op in SCENARIO {
        for attempt in 0..2 {
            let result = match *op {
                Op::Append(d, name, n) | Op::AppendDeferred(d, name, n) => {
                    let data: Vec<_> = (0..n).map(|i| payload(name, i)).collect();
                    let records: Vec<_> = data.iter().map(|p| NewRecord { time: 7, ty: 3, data: p }).collect();
                    let durable = matches!(op, Op::Append(..));
                    let r =
                        if durable { store.append(day(d), &records) } else { store.append_deferred(day(d), &records) };
                    r.map(|a| acked.push((a.date, a.first_id, name, n, durable)))
                }
                Op::Finish(d) => store.finish(day(d)),
                Op::Sync => store.sync(),
            };
            match result {
                Ok(()) => break,
                Err(_) if vfs.crashed() => {
                    drop(store);
                    return (acked, steps(&vfs, base), true);
                }
                Err(e) => {
                    assert_eq!(
                        attempt,
                        0,
                        "{op:?} failed again on a healed disk after fault {at:?} at step `{}`: {e}",
                        vfs.step_name(base + at.map_or(0, |a| a.0))
                    );
                    failed = true;
                    vfs.heal();
                }
            }
        }
    }
    let names = steps(&vfs, base);
    drop(store);
    (acked, names, failed)
}

fn steps(vfs: &FaultyVfs, base: u64) -> Vec<String> {
    (base..vfs.steps()).map(|n| vfs.step_name(n)).collect()
}

/// Reopens the store as a restarted server would and checks it against `acked`.
fn check(dir: &Path, acked: &Acked, at: Option<(u64, Fault)>, step: &str) {
    let ctx = format!("fault {at:?} at step `{step}`");
    drop(Store::open(dir, StoreOptions { durability: Durability::Batch, ..Default::default() }).unwrap());
    for report in verify_store(&StdVfs, dir).unwrap() {
        assert_eq!(report.problem, None, "{ctx}: day {} does not verify", report.date);
    }
    let stored: Vec<_> = Reader::open(dir)
        .unwrap()
        .from(day(DAY1), BEFORE)
        .map(|r| r.unwrap())
        .map(|r| (r.date, r.id, String::from_utf8(r.data.to_vec()).unwrap()))
        .collect();
    // A failed fsync loses the writes since the last good one: records answered before
    // their fsync (`written`) may be gone then, and the store cuts them (logged).
    let lost_writes = matches!(at, Some((_, Fault::Eio | Fault::NoSpace))) && step.starts_with("sync");
    // Every acknowledged record at the place its ack named, with its bytes.
    for &(date, first, name, n, durable) in acked {
        if !durable && lost_writes {
            continue;
        }
        for i in 0..n {
            let want = (date, first + i as u64, format!("{name}{i}"));
            assert!(stored.contains(&want), "{ctx}: acknowledged record {want:?} is missing; stored: {stored:?}");
        }
    }
    // Nothing twice, and nothing that was not sent.
    let mut names: Vec<_> = stored.iter().map(|(_, _, s)| s.clone()).collect();
    names.sort();
    let len = names.len();
    names.dedup();
    assert_eq!(names.len(), len, "{ctx}: a record is stored twice: {stored:?}");
    let sent: Vec<String> = SCENARIO
        .iter()
        .filter_map(|op| match *op {
            Op::Append(_, name, n) | Op::AppendDeferred(_, name, n) => Some((name, n)),
            _ => None,
        })
        .flat_map(|(name, n)| (0..n).map(move |i| format!("{name}{i}")))
        .collect();
    assert!(names.iter().all(|s| sent.contains(s)), "{ctx}: a record that was never sent: {stored:?}");
}

#[test]
fn every_step_of_an_append_and_a_rollover_survives_a_crash_enospc_and_eio() {
    let template = template();
    let work = template.path().with_extension("run");
    let fresh = || {
        let _ = std::fs::remove_dir_all(&work);
        common::copy_tree(template.path(), &work);
    };
    fresh();
    let (acked, names, failed) = run(&work, None);
    assert!(!failed && acked.len() == 5, "the scenario runs clean without faults: {acked:?}");
    check(&work, &acked, None, "none");
    assert!(names.len() > 20, "the scenario takes {} steps: {names:?}", names.len());
    for (n, name) in names.iter().enumerate() {
        for fault in [Fault::Crash, Fault::NoSpace, Fault::Eio] {
            fresh();
            let at = Some((n as u64, fault));
            let (acked, _, failed) = run(&work, at);
            assert!(failed, "fault {fault:?} at step {n} (`{name}`) was not noticed");
            check(&work, &acked, at, name);
        }
    }
    let _ = std::fs::remove_dir_all(&work);
}
