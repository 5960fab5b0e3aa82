//! Unit tests of the writer: byte budget, early answers, ticks, the index's deferred sync, shutdown, torn batches.

use futures::FutureExt;

use super::*;

/// A handle whose queue we drain by hand, standing in for a writer that is busy.
fn handle(queue_bytes: usize) -> (WriterHandle, mpsc::Receiver<Msg>) {
    let (tx, rx) = mpsc::channel(1024);
    let limits = Limits { writer_queue_bytes: queue_bytes, ..Limits::default() };
    let budget = Arc::new(Semaphore::new(budget_total(queue_bytes)));
    let handle = WriterHandle {
        tx,
        closing: Arc::default(),
        limits,
        budget,
        ack: AckWhen::Durable,
        shared: None,
        queued: Arc::default(),
        batch_sync: true,
        clock: crate::clock::ManualClock::new(NOW),
        source: Default::default(),
    };
    (handle, rx)
}

fn batch(bytes: usize) -> Batch {
    vec![(1, Bytes::from(vec![0u8; bytes]))]
}

/// The clock of the writers below (2026-11-18).
const NOW: i64 = 1_795_000_000;

/// A writer on a fresh store under `batch`, on a [`FaultyVfs`](crate::store::faults::FaultyVfs).
fn faulty_writer() -> (tempfile::TempDir, crate::store::faults::FaultyVfs, WriterControl) {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = crate::store::faults::FaultyVfs::new();
    let opts =
        crate::store::StoreOptions { durability: Durability::Batch, vfs: Arc::new(vfs.clone()), ..Default::default() };
    let store = Store::open(tmp.path(), opts).unwrap();
    let clock = crate::clock::ManualClock::new(NOW);
    let control = WriterControl::spawn(store, clock, Limits::default(), 16, Duration::ZERO).unwrap();
    (tmp, vfs, control)
}

#[tokio::test]
async fn the_queue_holds_at_most_its_bytes() {
    let (writer, mut rx) = handle(1000);
    let _a = writer.submit(batch(600)).now_or_never().expect("room for 600 of 1000").unwrap();
    let _b = writer.submit(batch(400)).now_or_never().expect("room for 400 more").unwrap();
    let mut c = Box::pin(writer.submit(batch(1)));
    assert!(c.as_mut().now_or_never().is_none(), "a full queue must make the sender wait");
    // The writer takes the first batch and acknowledges it: its bytes free up.
    let Some(Msg::Append(Job { ack, .. })) = rx.recv().await else { panic!("the first batch was queued") };
    assert!(c.as_mut().now_or_never().is_none(), "taken, not yet written: still counted");
    let _ = ack.send(Ok(Ack::Duplicate(None)));
    c.await.unwrap();
}

/// With fsync failing, a batch that must be durable fails, while one answered at
/// "written" never waits for (or attempts) the fsync; the tick's later sync fails and
/// is only logged, and a durable batch after it still fails rather than pass unsynced.
#[tokio::test]
async fn written_batches_are_answered_without_the_fsync_durable_ones_are_not() {
    let (_tmp, vfs, control) = faulty_writer();
    let durable = control.handle();
    let written = durable.acknowledging(AckWhen::Written);
    durable.append(batch(10)).await.expect("a healthy disk");

    vfs.fail_syncs(true);
    let a = written.append(batch(10)).await.expect("answered once written, no fsync");
    assert_eq!((a.first_id, a.count), (1, 1));
    let err = durable.append(batch(10)).await.expect_err("a durable batch needs the fsync");
    assert_eq!(err.kind(), ErrorKind::Io);
    vfs.heal();
    let a = durable.append(batch(10)).await.expect("healed");
    assert_eq!(a.count, 1);
    control.shutdown().await;
}

