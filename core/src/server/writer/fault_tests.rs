//! A fault at every step of the server's write path: the ingest journal, the data, the
//! index, their syncs, a day rollover (`finish`, the new day's folder). Crash, `ENOSPC`
//! and `EIO` at each step, and a power loss before each; a producer resends what was not
//! acknowledged with its seq, as the SDK does (after a crash, to a writer restarted on
//! the same folder). Every batch must end up stored exactly once, where its
//! acknowledgement said, and the store must verify clean.

use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::clock::ManualClock;
use crate::store::StoreOptions;
use crate::store::faults::{Fault, FaultyVfs};
use crate::store::io::StdVfs;
use crate::store::power_loss::PowerLossVfs;

const START: i64 = 1_795_000_000;
/// (records, whether the clock moves to the next day before it)
const BATCHES: &[(usize, bool)] = &[(3, false), (2, false), (2, true), (1, false)];

fn records(seq: usize, n: usize) -> Batch {
    (0..n).map(|i| (5, Bytes::from(format!("b{seq}r{i}")))).collect()
}

fn spawn(dir: &std::path::Path, vfs: Arc<dyn crate::store::io::Vfs>, clock: &Arc<ManualClock>) -> WriterControl {
    let opts = StoreOptions { durability: Durability::Batch, vfs, ..Default::default() };
    let store = Store::open(dir, opts).expect("open the store");
    WriterControl::spawn(store, clock.clone(), Limits::default(), 16, Duration::ZERO).expect("spawn the writer")
}

/// Runs the batches with `fault` at an occurrence of a step (`at`: its name and which
/// one, from 0: the journal's sync runs on its own thread, so its place among the steps
/// of the data varies); returns each batch's acknowledged range, the names of the steps
/// taken, and whether the fault was injected.
/// With `crash_after`, the process also dies that many steps after the fault.
async fn run(
    dir: &std::path::Path,
    at: Option<(&str, u64, Fault)>,
    crash_after: Option<u64>,
) -> (Vec<Appended>, Vec<String>, bool) {
    let vfs = FaultyVfs::new();
    let clock = ManualClock::new(START);
    let control = spawn(dir, Arc::new(vfs.clone()), &clock);
    let base = vfs.steps();
    if let Some((name, occurrence, fault)) = at {
        vfs.fail_named(name, occurrence, fault);
    }
    if let Some(k) = crash_after {
        vfs.crash_after_fault(k);
    }
    let (mut failed, mut crashed) = (false, false);
    let (acks, control) = produce(control, &clock, async |control, _| {
        failed = true;
        if vfs.crashed() && !crashed {
            // The process died: the SDK reconnects to the restarted server.
            crashed = true;
            control.shutdown().await;
            spawn(dir, Arc::new(StdVfs), &clock)
        } else {
            vfs.heal();
            control
        }
    })
    .await;
    let names = (base..vfs.steps()).map(|n| vfs.step_name(n)).collect();
    control.shutdown().await;
    // A failed rollover sync fails no batch (the writer retries `finish` itself).
    assert!(failed || !vfs.crashed(), "a crash fails the batch in flight");
    (acks, names, vfs.fired())
}

/// Sends [`BATCHES`] in order as one producer (its id and seqs, as the SDK tags them),
/// moving the clock to the next day where a batch says so. A batch that fails is resent
/// after `on_error` (which may restart the writer: it returns the one to go on with), at
/// most three times. Returns each batch's acknowledged range.
async fn produce(
    mut control: WriterControl,
    clock: &ManualClock,
    mut on_error: impl AsyncFnMut(WriterControl, Error) -> WriterControl,
) -> (Vec<Appended>, WriterControl) {
    let mut acks = Vec::new();
    for (seq, &(n, next_day)) in BATCHES.iter().enumerate() {
        if next_day {
            clock.advance(86_400);
        }
        let origin = Some(Origin::new("producer-1", seq as u64 + 1));
        for attempt in 0..3 {
            let ack = control.handle().submit_from(origin.clone(), records(seq, n)).await.unwrap().wait_ack().await;
            match ack {
                Ok(Ack::Stored(a) | Ack::Duplicate(Some(a))) => {
                    acks.push(a);
                    break;
                }
                Ok(Ack::Duplicate(None)) => panic!("batch {seq}: a resend of the last batch must get its range"),
                Err(e) => {
                    assert!(attempt < 2, "batch {seq} failed again after the fault was gone: {e}");
                    control = on_error(control, e).await;
                }
            }
        }
    }
    (acks, control)
}

