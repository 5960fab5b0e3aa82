//! The one writer: a dedicated thread that owns the [`Store`] and appends every batch.
//!
//! Ingest handlers (and embedders, through [`WriterHandle`]) queue batches on a bounded
//! channel. The writer thread takes everything pending at once (group commit: all the
//! queued batches of a day go into one [`Store::append`] call, so one data write, one
//! index write and, under `Durability::Batch`, the data's `fdatasync` beside the journal's:
//! the index is synced within a second, its entries restorable from the
//! journal's index group until then, see [`crate::store::index_group`]), stamps the
//! records with the clock's time and files them under the clock's day. Only after
//! `append` returned does it acknowledge each batch with its own `(date, first_id, count)`.
//!
//! Day rollover: before the first append of a new day, and on a periodic tick when idle,
//! the previous day gets its `finish` marker (after its finish grace, below). At start
//! every past day without `finish` gets one, but the newest and the one still in its
//! grace; days that never existed are never created.
//!
//! Late records: a batch may ask to be filed under an earlier day (the Kafka import files
//! messages by their timestamp). With a finish grace, the previous day stays open that
//! long after midnight and takes such batches; replicas and readers move on to the new day
//! once it is finished. A batch asking for a day that is finished, never existed, or is in
//! the future is filed under the current day; its acknowledgement says where it went.
//!
//! Exactly-once for producers: a batch queued with an [`Origin`] (producer id and seq) whose
//! seq is not above the last one stored for that producer is not appended again; it is
//! acknowledged as [`Ack::Duplicate`]. The table lives in the [`Journal`], whose entries
//! for a group are written before the group's data (see [`super::dedup`]).
//!
//! The thread blocks on file I/O, so it is a plain `std::thread`, never a tokio worker.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::ack::AckWhen;
use super::dedup::Journal;
use super::limits::Limits;
use crate::clock::SharedClock;
use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{ServerMetrics, Source};
use crate::store::{Appended, Durability, Store};

mod commit;
#[cfg(test)]
mod fault_tests;
mod gaps;
mod handle;
#[cfg(test)]
mod late_tests;
#[cfg(test)]
mod tests;

use handle::{AckTx, Msg, Shared, budget_total};
pub use handle::{PendingAck, WriterHandle};

/// A batch of records as queued for the writer: `(type, payload)`.
pub type Batch = Vec<(i16, Bytes)>;

/// Longest finish grace: at most one past day is ever open.
pub const MAX_FINISH_GRACE: Duration = Duration::from_secs(23 * 3600);

/// Most records and bytes appended by one `Store::append` call (larger backlogs take several).
const GROUP_MAX_RECORDS: usize = 100_000;
const GROUP_MAX_BYTES: usize = 64 << 20;

/// Longest that records answered at [`AckWhen::Written`] wait for their fsync while
/// groups keep coming (the tick syncs them when idle).
const DEFERRED_SYNC_AFTER: Duration = Duration::from_secs(1);

/// Longest that index entries wait for their sync (their index groups stay in the journal
/// until then, and a restart after a power loss walks their data: see
/// [`crate::store::index_group`]); the writer's tick, every second, syncs them too.
const INDEX_SYNC_AFTER: Duration = Duration::from_secs(1);

/// Who sent a batch, for deduplication: the producer's id and the batch's seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub producer: String,
    pub seq: u64,
    /// The ingest call (stream or unary append) the batch came on, numbered by the server:
    /// a later call has a larger number. After a failed batch was resent, batches of the
    /// producer's older calls are refused (see `gaps`). 0 for an embedder's one sender.
    pub stream: u64,
}

impl Origin {
    /// Batch `seq` of `producer`, from a sender that does not reconnect (stream 0).
    pub fn new(producer: impl Into<String>, seq: u64) -> Origin {
        Origin { producer: producer.into(), seq, stream: 0 }
    }