/// Records answered before their fsync get it on the writer's next tick.
#[tokio::test]
async fn a_tick_syncs_what_was_answered_before_its_fsync() {
    let (_tmp, vfs, control) = faulty_writer();
    let durable = control.handle();
    durable.append(batch(10)).await.unwrap();
    let synced = vfs.syncs();
    durable.acknowledging(AckWhen::Written).append(batch(10)).await.unwrap();
    assert_eq!(vfs.syncs(), synced, "answered without a sync");
    durable.tick();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while vfs.syncs() == synced {
        assert!(std::time::Instant::now() < deadline, "the tick never synced the early-answered record");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    control.shutdown().await;
}

#[tokio::test]
async fn after_shutdown_nothing_is_appended_inline() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), Default::default()).unwrap();
    let control =
        WriterControl::spawn(store, crate::clock::ManualClock::new(NOW), Limits::default(), 16, Duration::ZERO)
            .unwrap();
    let written = control.handle().acknowledging(AckWhen::Written);
    written.append(batch(10)).await.unwrap();
    control.shutdown().await;
    let err = written.append(batch(10)).await.expect_err("the writer is gone");
    assert_eq!(err.kind(), ErrorKind::Closed);
    // The store was closed with the writer: another one can open the folder at once.
    Store::open(tmp.path(), Default::default()).expect("the writer released the store");
}

/// A crash (kill -9) can tear a group's index write so that a producer's batch is
/// only partly in the store. It was never acknowledged; the producer resends it whole.
/// The restarted writer must cut the half away, so the resend is stored once.
#[tokio::test]
async fn a_half_stored_batch_is_cut_and_its_resend_stored_once() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = || crate::store::StoreOptions { durability: Durability::Never, ..Default::default() };
    let clock = crate::clock::ManualClock::new(NOW);
    let today = crate::clock::Clock::today(clock.as_ref());
    let records: Batch = (0..10).map(|i| (7, Bytes::from(format!("record {i}")))).collect();
    let origin = Some(Origin::new("p-1", 1));

    let control = WriterControl::spawn(
        Store::open(tmp.path(), opts()).unwrap(),
        clock.clone(),
        Limits::default(),
        16,
        Duration::ZERO,
    )
    .unwrap();
    let h = control.handle();
    h.submit_from(None, vec![(1, Bytes::from_static(b"before"))]).await.unwrap().wait().await.unwrap();
    let first = h.submit_from(origin.clone(), records.clone()).await.unwrap().wait().await.unwrap();
    assert_eq!((first.first_id, first.count), (1, 10));
    control.shutdown().await;

    // The crash: the index write of the batch tore after 6 of its 10 entries.
    let index = tmp.path().join(today.folder_name()).join("index");
    std::fs::OpenOptions::new().write(true).open(&index).unwrap().set_len(7 * 12).unwrap();

    let store = Store::open(tmp.path(), opts()).unwrap();
    let control = WriterControl::spawn(store, clock, Limits::default(), 16, Duration::ZERO).unwrap();
    let resent = control.handle().submit_from(origin, records.clone()).await.unwrap().wait_ack().await.unwrap();
    assert_eq!(resent, Ack::Stored(Appended { date: today, first_id: 1, count: 10 }));
    control.shutdown().await;
    let got: Vec<Bytes> = crate::Reader::open(tmp.path()).unwrap().map(|r| r.unwrap().data).collect();
    let want: Vec<Bytes> =
        std::iter::once(Bytes::from_static(b"before")).chain(records.into_iter().map(|(_, d)| d)).collect();
    assert_eq!(got, want, "every record once, in order");
}

#[tokio::test]
async fn an_oversize_batch_waits_for_an_empty_queue_not_forever() {
    let (writer, mut rx) = handle(100);
    let _a = writer.submit(batch(10)).await.unwrap();
    let mut big = Box::pin(writer.submit(batch(5000)));
    assert!(big.as_mut().now_or_never().is_none());
    drop(rx.recv().await);
    big.await.unwrap();
}

/// Whether the index of `day` was synced at a step from `from` on.
fn index_synced_since(vfs: &crate::store::faults::FaultyVfs, from: u64, day: &str) -> bool {
    (from..vfs.steps()).any(|n| vfs.step_name(n) == format!("sync {day}/index"))
}

