//! The producers' side of the writer: [`WriterHandle`] queues batches (bounded in bytes)
//! or, when the writer is idle and the answer needs no fsync, appends them on the
//! caller's thread; [`PendingAck`] waits for a queued batch's acknowledgement.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::{Ack, Batch, Job, Origin, Writer};
use crate::clock::SharedClock;
use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::Source;
use crate::server::ack::AckWhen;
use crate::server::limits::Limits;
use crate::store::Appended;

/// Where a batch's acknowledgement goes; holds the batch's share of the writer's byte
/// budget until the batch is written (or refused).
pub(crate) struct AckTx {
    pub(super) tx: oneshot::Sender<Result<Ack>>,
    pub(super) when: AckWhen,
    pub(super) _budget: Option<OwnedSemaphorePermit>,
    /// Where the batch came from and when it reached the writer, for the metrics.
    pub(super) source: Source,
    pub(super) arrived: Instant,
}

impl AckTx {
    pub(super) fn send(self, ack: Result<Ack>) -> std::result::Result<(), Result<Ack>> {
        self.tx.send(ack)
    }
}

pub(crate) enum Msg {
    Append(Job),
    /// Look at the clock: finish the open day if the date moved on.
    Tick,
    /// Answered once every batch queued before it is settled (stored, refused or failed).
    Settled(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// Where an acknowledged batch landed; a duplicate whose range is no longer known is a
/// `Conflict`.
fn range(ack: Ack) -> Result<Appended> {
    match ack {
        Ack::Stored(a) | Ack::Duplicate(Some(a)) => Ok(a),
        Ack::Duplicate(None) => Err(Error::new(ErrorKind::Conflict, "the batch was stored before")),
    }
}

pub(super) fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the server is stopping")
}

/// Queues batches for the writer. Cheap to clone; every clone feeds the same writer.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    pub(super) tx: mpsc::Sender<Msg>,
    pub(super) closing: Arc<AtomicBool>,
    pub(super) limits: Limits,
    /// Payload bytes the queue may still take ([`Limits::writer_queue_bytes`] in all).
    pub(super) budget: Arc<Semaphore>,
    /// When this handle's batches are acknowledged.
    pub(super) ack: AckWhen,
    /// The writer's state, for appending on the caller's thread when it is idle (`None`
    /// in tests that stand in for the writer).
    pub(super) shared: Option<Shared>,
    /// Batches queued and not yet committed: the inline path runs only at zero, so it
    /// never overtakes a queued batch.
    pub(super) queued: Arc<AtomicUsize>,
    /// The store syncs every batch (`Durability::Batch`).
    pub(super) batch_sync: bool,
    /// The writer's clock: the calendar days are filed by.
    pub(super) clock: SharedClock,
    /// Where this handle's batches come from (the metrics' `source` label).
    pub(super) source: Source,
}

/// The writer's state: the writer thread and the inline path take turns under the lock;
/// `None` once the writer thread has finished (the store is closed).
pub(super) type Shared = Arc<Mutex<Option<Writer>>>;

/// Largest batch appended inline: bigger writes may stall in the page cache's throttling,
/// which must not happen on a runtime worker.
const INLINE_MAX_BYTES: usize = 64 << 10;

/// A queued batch whose acknowledgement has not been awaited yet.
#[derive(Debug)]
pub struct PendingAck(oneshot::Receiver<Result<Ack>>);

impl PendingAck {
    /// Waits until the batch is in the store (synced per the durability policy).
    /// A duplicate whose original range is unknown is a `Conflict` here: use
    /// [`wait_ack`](PendingAck::wait_ack) for batches queued with an [`Origin`].
    pub async fn wait(self) -> Result<Appended> {
        self.wait_ack().await.and_then(range)
    }

    /// Waits until the batch is in the store, or found to be there already.
    pub async fn wait_ack(self) -> Result<Ack> {
        self.0.await.unwrap_or_else(|_| Err(closed()))
    }