    /// The same batch, as sent on the ingest call numbered `stream`.
    pub fn on_stream(self, stream: u64) -> Origin {
        Origin { stream, ..self }
    }
}

/// A number for an ingest call that begins now, above that of every call before it.
pub(crate) fn next_stream() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
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

/// The running writer thread, for the server to stop it.
pub(crate) struct WriterControl {
    handle: WriterHandle,
    thread: Option<JoinHandle<()>>,
}

impl WriterControl {
    /// Spawns the writer thread on an open store: finishes past days (but the one still in
    /// its `finish_grace`, see the module docs), then serves the queue.
    #[cfg(test)]
    pub(crate) fn spawn(
        store: Store,
        clock: SharedClock,
        limits: Limits,
        capacity: usize,
        finish_grace: Duration,
    ) -> Result<Self> {
        Self::spawn_measured(store, clock, limits, capacity, finish_grace, Arc::default())
    }

    /// [`spawn`](WriterControl::spawn), counting what it stores into `metrics`.
    pub(crate) fn spawn_measured(
        mut store: Store,
        clock: SharedClock,
        limits: Limits,
        capacity: usize,
        finish_grace: Duration,
        metrics: Arc<ServerMetrics>,
    ) -> Result<Self> {
        if finish_grace > MAX_FINISH_GRACE {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("finish grace {finish_grace:?} is longer than {MAX_FINISH_GRACE:?}"),
            ));
        }
        let (journal, report) = Journal::open(store.vfs(), store.root(), store.durability(), |date| store.count(date))?;
        tracing::debug!(?report, file = %journal.path().display(), "ingest journal loaded");
        // A crash can tear a group's index write: a producer's batch then ends half-stored.
        // It was never acknowledged and will be resent whole, so the half goes.
        for &(date, first_id) in &report.partial {
            let cut = store.cut_back(date, first_id)?;
            tracing::warn!(%date, first_id, cut, "cut a batch the crash left half-stored; its producer resends it");
        }
        let today = clock.today();
        let grace = finish_grace.as_secs() as i64;
        let horizon = horizon(clock.as_ref(), grace, today);
        // Newest first: the newest unfinished day stays open (today's, or a later one when
        // the clock is behind), the one before it while in its grace; the rest is finished.
        let (mut open_day, mut late_day) = (None, None);
        let unfinished: Vec<Date> = store.days()?.into_iter().rev().filter(|d| !store.is_finished(*d)).collect();
        for date in unfinished {
            if open_day.is_none() && late_day.is_none() && date >= today {
                open_day = Some(date);
            } else if late_day.is_none() && date >= horizon.min(today) {
                tracing::info!(%date, ?finish_grace, "a past day stays open for late records");
                late_day = Some(date);
            } else {
                tracing::info!(%date, "finishing a past day left open");
                store.finish(date)?;
            }
        }
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let budget = Arc::new(Semaphore::new(budget_total(limits.writer_queue_bytes)));
        let writer = Writer {
            store,
            journal,
            clock: clock.clone(),
            open_day,
            late_day,
            grace,
            pending_finish: Vec::new(),
            warned_backwards: false,
            deferred_since: None,
            index_waits_since: None,
            abort_pending: false,
            gaps: gaps::Gaps::default(),
            metrics,
        };
        let batch_sync = writer.store.durability() == Durability::Batch;
        let shared: Shared = Arc::new(Mutex::new(Some(writer)));
        let queued = Arc::new(AtomicUsize::new(0));
        let handle = WriterHandle {
            tx,
            closing: Arc::default(),
            limits,
            budget,
            ack: AckWhen::Durable,
            shared: Some(shared.clone()),
            queued: queued.clone(),
            batch_sync,
            clock,
            source: Source::Embedded,
        };
        let thread = std::thread::Builder::new()
            .name("modsynclog-writer".into())
            .spawn(move || run(&shared, &queued, rx))
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
    /// A past day still in its finish grace: takes batches that ask for it.
    late_day: Option<Date>,
    /// The finish grace, in seconds (0: a day is finished at midnight).
    grace: i64,
    /// Past days whose `finish` could not be written yet (an I/O error); retried every loop.
    pending_finish: Vec<Date>,
    warned_backwards: bool,
    /// Since when records appended without their sync ([`AckWhen::Written`] groups) wait
    /// for it; the next tick, or the first group after [`DEFERRED_SYNC_AFTER`], syncs them.
    deferred_since: Option<Instant>,
    /// Since when index entries appended with their group in the journal wait for the
    /// index's sync ([`Writer::sync_index`]).
    index_waits_since: Option<Instant>,
    /// A failed group's journal entries wait for the store to cut its batches back
    /// ([`Writer::settle_failed`]).
    abort_pending: bool,
    /// Producers whose batch failed: their later batches wait for its resend.
    gaps: gaps::Gaps,
    metrics: Arc<ServerMetrics>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("store", &self.store).field("open_day", &self.open_day).finish_non_exhaustive()
    }
}

