//! The one writer: a dedicated thread that owns the [`Store`] and appends every batch.
//!
//! Ingest handlers (and embedders, through [`WriterHandle`]) queue batches on a bounded
//! channel. The writer thread takes everything pending at once (group commit: all the
//! queued batches go into one [`Store::append`] call, so one data write, one index write
//! and, under `Durability::Batch`, one pair of `fdatasync`s), stamps the records with the
//! clock's time and files them under the clock's day. Only after `append` returned does
//! it acknowledge each batch with its own `(date, first_id, count)`.
//!
//! Day rollover: before the first append of a new day, and on a periodic tick when idle,
//! the previous day gets its `finish` marker. At start every past day without `finish`
//! gets one; days that never existed are never created.
//!
//! Exactly-once for producers: a batch queued with an [`Origin`] (producer id and seq) whose
//! seq is not above the last one stored for that producer is not appended again; it is
//! acknowledged as [`Ack::Duplicate`]. The table lives in the [`Journal`], whose entries
//! for a group are written before the group's data (see [`super::dedup`]).
//!
//! The thread blocks on file I/O, so it is a plain `std::thread`, never a tokio worker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::ack::AckWhen;
use super::dedup::{Entry, Journal};
use super::limits::Limits;
use crate::clock::SharedClock;
use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};
use crate::store::{Appended, Durability, NewRecord, Store};

/// A batch of records as queued for the writer: `(type, payload)`.
pub type Batch = Vec<(i16, Bytes)>;

/// Most records and bytes appended by one `Store::append` call (larger backlogs take several).
const GROUP_MAX_RECORDS: usize = 100_000;
const GROUP_MAX_BYTES: usize = 64 << 20;

/// Who sent a batch, for deduplication: the producer's id and the batch's seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub producer: String,
    pub seq: u64,
}

/// The fate of a queued batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Appended now, here.
    Stored(Appended),
    /// Stored before (same producer, seq not above its last stored one) and not again.
    /// `Some`: the producer's last stored batch, with its original range; `None`: an older
    /// one, whose range is no longer known.
    Duplicate(Option<Appended>),
}

/// Where a batch's acknowledgement goes; holds the batch's share of the writer's byte
/// budget until the batch is written (or refused).
pub(crate) struct AckTx {
    tx: oneshot::Sender<Result<Ack>>,
    when: AckWhen,
    _budget: Option<OwnedSemaphorePermit>,
}

impl AckTx {
    fn send(self, ack: Result<Ack>) -> std::result::Result<(), Result<Ack>> {
        self.tx.send(ack)
    }
}

pub(crate) enum Msg {
    Append(Batch, Option<Origin>, AckTx),
    /// Look at the clock: finish the open day if the date moved on.
    Tick,
    Shutdown(oneshot::Sender<()>),
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the server is stopping")
}

/// Queues batches for the writer. Cheap to clone; every clone feeds the same writer.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Msg>,
    closing: Arc<AtomicBool>,
    limits: Limits,
    /// Payload bytes the queue may still take ([`Limits::writer_queue_bytes`] in all).
    budget: Arc<Semaphore>,
    /// When this handle's batches are acknowledged.
    ack: AckWhen,
    /// The writer's state, for appending on the caller's thread when it is idle (`None`
    /// in tests that stand in for the writer).
    shared: Option<Arc<Mutex<Writer>>>,
}

/// A queued batch whose acknowledgement has not been awaited yet.
#[derive(Debug)]
pub struct PendingAck(oneshot::Receiver<Result<Ack>>);

impl PendingAck {
    /// Waits until the batch is in the store (synced per the durability policy).
    /// A duplicate whose original range is unknown is a `Conflict` here: use
    /// [`wait_ack`](PendingAck::wait_ack) for batches queued with an [`Origin`].
    pub async fn wait(self) -> Result<Appended> {
        match self.wait_ack().await? {
            Ack::Stored(a) | Ack::Duplicate(Some(a)) => Ok(a),
            Ack::Duplicate(None) => Err(Error::new(ErrorKind::Conflict, "the batch was stored before")),
        }
    }

    /// Waits until the batch is in the store, or found to be there already.
    pub async fn wait_ack(self) -> Result<Ack> {
        self.0.await.unwrap_or_else(|_| Err(closed()))
    }
}