    /// The acknowledgement if it has come, without waiting: `None` while the batch is
    /// still queued or being written.
    pub fn try_ack(&mut self) -> Option<Result<Ack>> {
        match self.0.try_recv() {
            Ok(ack) => Some(ack),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(closed())),
        }
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
    /// changes nothing anyone can see: nothing is queued, the writer thread is not
    /// working, the answer needs no fsync (this handle acknowledges at
    /// [`AckWhen::Written`], or the store does not sync per batch), and the append is a
    /// plain write into today's open files (no rollover, new data file, journal rewrite
    /// or recovery, all of which may fsync). Gives the batch back otherwise. Never waits
    /// for the lock: a busy writer means "queue it".
    fn append_inline(&self, records: Batch) -> std::result::Result<Result<Appended>, Batch> {
        let needs_fsync = self.ack != AckWhen::Written && self.batch_sync;
        let bytes: usize = records.iter().map(|(_, d)| d.len()).sum();
        let quiet = self.queued.load(Ordering::SeqCst) == 0 && !self.is_closed();
        let shared = match &self.shared {
            Some(shared) if quiet && !needs_fsync && bytes <= INLINE_MAX_BYTES => shared,
            _ => return Err(records),
        };
        let Ok(mut guard) = shared.try_lock() else { return Err(records) };
        let Some(writer) = guard.as_mut() else { return Ok(Err(closed())) };
        let today = writer.clock.today();
        if !writer.plain_append(today, records.len()) {
            return Err(records);
        }
        let (tx, mut rx) = oneshot::channel();
        let ack = AckTx { tx, when: self.ack, _budget: None, source: self.source, arrived: Instant::now() };
        let mut jobs = vec![Job { batch: records, origin: None, day: None, ack }];
        writer.commit(&mut jobs, today);
        drop(guard);
        Ok(match rx.try_recv() {
            Ok(ack) => ack.and_then(range),
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
        self.submit_filed(origin, None, records).await
    }

    /// [`submit_from`](WriterHandle::submit_from) asking for the batch to be filed under
    /// `day`. Only the writer's late day (the previous day, during the finish grace) is
    /// ever taken; any other day means the current one. The acknowledgement's
    /// [`Appended::date`] says which day it went to.
    pub async fn submit_filed(&self, origin: Option<Origin>, day: Option<Date>, records: Batch) -> Result<PendingAck> {
        self.limits.check_batch(&records)?;
        if let Some(o) = &origin {
            crate::server::dedup::check_producer_id(&o.producer)?;
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
        let ack = AckTx { tx, when: self.ack, _budget: Some(budget), source: self.source, arrived: Instant::now() };
        self.queued.fetch_add(1, Ordering::SeqCst);
        let job = Job { batch: records, origin, day, ack };
        if self.tx.send(Msg::Append(job)).await.is_err() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(closed());
        }
        Ok(PendingAck(rx))
    }

    /// The seq of the last batch stored for `producer` (from the ingest journal, so it
    /// survives restarts), `None` when the writer does not know the producer. Batches in
    /// the writer's queue before the call count: it answers once they are settled, so that
    /// a producer restarted right after a crash (whose last batches may still wait there)
    /// resumes after them, not before. `Closed` once the writer has stopped: "none stored"
    /// would send the producer back to where it began.
    pub async fn stored_seq(&self, producer: &str) -> Result<Option<u64>> {
        self.settled().await?;
        let Some(shared) = self.shared.clone() else { return Ok(None) };
        let producer = producer.to_string();
        // Waits for a group commit in progress: off the runtime's workers.
        crate::store::shared::blocking(move || {
            let guard = shared.lock().unwrap_or_else(|p| p.into_inner());
            let writer = guard.as_ref().ok_or_else(closed)?;
            Ok(writer.journal.last(&producer).map(|(seq, _)| seq))
        })
        .await
    }

    /// Resolves once every batch queued before the call is settled: stored (or found a
    /// duplicate), refused or failed, and its answer sent.
    pub async fn settled(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::Settled(tx)).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())
    }

    /// The day the writer's calendar puts the instant `unix_seconds` in (what a batch
    /// stamped then asks for with [`submit_filed`](WriterHandle::submit_filed)).
    pub fn date_at(&self, unix_seconds: i64) -> Date {
        self.clock.date_at(unix_seconds)
    }

    /// Today by the writer's clock.
    pub fn today(&self) -> Date {
        self.clock.today()
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A handle to the same writer whose batches are acknowledged at `when`.
    pub fn acknowledging(&self, when: AckWhen) -> WriterHandle {
        WriterHandle { ack: when, ..self.clone() }
    }

    /// A handle to the same writer whose batches count as coming from `source`.
    pub fn from_source(&self, source: Source) -> WriterHandle {
        WriterHandle { source, ..self.clone() }
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
pub(super) fn budget_permits(bytes: usize, total: usize) -> u32 {
    bytes.clamp(1, budget_total(total)) as u32
}

pub(super) fn budget_total(total: usize) -> usize {
    total.clamp(1, u32::MAX as usize)
}