fn check(dir: &std::path::Path, acks: &[Appended], ctx: &str) {
    for report in crate::store::verify::verify_store(&StdVfs, dir).unwrap() {
        assert_eq!(report.problem, None, "{ctx}: day {} does not verify", report.date);
    }
    let stored: Vec<_> = crate::Reader::open(dir).unwrap().map(|r| r.unwrap()).collect();
    let want: usize = BATCHES.iter().map(|b| b.0).sum();
    assert_eq!(stored.len(), want, "{ctx}: every batch exactly once: {stored:?}");
    for (seq, a) in acks.iter().enumerate() {
        let got: Vec<_> = stored
            .iter()
            .filter(|r| r.date == a.date && (a.first_id..a.first_id + a.count).contains(&r.id))
            .map(|r| r.data.clone())
            .collect();
        let sent: Vec<_> = records(seq, BATCHES[seq].0).into_iter().map(|(_, d)| d).collect();
        assert_eq!(got, sent, "{ctx}: batch {seq} is not where its ack {a:?} said");
    }
}

/// A folder for one run. Steps are named by the last two parts of their path: one folder
/// name for every run.
fn fresh() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run").join("store");
    (tmp, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_of_the_write_path_survives_a_crash_enospc_and_eio() {
    let (_tmp, dir) = fresh();
    let (acks, names, _) = run(&dir, None, None).await;
    assert_eq!(acks.len(), BATCHES.len());
    check(&dir, &acks, "no fault");
    assert!(names.iter().any(|n| n.contains("journal")), "the journal is written through the Vfs: {names:?}");
    assert!(names.iter().any(|n| n.contains("finish")), "the day rollover is in the steps: {names:?}");
    for (n, name) in names.iter().enumerate() {
        let occurrence = names[..n].iter().filter(|earlier| *earlier == name).count() as u64;
        for fault in [Fault::Crash, Fault::NoSpace, Fault::Eio] {
            let (_tmp, dir) = fresh();
            let (acks, _, fired) = run(&dir, Some((name, occurrence, fault)), None).await;
            let ctx = format!("{fault:?} at `{name}` #{occurrence} (step {n})");
            assert!(fired, "{ctx}: the step was never reached");
            check(&dir, &acks, &ctx);
        }
    }
}

/// A group fails with part of it in the files (`ENOSPC` in its index write, which then
/// holds half its entries), and the process dies `k` steps later, for every `k` up to
/// past the resend: before the store cut the batch back, while it did, before the journal
/// took the batch's entry back, after. The journal may let the entry go only once the
/// store no longer holds the batch: a restart in between keeps records no entry claims,
/// and the resend stores them a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_step_after_a_failed_group_stores_its_resend_once() {
    let (_tmp, dir) = fresh();
    let (_, names, _) = run(&dir, None, None).await;
    let index_writes: Vec<&String> =
        names.iter().filter(|n| n.starts_with("write ") && n.ends_with("/index")).collect();
    // The second batch's index write: the first batch's is occurrence 0.
    let name = index_writes[1].clone();
    assert_eq!(index_writes[0], &name, "both batches of the first day: {names:?}");
    for k in 0..16 {
        let (_tmp, dir) = fresh();
        let (acks, _, fired) = run(&dir, Some((&name, 1, Fault::NoSpace)), Some(k)).await;
        let ctx = format!("ENOSPC at `{name}` #1, a crash {k} steps later");
        assert!(fired, "{ctx}: the step was never reached");
        check(&dir, &acks, &ctx);
    }
}

/// A producer pipelines batches: while the group holding seq 2 fails (a full disk), seq 3
/// is already queued. It must not be stored before 2 is resent, or the resend of 2 would
/// pass for a duplicate and never be stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_queued_behind_a_failed_one_waits_for_its_resend() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = FaultyVfs::new();
    let clock = ManualClock::new(START);
    let control = spawn(tmp.path(), Arc::new(vfs.clone()), &clock);
    let h = control.handle();
    let origin = |seq| Some(Origin::new("pipelined", seq));
    let send = |seq: u64| h.submit_from(origin(seq), records(seq as usize, 2));
    send(1).await.unwrap().wait_ack().await.expect("a healthy disk");

    vfs.fail_step(vfs.steps(), Fault::NoSpace);
    let err = send(2).await.unwrap().wait_ack().await.expect_err("the disk is full");
    assert_eq!(err.kind(), ErrorKind::NoSpace, "{err}");
    vfs.heal();
    let err = send(3).await.unwrap().wait_ack().await.expect_err("3 must wait for 2");
    assert_eq!(err.kind(), ErrorKind::NoSpace, "the failure's own kind: {err}");
    assert!(err.message().contains("batch 2"), "{err}");

    // The producer resends from 2, in order.
    for seq in 2..=3 {
        match send(seq).await.unwrap().wait_ack().await.unwrap() {
            Ack::Stored(a) => assert_eq!(a.count, 2),
            other => panic!("resent batch {seq} must be stored, got {other:?}"),
        }
    }
    control.shutdown().await;
    assert_batches_once(tmp.path(), 3);
}

