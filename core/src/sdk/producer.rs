//! [`Producer`]: the bounded queue that `commit` fills and `flush` waits on.
//!
//! Records are numbered in commit order. The background task (see `transport`) takes
//! them from the queue in batches; `acked` is the number of records, counted from the
//! first, whose fate is settled (acknowledged by the server, or refused as invalid).
//! Acks arrive in order, so `flush` just waits for `acked` to reach the count it saw.
//!
//! The queue is bounded twice: by records (`queue_capacity`) and by payload bytes
//! (`queue_bytes`), both counting what is queued and not yet taken into a batch. Blocking
//! callers wait on the `space` Condvar, async ones on the `space_async` Notify; both are
//! woken whenever the task takes a batch, and when the producer closes or ends.
//!
//! A producer *ends* when the server refuses its credentials (`Unauthenticated`,
//! `PermissionDenied`): retrying cannot help, so the error is kept in `State::ended`, the
//! task stops, every waiter is woken, and every later call returns that error at once.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::{ProducerOptions, default_runtime, transport};
use crate::error::{Error, ErrorKind, Result};

/// How long a dropped (not closed) producer keeps trying to deliver what it queued.
const DROP_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub(crate) struct State {
    queue: VecDeque<(i16, Bytes)>,
    queue_bytes: usize,
    /// When the oldest queued record arrived (for the linger).
    oldest: Option<Instant>,
    committed: u64,
    acked: u64,
    rejected: u64,
    closed: bool,
    flushing: usize,
    last_error: Option<(ErrorKind, String)>,
    /// Why the producer ended for good (credentials refused): every call returns it.
    ended: Option<(ErrorKind, String)>,
    /// `close` stopped the task: nothing more will be acknowledged.
    stopped: bool,
}

impl State {
    fn ended_error(&self) -> Option<Error> {
        self.ended.as_ref().map(|(kind, message)| Error::new(*kind, message.clone()))
    }
}

/// What the settled watch carries: records settled so far, and whether no more will be
/// (the producer ended, or `close` stopped its task).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Settled {
    acked: u64,
    done: bool,
}