impl WriterHandle {
    /// Appends a batch and returns where it landed, once it is in the store. Checks the
    /// [`Limits`] first (`TooLarge`, nothing stored); `Closed` once shutdown began.
    pub async fn append(&self, records: Batch) -> Result<Appended> {
        self.limits.check_batch(&records)?;
        let records = match self.append_inline(records) {
            Ok(done) => return done,
            Err(records) => records,
        };
        self.submit(records).await?.wait().await
    }

    /// Appends on the caller's thread, skipping the two thread wake-ups of the queue
    /// (most of the cost of a one-record call, the original SDK's pattern), when that
    /// cannot change what anyone sees: the queue is empty, the writer thread is not
    /// working, and the answer needs no fsync (this handle acknowledges at
    /// [`AckWhen::Written`], or the store does not sync per batch). Gives the batch back
    /// otherwise. Takes no lock it would have to wait for: a busy writer means "queue it".
    fn append_inline(&self, records: Batch) -> std::result::Result<Result<Appended>, Batch> {
        let idle = self.tx.capacity() == self.tx.max_capacity() && !self.is_closed();
        let shared = match &self.shared {
            Some(shared) if idle => shared,
            _ => return Err(records),
        };
        let Ok(mut writer) = shared.try_lock() else { return Err(records) };
        if self.ack != AckWhen::Written && writer.store.durability() == Durability::Batch {
            return Err(records);
        }
        let (tx, mut rx) = oneshot::channel();
        let mut jobs = vec![(records, None, AckTx { tx, when: self.ack, _budget: None })];
        let today = writer.clock.today();
        writer.rollover(today);
        writer.commit(&mut jobs, today);
        drop(writer);
        Ok(match rx.try_recv() {
            Ok(ack) => ack.and_then(|ack| match ack {
                Ack::Stored(a) | Ack::Duplicate(Some(a)) => Ok(a),
                Ack::Duplicate(None) => Err(Error::new(ErrorKind::Conflict, "the batch was stored before")),
            }),
            Err(_) => Err(closed()),
        })
    }

    /// Queues a batch (waiting for queue space) without waiting for it to be written;
    /// batches are written in the order they were queued.
    pub async fn submit(&self, records: Batch) -> Result<PendingAck> {
        self.submit_from(None, records).await
    }

    /// [`submit`](WriterHandle::submit) with the batch's [`Origin`]: a batch of that
    /// producer with a seq not above the last stored one is acknowledged as
    /// [`Ack::Duplicate`] instead of being stored again.
    pub async fn submit_from(&self, origin: Option<Origin>, records: Batch) -> Result<PendingAck> {
        self.limits.check_batch(&records)?;
        if let Some(o) = &origin {
            super::dedup::check_producer_id(&o.producer)?;
        }
        if self.is_closed() {
            return Err(closed());
        }
        let bytes: usize = records.iter().map(|(_, d)| d.len()).sum();
        let budget = self
            .budget
            .clone()
            .acquire_many_owned(budget_permits(bytes, self.limits.writer_queue_bytes))
            .await
            .map_err(|_| closed())?;
        let (tx, rx) = oneshot::channel();
        let ack = AckTx { tx, when: self.ack, _budget: Some(budget) };
        self.tx.send(Msg::Append(records, origin, ack)).await.map_err(|_| closed())?;
        Ok(PendingAck(rx))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A handle to the same writer whose batches are acknowledged at `when`.
    pub fn acknowledging(&self, when: AckWhen) -> WriterHandle {
        WriterHandle { ack: when, ..self.clone() }
    }

    pub fn is_closed(&self) -> bool {
        self.closing.load(Ordering::SeqCst) || self.tx.is_closed()
    }

    /// Asks the writer to look at the clock (finish the open day after midnight).
    pub(crate) fn tick(&self) {
        let _ = self.tx.try_send(Msg::Tick);
    }
}

/// The permits (bytes) a batch of `bytes` takes from a budget of `total`: at least one,
/// so empty batches queue in order too, and at most all of it, so an oversize batch waits
/// for an empty queue instead of forever.
fn budget_permits(bytes: usize, total: usize) -> u32 {
    bytes.clamp(1, budget_total(total)) as u32
}

fn budget_total(total: usize) -> usize {
    total.clamp(1, u32::MAX as usize)
}

/// The running writer thread, for the server to stop it.
pub(crate) struct WriterControl {
    handle: WriterHandle,
    thread: Option<JoinHandle<()>>,
}

impl WriterControl {
    /// Spawns the writer thread on an open store: finishes past days, then serves the queue.
    pub(crate) fn spawn(mut store: Store, clock: SharedClock, limits: Limits, capacity: usize) -> Result<Self> {
        let today = clock.today();
        let mut open_day = None;
        for date in store.days()? {
            if date < today && !store.is_finished(date) {
                tracing::info!(%date, "finishing a past day left open");
                store.finish(date)?;
            } else if date >= today && !store.is_finished(date) {
                open_day = Some(date);
            }
        }
        let (journal, report) = Journal::open(store.vfs(), store.root(), store.durability(), |date| store.count(date))?;
        tracing::debug!(?report, file = %journal.path().display(), "ingest journal loaded");
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let budget = Arc::new(Semaphore::new(budget_total(limits.writer_queue_bytes)));
        let writer = Writer {
            store,
            journal,
            clock,
            open_day,
            pending_finish: Vec::new(),
            warned_backwards: false,
            deferred: false,
        };
        let shared = Arc::new(Mutex::new(writer));
        let handle = WriterHandle {
            tx,
            closing: Arc::default(),
            limits,
            budget,
            ack: AckWhen::Durable,
            shared: Some(shared.clone()),
        };
        let thread = std::thread::Builder::new()
            .name("modsynclog-writer".into())
            .spawn(move || run(&shared, rx))
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the writer thread: {e}")))?;
        Ok(WriterControl { handle, thread: Some(thread) })
    }