/// The store under `dir` holds batches 1 to `last` of two records each, once, in order.
fn assert_batches_once(dir: &std::path::Path, last: usize) {
    let got: Vec<_> = crate::Reader::open(dir).unwrap().map(|r| r.unwrap().data).collect();
    let want: Vec<_> = (1..=last).flat_map(|s| records(s, 2)).map(|(_, d)| d).collect();
    assert_eq!(got, want, "every batch once, in order");
}

/// The resend of a failed batch comes on a new stream while the old one (half-open, its
/// last packets late) still delivers a later batch: stored then, it would make the resend
/// of the batch between them look like a duplicate, acknowledged and never stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_batch_of_the_old_stream_cannot_overtake_the_resend() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = FaultyVfs::new();
    let clock = ManualClock::new(START);
    let control = spawn(tmp.path(), Arc::new(vfs.clone()), &clock);
    let h = control.handle();
    let send =
        |stream: u64, seq: u64| h.submit_from(Some(Origin::new("p", seq).on_stream(stream)), records(seq as usize, 2));
    send(1, 1).await.unwrap().wait_ack().await.expect("a healthy disk");
    vfs.fail_step(vfs.steps(), Fault::NoSpace);
    send(1, 2).await.unwrap().wait_ack().await.expect_err("the disk is full");
    vfs.heal();
    send(1, 3).await.unwrap().wait_ack().await.expect_err("3 waits for 2");

    // The producer reconnected (stream 2) and resends from 2; batch 4 of stream 1 arrives
    // after the resend of 2.
    assert!(matches!(send(2, 2).await.unwrap().wait_ack().await.unwrap(), Ack::Stored(_)));
    let err = send(1, 4).await.unwrap().wait_ack().await.expect_err("the old stream is superseded");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    for seq in 3..=4 {
        match send(2, seq).await.unwrap().wait_ack().await.unwrap() {
            Ack::Stored(a) => assert_eq!(a.count, 2),
            other => panic!("resent batch {seq} must be stored, got {other:?}"),
        }
    }
    control.shutdown().await;
    assert_batches_once(tmp.path(), 4);
}

/// Runs the batches until the power goes before step `at` (with the seed choosing what
/// the disk kept), then restarts the writer on what is left and resends what was not
/// acknowledged; returns each batch's acknowledged range and the steps of the run.
async fn run_to_power_loss(dir: &std::path::Path, at: Option<(u64, u64)>) -> (Vec<Appended>, u64) {
    let vfs = PowerLossVfs::new();
    let clock = ManualClock::new(START);
    let control = spawn(dir, Arc::new(vfs.clone()), &clock);
    let base = vfs.steps();
    if let Some((n, seed)) = at {
        vfs.lose_power_at(base + n, seed);
    }
    let mut restarted = false;
    let (acks, control) = produce(control, &clock, async |control, e| {
        assert!(vfs.is_off() && !restarted, "a batch failed with the power on: {e}");
        restarted = true;
        control.shutdown().await;
        spawn(dir, Arc::new(StdVfs), &clock)
    })
    .await;
    control.shutdown().await;
    let steps = vfs.steps() - base;
    assert!(at.is_none() || vfs.is_off(), "the power went at {at:?}");
    // The power may have gone after the last acknowledgement (in the final sync): the
    // next start recovers what the disk kept.
    spawn(dir, Arc::new(StdVfs), &clock).shutdown().await;
    (acks, steps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_loss_at_any_step_loses_no_acknowledged_batch_and_stores_none_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let (acks, steps) = run_to_power_loss(&tmp.path().join("clean"), None).await;
    assert_eq!(acks.len(), BATCHES.len());
    check(&tmp.path().join("clean"), &acks, "no power loss");
    for n in 0..steps {
        for seed in 0..4 {
            let dir = tmp.path().join(format!("{n}-{seed}"));
            let (acks, _) = run_to_power_loss(&dir, Some((n, seed))).await;
            check(&dir, &acks, &format!("power lost before step {n}, seed {seed}"));
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