/// Waits (up to 10 s) until the index of `day` was synced at a step from `from` on.
async fn wait_index_synced(vfs: &crate::store::faults::FaultyVfs, from: u64, day: &str, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !index_synced_since(vfs, from, day) {
        assert!(std::time::Instant::now() < deadline, "{what}: the index was never synced");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Under `batch` a group's index entries are acknowledged before their sync (the journal
/// holds their index group); the writer syncs them on its next tick, and, under a steady
/// flow of groups with no tick, once they waited `INDEX_SYNC_AFTER`.
#[tokio::test]
async fn the_index_is_synced_after_the_acknowledgement_on_a_tick_or_once_due() {
    use crate::clock::Clock;
    let (_tmp, vfs, control) = faulty_writer();
    let day = crate::clock::ManualClock::new(NOW).today().to_string().replace('-', "");
    let writer = control.handle();
    // The first group opens the day (which syncs its new files); the next ones do not.
    writer.append(batch(10)).await.unwrap();
    writer.tick();
    wait_index_synced(&vfs, 0, &day, "the first tick").await;

    let from = vfs.steps();
    writer.append(batch(10)).await.unwrap();
    // A later group is taken after the loop that committed this one has ended.
    writer.append(batch(10)).await.unwrap();
    assert!(!index_synced_since(&vfs, from, &day), "the index was synced before the acknowledgement");
    writer.tick();
    wait_index_synced(&vfs, from, &day, "a tick").await;

    // No tick: the group that finds the entries waiting for INDEX_SYNC_AFTER syncs them.
    let from = vfs.steps();
    writer.append(batch(10)).await.unwrap();
    // The entries wait from their commit, before this acknowledgement.
    let waiting = std::time::Instant::now();
    while waiting.elapsed() < INDEX_SYNC_AFTER {
        tokio::time::sleep(INDEX_SYNC_AFTER - waiting.elapsed()).await;
    }
    assert!(!index_synced_since(&vfs, from, &day), "synced with no tick and nothing due");
    writer.append(batch(10)).await.unwrap();
    wait_index_synced(&vfs, from, &day, "a group after INDEX_SYNC_AFTER").await;
    control.shutdown().await;
}

/// The question goes through the writer's queue, behind the batches queued before it.
#[tokio::test]
async fn a_stored_seq_question_waits_behind_the_queued_batches() {
    let (writer, mut rx) = handle(1000);
    let _ack = writer.submit_from(Some(Origin::new("agent-1", 2)), batch(10)).now_or_never().unwrap().unwrap();
    let mut question = Box::pin(writer.stored_seq("agent-1"));
    assert!(question.as_mut().now_or_never().is_none(), "answered before the batch ahead of it was settled");
    let Some(Msg::Append(_job)) = rx.recv().await else { panic!("the batch comes first") };
    let Some(Msg::Settled(settled)) = rx.recv().await else { panic!("then the question") };
    assert!(question.as_mut().now_or_never().is_none(), "answered before the writer settled the batch");
    settled.send(()).unwrap();
    assert_eq!(question.await.unwrap(), None, "a handle without a writer knows no producer");
}

/// A producer restarted right after a crash asks for its stored seq while its last batches
/// may still wait in the writer's queue: the answer counts them, or it would resume before
/// them and send their records again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The guard is the writer's own lock, held on purpose: the writer's thread waits on it.
#[allow(clippy::await_holding_lock)]
async fn the_stored_seq_counts_the_batches_queued_before_the_question() {
    let (_tmp, _vfs, control) = faulty_writer();
    let writer = control.handle();
    writer.submit_from(Some(Origin::new("agent-1", 1)), batch(10)).await.unwrap().wait_ack().await.unwrap();
    let shared = writer.shared.clone().unwrap();
    // The writer is busy (we hold its lock, and it has taken another batch to commit under
    // it): batch 2 waits in the queue, and so does the question asked after it.
    let busy = shared.lock().unwrap();
    let other = writer.submit_from(Some(Origin::new("other", 1)), batch(10)).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while writer.tx.capacity() < writer.tx.max_capacity() {
        assert!(std::time::Instant::now() < deadline, "the writer never took the other batch");
        tokio::task::yield_now().await;
    }
    let mut queued = writer.submit_from(Some(Origin::new("agent-1", 2)), batch(10)).await.unwrap();
    let asking = writer.clone();
    let question = tokio::spawn(async move { asking.stored_seq("agent-1").await });
    drop(busy);
    // The writer answers only once batch 2 is settled: its ack was sent before.
    writer.settled().await.unwrap();
    assert!(queued.try_ack().is_some_and(|a| a.is_ok()), "settled before batch 2 was answered");
    let seq = question.await.unwrap().unwrap();
    assert_eq!(seq, Some(2), "batch 2, queued before the question, is counted");
    other.wait_ack().await.unwrap();
    assert_eq!(writer.stored_seq("nobody").await.unwrap(), None);
    control.shutdown().await;
    let err = writer.stored_seq("agent-1").await.expect_err("the writer has stopped");
    assert_eq!(err.kind(), ErrorKind::Closed, "not \"nothing stored\": {err}");
}