/// Whether a record was queued, or (given back) why not.
enum Push {
    Queued,
    Full(Bytes),
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) opts: ProducerOptions,
    state: Mutex<State>,
    /// Room in the queue, for blocking `commit` calls.
    space: Condvar,
    /// Room in the queue, for `commit_async` (woken with `notify_waiters`).
    space_async: Notify,
    settled: Condvar,
    settled_watch: watch::Sender<Settled>,
    pub(crate) wake: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next batch to send, at most `max_records` long, once one is due (full, lingered
    /// long enough, or a flush/close is waiting). `None`: closed and nothing left to send.
    pub(crate) async fn next_batch(&self, max_records: usize) -> Option<Vec<(i16, Bytes)>> {
        let max_records = max_records.clamp(1, self.opts.batch_max_records.max(1));
        loop {
            let notified = self.wake.notified();
            let wait = {
                let mut st = self.lock();
                if st.queue.is_empty() {
                    if st.closed || st.ended.is_some() {
                        return None;
                    }
                    None
                } else {
                    let waited = st.oldest.map(|t| t.elapsed()).unwrap_or(Duration::MAX);
                    let due = st.closed
                        || st.flushing > 0
                        || st.queue.len() >= max_records
                        || st.queue_bytes >= self.opts.batch_max_bytes
                        || waited >= self.opts.linger;
                    if due {
                        return Some(self.take(&mut st, max_records));
                    }
                    Some(self.opts.linger - waited)
                }
            };
            match wait {
                Some(d) => {
                    let _ = tokio::time::timeout(d, notified).await;
                }
                None => notified.await,
            }
        }
    }

    fn take(&self, st: &mut State, max_records: usize) -> Vec<(i16, Bytes)> {
        let mut batch = Vec::with_capacity(max_records.min(st.queue.len()));
        let mut bytes = 0;
        while batch.len() < max_records
            && (batch.is_empty() || bytes + st.queue.front().map_or(0, |r| r.1.len()) <= self.opts.batch_max_bytes)
        {
            let Some(record) = st.queue.pop_front() else { break };
            bytes += record.1.len();
            batch.push(record);
        }
        st.queue_bytes -= bytes;
        st.oldest = if st.queue.is_empty() { None } else { Some(Instant::now()) };
        self.space.notify_all();
        self.space_async.notify_waiters();
        batch
    }

    /// Queues the record when there is room (or fails: ended, closed); gives it back when
    /// the queue is full. A record larger than `queue_bytes` fits only an empty queue.
    fn push(&self, st: &mut State, ty: i16, data: Bytes) -> Result<Push> {
        if let Some(err) = st.ended_error() {
            return Err(err);
        }
        if st.closed {
            return Err(Error::new(ErrorKind::Closed, "the producer is closed"));
        }
        let opts = &self.opts;
        let len = data.len();
        let room = st.queue.len() < opts.queue_capacity
            && (st.queue.is_empty() || st.queue_bytes.saturating_add(len) <= opts.queue_bytes);
        if !room {
            return Ok(Push::Full(data));
        }
        let was_empty = st.queue.is_empty();
        st.queue.push_back((ty, data));
        st.queue_bytes += len;
        st.committed += 1;
        if was_empty {
            st.oldest = Some(Instant::now());
        }
        let wake = was_empty
            || st.queue.len() == opts.batch_max_records
            || (st.queue_bytes >= opts.batch_max_bytes && st.queue_bytes - len < opts.batch_max_bytes);
        if wake {
            self.wake.notify_one();
        }
        Ok(Push::Queued)
    }

    /// `QueueFull` naming the bound that `len` more bytes would cross.
    fn queue_full(&self, st: &State, len: usize, waited: Option<Duration>) -> Error {
        let opts = &self.opts;
        let limit = if st.queue.len() >= opts.queue_capacity {
            format!("queue_capacity = {} records queued and not yet sent", opts.queue_capacity)
        } else {
            format!(
                "queue_bytes = {}: {} bytes queued and not yet sent, and this record has {len}",
                opts.queue_bytes, st.queue_bytes
            )
        };
        let how = match waited {
            Some(t) => format!("stayed full for {t:?} (enqueue_timeout)"),
            None => "is full".to_string(),
        };
        Error::new(ErrorKind::QueueFull, format!("the producer's queue {how}; limit {limit}"))
    }

    /// `count` more records (the oldest unsettled ones) were acknowledged.
    pub(crate) fn acked(&self, count: u64) {
        let mut st = self.lock();
        st.acked += count;
        let acked = st.acked;
        drop(st);
        self.settled.notify_all();
        self.settled_watch.send_modify(|s| s.acked = acked);
    }

    /// `count` records were refused by the server for good.
    pub(crate) fn rejected(&self, count: u64, err: &Error) {
        tracing::error!(error = %err, records = count, "the server refused a batch; it is dropped");
        let mut st = self.lock();
        st.rejected += count;
        st.last_error = Some((err.kind(), err.to_string()));
        drop(st);
        self.acked(count);
    }

    /// Remembers a failure. A transient one is kept for a `flush` that times out, and
    /// `false` returned: retry. One that retrying cannot fix (the server refused the
    /// credentials: [`Error::is_auth`]) ends the producer ([`end`](Shared::end)); `true`:
    /// the task must stop.
    pub(crate) fn failed(&self, err: &Error) -> bool {
        if err.is_auth() {
            self.end(err);
            return true;
        }
        tracing::debug!(error = %err, "sending failed; will retry");
        self.lock().last_error = Some((err.kind(), err.to_string()));
        false
    }

    /// Ends the producer for good with `err`'s kind: what is queued is dropped, every
    /// waiter (blocking or async, committing or flushing) is woken, and every later call
    /// returns the error. The first reason stays.
    pub(crate) fn end(&self, err: &Error) {
        let message = format!("the server refused this producer's credentials: {err}");
        let mut st = self.lock();
        if st.ended.is_some() {
            return;
        }
        let unsent = st.committed - st.acked;
        tracing::error!(error = %err, unsent, "the server refused this producer's credentials; it stops");
        st.ended = Some((err.kind(), message.clone()));
        st.last_error = Some((err.kind(), message));
        st.queue.clear();
        st.queue_bytes = 0;
        st.oldest = None;
        drop(st);
        self.space.notify_all();
        self.space_async.notify_waiters();
        self.settled.notify_all();
        self.settled_watch.send_modify(|s| s.done = true);
        self.wake.notify_one();
    }

    /// `close` stopped the task: flushes still waiting (other threads) return now.
    fn stopped(&self) {
        self.lock().stopped = true;
        self.settled.notify_all();
        self.settled_watch.send_modify(|s| s.done = true);
    }

    /// Whether the producer ended (see [`end`](Shared::end)).
    pub(crate) fn is_ended(&self) -> bool {
        self.lock().ended.is_some()
    }

    /// Closed (or ended), and nothing queued: the task may stop once its batches are
    /// acknowledged.
    pub(crate) fn drained(&self) -> bool {
        let st = self.lock();
        (st.closed || st.ended.is_some()) && st.queue.is_empty()
    }
}

/// Sends records to a modsynclog server in the background. See the [module docs](super).
///
/// `Producer` is `Send + Sync`: share it between threads with an `Arc` (or by reference).
#[derive(Debug)]
pub struct Producer {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
    runtime: tokio::runtime::Handle,
}