/// A queued batch: its records, who sent it, the day it asks to be filed under.
pub(crate) struct Job {
    pub(crate) batch: Batch,
    pub(crate) origin: Option<Origin>,
    pub(crate) day: Option<Date>,
    pub(crate) ack: AckTx,
}

/// The earliest day that may still be open at `today`: the day `grace` seconds ago.
fn horizon(clock: &dyn crate::clock::Clock, grace: i64, today: Date) -> Date {
    clock.date_at(clock.unix_seconds().saturating_sub(grace)).min(today)
}

/// The writer thread: takes everything queued, then appends it as one group under the
/// writer's lock (which the inline path of [`WriterHandle::append`] only ever tries).
fn run(shared: &Mutex<Option<Writer>>, queued: &AtomicUsize, mut rx: mpsc::Receiver<Msg>) {
    let lock = || shared.lock().unwrap_or_else(|p| p.into_inner());
    let mut jobs: Vec<Job> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let (mut shutdown, mut ticked, mut settled) = (None, false, Vec::new());
        let (mut records, mut bytes) = (0usize, 0usize);
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Append(job) => {
                    records += job.batch.len();
                    bytes += job.batch.iter().map(|(_, d)| d.len()).sum::<usize>();
                    jobs.push(job);
                }
                Msg::Tick => ticked = true,
                Msg::Settled(tx) => settled.push(tx),
                Msg::Shutdown(done) => shutdown = Some(done),
            }
            if shutdown.is_none() && records < GROUP_MAX_RECORDS && bytes < GROUP_MAX_BYTES {
                next = rx.try_recv().ok();
            }
        }
        let mut guard = lock();
        let Some(w) = guard.as_mut() else { return };
        let taken = jobs.len();
        // One reading of the clock for both: read twice, a midnight falling between them
        // would append to the new day without finishing the old one.
        let today = w.clock.today();
        w.rollover(today);
        w.commit_all(&mut jobs, today);
        queued.fetch_sub(taken, Ordering::SeqCst);
        w.sync_deferred(ticked);
        w.sync_index(ticked);
        if let Err(e) = w.journal.sync_if_due(false) {
            tracing::error!(error = %e, "ingest journal sync failed");
        }
        drop(guard);
        answer(std::mem::take(&mut settled));
        if let Some(done) = shutdown {
            // Refuse new batches; whatever made it into the queue is still written.
            rx.close();
            while let Some(msg) = rx.blocking_recv() {
                match msg {
                    Msg::Append(job) => jobs.push(job),
                    Msg::Tick => {}
                    // Answered (or dropped: the writer is closed) below, with the rest.
                    Msg::Settled(tx) => settled.push(tx),
                    Msg::Shutdown(other) => {
                        let _ = other.send(());
                    }
                }
            }
            // Taken out of the lock: the inline path finds the writer gone from now on.
            let Some(mut w) = lock().take() else { return };
            let today = w.clock.today();
            w.rollover(today);
            w.commit_all(&mut jobs, today);
            match w.settle_failed().and_then(|()| w.store.sync()) {
                Ok(()) => w.journal.index_synced(),
                Err(e) => tracing::error!(error = %e, "final sync failed"),
            }
            if let Err(e) = w.journal.sync_if_due(true) {
                tracing::error!(error = %e, "final ingest journal sync failed");
            }
            drop(w);
            answer(settled);
            let _ = done.send(());
            return;
        }
    }
}