    pub(crate) fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Stops accepting, writes and acknowledges everything queued, syncs, joins the thread.
    pub(crate) async fn shutdown(mut self) {
        self.handle.closing.store(true, Ordering::SeqCst);
        let (done_tx, done_rx) = oneshot::channel();
        if self.handle.tx.send(Msg::Shutdown(done_tx)).await.is_ok() {
            let _ = done_rx.await;
        }
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for WriterControl {
    /// Without an orderly [`shutdown`](WriterControl::shutdown): still writes what was
    /// queued, then joins the thread (blocking briefly).
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        self.handle.closing.store(true, Ordering::SeqCst);
        let (done_tx, _done_rx) = oneshot::channel();
        let mut msg = Msg::Shutdown(done_tx);
        loop {
            match self.handle.tx.try_send(msg) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Full(back)) => {
                    msg = back;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(mpsc::error::TrySendError::Closed(_)) => break,
            }
        }
        let _ = thread.join();
    }
}

struct Writer {
    store: Store,
    journal: Journal,
    clock: SharedClock,
    /// The latest day that exists and is not finished.
    open_day: Option<Date>,
    /// Past days whose `finish` could not be written yet (an I/O error); retried every loop.
    pending_finish: Vec<Date>,
    warned_backwards: bool,
    /// Records were appended without their sync ([`AckWhen::Written`] groups); the next
    /// tick syncs them.
    deferred: bool,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("store", &self.store).field("open_day", &self.open_day).finish_non_exhaustive()
    }
}

type Job = (Batch, Option<Origin>, AckTx);

/// What a job of a group comes to.
enum Plan {
    Store(Appended),
    Duplicate(Option<Appended>),
}

/// The writer thread: takes everything queued, then appends it as one group under the
/// writer's lock (which the inline path of [`WriterHandle::append`] only ever tries).
fn run(shared: &Mutex<Writer>, mut rx: mpsc::Receiver<Msg>) {
    let mut jobs: Vec<Job> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let (mut shutdown, mut ticked) = (None, false);
        let (mut records, mut bytes) = (0usize, 0usize);
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Append(batch, origin, ack) => {
                    records += batch.len();
                    bytes += batch.iter().map(|(_, d)| d.len()).sum::<usize>();
                    jobs.push((batch, origin, ack));
                }
                Msg::Tick => ticked = true,
                Msg::Shutdown(done) => shutdown = Some(done),
            }
            if shutdown.is_none() && records < GROUP_MAX_RECORDS && bytes < GROUP_MAX_BYTES {
                next = rx.try_recv().ok();
            }
        }
        // One reading of the clock for both: read twice, a midnight falling between them
        // would append to the new day without finishing the old one.
        let mut w = shared.lock().unwrap_or_else(|p| p.into_inner());
        let today = w.clock.today();
        w.rollover(today);
        w.commit(&mut jobs, today);
        if ticked && w.deferred {
            w.deferred = false;
            if let Err(e) = w.store.sync() {
                tracing::error!(error = %e, "sync of early-acknowledged records failed");
            }
        }
        if let Err(e) = w.journal.sync_if_due(false) {
            tracing::error!(error = %e, "ingest journal sync failed");
        }
        drop(w);
        if let Some(done) = shutdown {
            // Refuse new batches; whatever made it into the queue is still written.
            rx.close();
            while let Some(msg) = rx.blocking_recv() {
                match msg {
                    Msg::Append(batch, origin, ack) => jobs.push((batch, origin, ack)),
                    Msg::Tick => {}
                    Msg::Shutdown(other) => {
                        let _ = other.send(());
                    }
                }
            }
            let mut w = shared.lock().unwrap_or_else(|p| p.into_inner());
            let today = w.clock.today();
            w.rollover(today);
            w.commit(&mut jobs, today);
            if let Err(e) = w.store.sync() {
                tracing::error!(error = %e, "final sync failed");
            }
            if let Err(e) = w.journal.sync_if_due(true) {
                tracing::error!(error = %e, "final ingest journal sync failed");
            }
            let _ = done.send(());
            return;
        }
    }
}