impl Producer {
    /// Starts a producer for `addr`: `"host:port"` or `"http://host:port"` (plaintext), or
    /// `"https://host:port"` (TLS, set up by [`ProducerOptions::tls`]). Connects lazily: an
    /// unreachable server (or one whose certificate is not trusted) is retried in the
    /// background, not reported here; TLS files are read now (`NotFound`,
    /// `InvalidArgument`), and TLS settings with a plaintext address are refused.
    pub fn connect(addr: &str, opts: ProducerOptions) -> Result<Producer> {
        if opts.batch_max_records == 0 || opts.batch_max_bytes == 0 || opts.queue_capacity == 0 || opts.queue_bytes == 0
        {
            return Err(Error::invalid("batch sizes and queue bounds must be positive"));
        }
        if let Some(token) = &opts.token
            && format!("Bearer {token}").parse::<tonic::metadata::AsciiMetadataValue>().is_err()
        {
            return Err(Error::invalid("the token cannot be sent in a gRPC header (printable ASCII only)"));
        }
        let endpoint = crate::tls::endpoint(addr, &opts.tls)?;
        let url = endpoint.uri().to_string();
        let runtime = match &opts.runtime {
            Some(h) => h.clone(),
            None => default_runtime()?,
        };
        let shared = Arc::new(Shared {
            opts,
            state: Mutex::default(),
            space: Condvar::new(),
            space_async: Notify::new(),
            settled: Condvar::new(),
            settled_watch: watch::Sender::new(Settled::default()),
            wake: Notify::new(),
        });
        let task = runtime.spawn(transport::run(shared.clone(), endpoint));
        tracing::debug!(%url, "producer started");
        Ok(Producer { shared, task: Mutex::new(Some(task)), runtime })
    }

    /// Queues one record; returns without waiting for the network.
    ///
    /// Waits up to `enqueue_timeout` while the queue is full (`queue_capacity` records, or
    /// `queue_bytes` payload bytes with this record counted) and fails with `QueueFull`
    /// after. `TooLarge` over `max_record_len`; `Closed` after [`close`](Producer::close);
    /// `Unauthenticated` / `PermissionDenied` at once after the server refused this
    /// producer's credentials.
    ///
    /// Needs no runtime: callable from any thread. Only a full queue makes it block the
    /// calling thread (for at most `enqueue_timeout`), also when called from async code:
    /// use [`commit_async`](Producer::commit_async) or [`try_commit`](Producer::try_commit)
    /// there.
    pub fn commit(&self, ty: i16, data: impl Into<Bytes>) -> Result<()> {
        let mut data = self.checked(data.into())?;
        let mut st = self.shared.lock();
        let mut deadline = None;
        loop {
            match self.shared.push(&mut st, ty, data)? {
                Push::Queued => return Ok(()),
                Push::Full(back) => data = back,
            }
            let timeout = self.shared.opts.enqueue_timeout;
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + timeout);
            let now = Instant::now();
            if now >= deadline {
                return Err(self.shared.queue_full(&st, data.len(), Some(timeout)));
            }
            st = self.shared.space.wait_timeout(st, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// [`commit`](Producer::commit) that never waits: `QueueFull` at once when the queue
    /// has no room for the record.
    pub fn try_commit(&self, ty: i16, data: impl Into<Bytes>) -> Result<()> {
        let data = self.checked(data.into())?;
        let mut st = self.shared.lock();
        match self.shared.push(&mut st, ty, data)? {
            Push::Queued => Ok(()),
            Push::Full(data) => Err(self.shared.queue_full(&st, data.len(), None)),
        }
    }

    /// [`commit`](Producer::commit) for async code: waits for room without blocking the
    /// thread, up to `enqueue_timeout` (`QueueFull` after). Waiting needs a tokio runtime
    /// with its timer enabled; a commit that finds room does not wait.
    pub async fn commit_async(&self, ty: i16, data: impl Into<Bytes>) -> Result<()> {
        let mut data = self.checked(data.into())?;
        let timeout = self.shared.opts.enqueue_timeout;
        let mut deadline = None;
        loop {
            // Registered before looking at the queue, so room made in between is not missed.
            let space = self.shared.space_async.notified();
            let mut space = std::pin::pin!(space);
            space.as_mut().enable();
            {
                let mut st = self.shared.lock();
                match self.shared.push(&mut st, ty, data)? {
                    Push::Queued => return Ok(()),
                    Push::Full(back) => data = back,
                }
                if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    return Err(self.shared.queue_full(&st, data.len(), Some(timeout)));
                }
            }
            let deadline = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + timeout);
            if tokio::time::timeout_at(deadline, space).await.is_err() {
                // One last look: room may have come with the deadline.
                let mut st = self.shared.lock();
                return match self.shared.push(&mut st, ty, data)? {
                    Push::Queued => Ok(()),
                    Push::Full(data) => Err(self.shared.queue_full(&st, data.len(), Some(timeout))),
                };
            }
        }
    }