/// Answers the [`Msg::Settled`] of a group once its jobs are settled.
fn answer(settled: Vec<oneshot::Sender<()>>) {
    for tx in settled {
        let _ = tx.send(());
    }
}

impl Writer {
    /// Whether appending `records` to `today` is a plain write into open files: the day
    /// is open and current, nothing is left to finish or sync, the journal needs no
    /// rewrite, and the batch stays in the current data file (what the inline path needs).
    fn plain_append(&self, today: Date, records: usize) -> bool {
        self.open_day == Some(today)
            && self.pending_finish.is_empty()
            && !self.journal.needs_rewrite()
            && self.store.fits_open_data_file(today, records)
    }

    /// Syncs records appended without their fsync once a tick came or they waited
    /// [`DEFERRED_SYNC_AFTER`]; they stay pending (and retried) while the sync fails.
    fn sync_deferred(&mut self, ticked: bool) {
        let Some(since) = self.deferred_since else { return };
        if !ticked && since.elapsed() < DEFERRED_SYNC_AFTER {
            return;
        }
        match self.store.sync() {
            Ok(()) => self.deferred_since = None,
            Err(e) => tracing::error!(error = %e, "sync of early-acknowledged records failed; retrying"),
        }
    }

    /// Syncs the index entries whose groups wait in the journal once a tick came or they
    /// waited [`INDEX_SYNC_AFTER`] (or now, with `force`); the journal then marks the
    /// groups done (a barrier) and drops them with its next rewrite. A failed sync keeps
    /// them: the store restores the entries from its copy of the groups before it appends
    /// again, and the next call syncs.
    fn sync_index(&mut self, force: bool) {
        let Some(since) = self.index_waits_since else { return };
        if !force && since.elapsed() < INDEX_SYNC_AFTER {
            return;
        }
        // A failed group's entries leave the journal first: the barrier would keep them.
        if let Err(e) = self.settle_failed() {
            tracing::error!(error = %e, "the day is not repaired after a failed append; the index sync waits");
            return;
        }
        // A day switch or `finish` may have synced the index already.
        if self.store.index_waits()
            && let Err(e) = self.store.sync()
        {
            tracing::error!(error = %e, "index sync failed; the store repairs the day from its copy of the groups");
            return;
        }
        self.index_waits_since = None;
        self.journal.index_synced();
    }

    /// Finishes the open day when the clock has moved past it, or keeps it open as the
    /// late day while in its grace, and finishes the late day once the grace is over
    /// (retrying until it works).
    fn rollover(&mut self, today: Date) {
        let horizon = horizon(self.clock.as_ref(), self.grace, today);
        if let Some(day) = self.open_day
            && day < today
        {
            self.open_day = None;
            if day >= horizon {
                tracing::info!(%day, %today, grace_s = self.grace, "day rollover: the previous day stays open for late records");
                self.pending_finish.extend(self.late_day.replace(day));
            } else {
                tracing::info!(%day, %today, "day rollover: finishing the previous day");
                self.pending_finish.push(day);
            }
        }
        if let Some(day) = self.late_day
            && day < horizon
        {
            tracing::info!(%day, "finish grace over: finishing the previous day");
            self.late_day = None;
            self.pending_finish.push(day);
        }
        for day in std::mem::take(&mut self.pending_finish) {
            if let Err(e) = self.store.finish(day) {
                tracing::error!(%day, error = %e, "cannot mark the previous day finished; will retry");
                self.pending_finish.push(day);
            }
        }
    }
}