impl Writer {
    /// Finishes the open day when the clock has moved past it (retrying until it works).
    fn rollover(&mut self, today: Date) {
        if let Some(day) = self.open_day
            && day < today
        {
            tracing::info!(%day, %today, "day rollover: finishing the previous day");
            self.pending_finish.push(day);
            self.open_day = None;
        }
        for day in std::mem::take(&mut self.pending_finish) {
            if let Err(e) = self.store.finish(day) {
                tracing::error!(%day, error = %e, "cannot mark the previous day finished; will retry");
                self.pending_finish.push(day);
            }
        }
    }

    /// Appends every job with one store call and acknowledges each with its own range.
    fn commit(&mut self, jobs: &mut Vec<Job>, today: Date) {
        if jobs.is_empty() {
            return;
        }
        let date = match self.open_day {
            // The clock went backwards: keep filing under the newest day rather than
            // reopening a day that may already be finished.
            Some(day) if day > today => {
                if !self.warned_backwards {
                    tracing::warn!(%day, %today, "the clock is behind the open day; records go to the open day");
                    self.warned_backwards = true;
                }
                day
            }
            _ => today,
        };
        let now = self.clock.unix_seconds();
        let time = i32::try_from(now).unwrap_or(if now < 0 { i32::MIN } else { i32::MAX });
        let fail = |jobs: &mut Vec<Job>, e: &Error| {
            for (_, _, ack) in jobs.drain(..) {
                let _ = ack.send(Err(Error::new(e.kind(), e.message().to_string())));
            }
        };

        // Where the day ends now (opening the day runs its recovery, so this is exact).
        let needs_store = jobs.iter().any(|(_, origin, _)| match origin {
            None => true,
            Some(o) => self.journal.last(&o.producer).is_none_or(|(seq, _)| o.seq > seq),
        });
        let mut next_id = 0;
        if needs_store {
            match self.store.append(date, &[]) {
                Ok(a) => next_id = a.first_id,
                Err(e) => {
                    tracing::error!(%date, error = %e, "cannot open the day");
                    return fail(jobs, &e);
                }
            }
        }
        let first_id = next_id;

        // Decide, job by job (in queue order), what is stored and what is a resend.
        let mut plans = Vec::with_capacity(jobs.len());
        let mut entries = Vec::new();
        let (mut dup_batches, mut dup_records) = (0u64, 0u64);
        {
            let mut in_group: HashMap<&str, (u64, Appended)> = HashMap::new();
            for (batch, origin, _) in jobs.iter() {
                let count = batch.len() as u64;
                if let Some(o) = origin {
                    let last = in_group.get(o.producer.as_str()).copied().or_else(|| self.journal.last(&o.producer));
                    if let Some((seq, ack)) = last
                        && o.seq <= seq
                    {
                        plans.push(Plan::Duplicate((o.seq == seq).then_some(ack)));
                        dup_batches += 1;
                        dup_records += count;
                        continue;
                    }
                    let ack = Appended { date, first_id: next_id, count };
                    in_group.insert(o.producer.as_str(), (o.seq, ack));
                    entries.push(Entry { producer: o.producer.clone(), seq: o.seq, date, first_id: next_id, count });
                }
                plans.push(Plan::Store(Appended { date, first_id: next_id, count }));
                next_id += count;
            }
        }
        if dup_batches > 0 {
            tracing::info!(
                dup_batches,
                dup_records,
                "resent batches were stored before; acknowledged, not stored again"
            );
        }

        // The journal first, then the records.
        if let Err(e) = self.journal.write(&entries) {
            tracing::error!(error = %e, "cannot write the ingest journal");
            return fail(jobs, &e);
        }
        let records: Vec<NewRecord<'_>> = jobs
            .iter()
            .zip(&plans)
            .filter(|(_, plan)| matches!(plan, Plan::Store(_)))
            .flat_map(|((batch, _, _), _)| {
                batch.iter().map(|(ty, data)| NewRecord { time, ty: *ty, data: data.as_ref() })
            })
            .collect();
        // A group whose every batch may be answered once written skips the fsync (the
        // next durable group or tick syncs it first).
        let defer =
            self.store.durability() == Durability::Batch && jobs.iter().all(|(_, _, ack)| ack.when == AckWhen::Written);
        let result = if records.is_empty() {
            Ok(Appended { date, first_id, count: 0 })
        } else if defer {
            self.store.append_deferred(date, &records)
        } else {
            self.store.append(date, &records)
        };
        if !records.is_empty() {
            // A synced append synced every deferred record before it.
            self.deferred = defer || (self.deferred && result.is_err());
        }
        drop(records);
        let result = result.and_then(|a| {
            if a.first_id == first_id {
                Ok(a)
            } else {
                Err(Error::new(
                    ErrorKind::Io,
                    format!("day {date}: expected to append at {first_id}, got {}", a.first_id),
                ))
            }
        });
        match result {
            Ok(_) => {
                if needs_store {
                    self.open_day = Some(date);
                }
                self.journal.confirm(entries);
                for ((_, _, ack), plan) in jobs.drain(..).zip(plans) {
                    let _ = ack.send(Ok(match plan {
                        Plan::Store(a) => Ack::Stored(a),
                        Plan::Duplicate(a) => Ack::Duplicate(a),
                    }));
                }
            }
            Err(e) => {
                tracing::error!(%date, error = %e, "append failed");
                self.journal.abort();
                fail(jobs, &e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    /// A handle whose queue we drain by hand, standing in for a writer that is busy.
    fn handle(queue_bytes: usize) -> (WriterHandle, mpsc::Receiver<Msg>) {
        let (tx, rx) = mpsc::channel(1024);
        let limits = Limits { writer_queue_bytes: queue_bytes, ..Limits::default() };
        let budget = Arc::new(Semaphore::new(budget_total(queue_bytes)));
        (WriterHandle { tx, closing: Arc::default(), limits, budget, ack: AckWhen::Durable, shared: None }, rx)
    }

    fn batch(bytes: usize) -> Batch {
        vec![(1, Bytes::from(vec![0u8; bytes]))]
    }

    #[tokio::test]
    async fn the_queue_holds_at_most_its_bytes() {
        let (writer, mut rx) = handle(1000);
        let _a = writer.submit(batch(600)).now_or_never().expect("room for 600 of 1000").unwrap();
        let _b = writer.submit(batch(400)).now_or_never().expect("room for 400 more").unwrap();
        let mut c = Box::pin(writer.submit(batch(1)));
        assert!(c.as_mut().now_or_never().is_none(), "a full queue must make the sender wait");
        // The writer takes the first batch and acknowledges it: its bytes free up.
        let Some(Msg::Append(_, _, ack)) = rx.recv().await else { panic!("the first batch was queued") };
        assert!(c.as_mut().now_or_never().is_none(), "taken, not yet written: still counted");
        let _ = ack.send(Ok(Ack::Duplicate(None)));
        c.await.unwrap();
    }

    /// With fsync failing, a batch that must be durable fails, while one answered at
    /// "written" never waits for (or attempts) the fsync; the tick's later sync fails and
    /// is only logged, and a durable batch after it still fails rather than pass unsynced.
    #[tokio::test]
    async fn written_batches_are_answered_without_the_fsync_durable_ones_are_not() {
        use crate::store::StoreOptions;
        use crate::store::faults::FaultyVfs;
        let tmp = tempfile::tempdir().unwrap();
        let vfs = FaultyVfs::new();
        let opts = StoreOptions { durability: Durability::Batch, vfs: Arc::new(vfs.clone()) };
        let store = Store::open(tmp.path(), opts).unwrap();
        let clock = crate::clock::ManualClock::new(1_795_000_000);
        let control = WriterControl::spawn(store, clock, Limits::default(), 16).unwrap();
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

    #[tokio::test]
    async fn an_oversize_batch_waits_for_an_empty_queue_not_forever() {
        let (writer, mut rx) = handle(100);
        let _a = writer.submit(batch(10)).await.unwrap();
        let mut big = Box::pin(writer.submit(batch(5000)));
        assert!(big.as_mut().now_or_never().is_none());
        drop(rx.recv().await);
        big.await.unwrap();
    }
}