    /// `TooLarge` over `max_record_len`.
    fn checked(&self, data: Bytes) -> Result<Bytes> {
        let max = self.shared.opts.max_record_len;
        if data.len() > max {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("record of {} bytes exceeds the limit of {max} (max_record_len)", data.len()),
            ));
        }
        Ok(data)
    }

    /// Records committed so far, and how many of them are settled (acknowledged or refused).
    pub fn progress(&self) -> (u64, u64) {
        let st = self.shared.lock();
        (st.committed, st.acked)
    }

    /// Waits until every record committed before this call is acknowledged (`Timeout`
    /// when `timeout` passes first, with the last error seen in its message; `None` waits
    /// as long as it takes). Blocks the thread. Fails when the server refused records for
    /// good during the wait, and at once (also while waiting) when it refused this
    /// producer's credentials (`Unauthenticated` / `PermissionDenied`).
    pub fn flush(&self, timeout: Option<Duration>) -> Result<()> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.shared.lock();
        let (target, rejected_before) = (st.committed, st.rejected);
        st.flushing += 1;
        self.shared.wake.notify_one();
        while st.acked < target && st.ended.is_none() && !st.stopped {
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(w) if !w.is_zero() => w,
                    _ => break,
                },
                None => Duration::from_secs(3600),
            };
            st = self.shared.settled.wait_timeout(st, wait).unwrap_or_else(|p| p.into_inner()).0;
        }
        st.flushing -= 1;
        Self::outcome(&st, target, rejected_before)
    }

    /// [`flush`](Producer::flush) for async code: does not block the thread.
    pub async fn flush_async(&self, timeout: Option<Duration>) -> Result<()> {
        let (target, rejected_before) = {
            let mut st = self.shared.lock();
            st.flushing += 1;
            (st.committed, st.rejected)
        };
        self.shared.wake.notify_one();
        let mut rx = self.shared.settled_watch.subscribe();
        let wait = rx.wait_for(|s| s.acked >= target || s.done);
        let _ = match timeout {
            Some(t) => tokio::time::timeout(t, wait).await.ok().map(|_| ()),
            None => wait.await.ok().map(|_| ()),
        };
        let mut st = self.shared.lock();
        st.flushing -= 1;
        Self::outcome(&st, target, rejected_before)
    }

    fn outcome(st: &State, target: u64, rejected_before: u64) -> Result<()> {
        if let Some(err) = st.ended_error() {
            return Err(err);
        }
        let last = || st.last_error.as_ref().map(|(_, m)| m.as_str()).unwrap_or("no reply yet");
        if st.acked < target && st.stopped {
            return Err(Error::new(
                ErrorKind::Closed,
                format!(
                    "{} records were not acknowledged before the producer was closed (last error: {})",
                    target - st.acked,
                    last()
                ),
            ));
        }
        if st.acked < target {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!("{} records not acknowledged in time (last error: {})", target - st.acked, last()),
            ));
        }
        if st.rejected > rejected_before {
            let kind = st.last_error.as_ref().map_or(ErrorKind::InvalidArgument, |(k, _)| *k);
            let n = st.rejected - rejected_before;
            return Err(Error::new(kind, format!("{n} records were refused by the server: {}", last())));
        }
        Ok(())
    }

    /// Stops accepting records, waits (up to `timeout`) until everything is acknowledged,
    /// then stops the background task. Records still unacknowledged then are lost, and a
    /// later `flush` or `close` returns `Closed` at once (instead of waiting for acks that
    /// cannot come). After the server refused the credentials it returns that error at once.
    pub fn close(&self, timeout: Option<Duration>) -> Result<()> {
        self.mark_closed();
        let result = self.flush(timeout);
        self.stop_task();
        result
    }

    /// [`close`](Producer::close) for async code.
    pub async fn close_async(&self, timeout: Option<Duration>) -> Result<()> {
        self.mark_closed();
        let result = self.flush_async(timeout).await;
        self.stop_task();
        result
    }

    /// Aborts the background task (after a close); later flushes return at once.
    fn stop_task(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        self.shared.stopped();
    }

    fn mark_closed(&self) {
        self.shared.lock().closed = true;
        self.shared.space.notify_all();
        self.shared.space_async.notify_waiters();
        self.shared.wake.notify_one();
    }
}

impl Drop for Producer {
    /// Stops accepting records; the task keeps delivering what was queued for a while.
    fn drop(&mut self) {
        self.mark_closed();
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take()
            && !task.is_finished()
        {
            self.runtime.spawn(async move {
                tokio::time::sleep(DROP_GRACE).await;
                task.abort();
            });
        }
    }
}
