//! [`Producer`]: the bounded queue that `commit` fills and `flush` waits on.
//!
//! Records are numbered in commit order. The background task (see `transport`) takes
//! them from the queue in batches; `acked` is the number of records, counted from the
//! first, whose fate is settled (acknowledged by the server, or refused as invalid).
//! Acks arrive in order, so `flush` just waits for `acked` to reach the count it saw.

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
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) opts: ProducerOptions,
    state: Mutex<State>,
    space: Condvar,
    settled: Condvar,
    settled_watch: watch::Sender<u64>,
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
                    if st.closed {
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
        batch
    }

    /// `count` more records (the oldest unsettled ones) were acknowledged.
    pub(crate) fn acked(&self, count: u64) {
        let mut st = self.lock();
        st.acked += count;
        let acked = st.acked;
        drop(st);
        self.settled.notify_all();
        self.settled_watch.send_replace(acked);
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

    /// Remembers a transient failure (reported by a `flush` that times out).
    pub(crate) fn failed(&self, err: &Error) {
        tracing::debug!(error = %err, "sending failed; will retry");
        self.lock().last_error = Some((err.kind(), err.to_string()));
    }

    /// Closed, and nothing queued: the task may stop once its batches are acknowledged.
    pub(crate) fn drained(&self) -> bool {
        let st = self.lock();
        st.closed && st.queue.is_empty()
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
    /// Starts a producer for `addr` (`"host:port"` or `"http://host:port"`). Connects
    /// lazily: an unreachable server is retried in the background, not reported here.
    pub fn connect(addr: &str, opts: ProducerOptions) -> Result<Producer> {
        if opts.batch_max_records == 0 || opts.batch_max_bytes == 0 || opts.queue_capacity == 0 {
            return Err(Error::invalid("batch sizes and queue capacity must be positive"));
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
            settled: Condvar::new(),
            settled_watch: watch::Sender::new(0),
            wake: Notify::new(),
        });
        let task = runtime.spawn(transport::run(shared.clone(), endpoint));
        tracing::debug!(%url, "producer started");
        Ok(Producer { shared, task: Mutex::new(Some(task)), runtime })
    }

    /// Queues one record; returns without waiting for the network. Waits up to
    /// `enqueue_timeout` for room in a full queue (`QueueFull` after), `Closed` after
    /// [`close`](Producer::close), `TooLarge` over `max_record_len`.
    ///
    /// Needs no runtime: callable from any thread. Only a full queue makes it block the
    /// calling thread (for at most `enqueue_timeout`), also when called from async code.
    pub fn commit(&self, ty: i16, data: impl Into<Bytes>) -> Result<()> {
        let data = data.into();
        let opts = &self.shared.opts;
        if data.len() > opts.max_record_len {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("record of {} bytes exceeds the limit of {}", data.len(), opts.max_record_len),
            ));
        }
        let mut st = self.shared.lock();
        let mut deadline = None;
        while !st.closed && st.queue.len() >= opts.queue_capacity {
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + opts.enqueue_timeout);
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(ErrorKind::QueueFull, "the producer's queue stayed full"));
            }
            st = self.shared.space.wait_timeout(st, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        if st.closed {
            return Err(Error::new(ErrorKind::Closed, "the producer is closed"));
        }
        let len = data.len();
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
        drop(st);
        if wake {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// [`commit`](Producer::commit) that never waits: `QueueFull` at once when the queue
    /// has no room. (Stub: the helper replaces this with the real thing.)
    pub fn try_commit(&self, ty: i16, data: impl Into<Bytes>) -> Result<()> {
        self.commit(ty, data)
    }

    /// [`commit`](Producer::commit) for async code: waits for room without blocking the
    /// thread, up to `enqueue_timeout`. (Stub: the helper replaces this.)
    pub async fn commit_async(&self, ty: i16, data: impl Into<Bytes>) -> Result<()> {
        self.commit(ty, data)
    }

    /// Records committed so far, and how many of them are settled (acknowledged or refused).
    pub fn progress(&self) -> (u64, u64) {
        let st = self.shared.lock();
        (st.committed, st.acked)
    }

    /// Waits until every record committed before this call is acknowledged (`Timeout`
    /// when `timeout` passes first; `None` waits as long as it takes). Blocks the thread.
    /// Fails when the server refused records for good during the wait.
    pub fn flush(&self, timeout: Option<Duration>) -> Result<()> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.shared.lock();
        let (target, rejected_before) = (st.committed, st.rejected);
        st.flushing += 1;
        self.shared.wake.notify_one();
        while st.acked < target {
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
        let wait = rx.wait_for(|acked| *acked >= target);
        let _ = match timeout {
            Some(t) => tokio::time::timeout(t, wait).await.ok().map(|_| ()),
            None => wait.await.ok().map(|_| ()),
        };
        let mut st = self.shared.lock();
        st.flushing -= 1;
        Self::outcome(&st, target, rejected_before)
    }

    fn outcome(st: &State, target: u64, rejected_before: u64) -> Result<()> {
        let last = || st.last_error.as_ref().map(|(_, m)| m.as_str()).unwrap_or("no reply yet");
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
    /// then stops the background task. Records still unacknowledged then are lost.
    pub fn close(&self, timeout: Option<Duration>) -> Result<()> {
        self.mark_closed();
        let result = self.flush(timeout);
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        result
    }

    /// [`close`](Producer::close) for async code.
    pub async fn close_async(&self, timeout: Option<Duration>) -> Result<()> {
        self.mark_closed();
        let result = self.flush_async(timeout).await;
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        result
    }

    fn mark_closed(&self) {
        self.shared.lock().closed = true;
        self.shared.space.notify_all();
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
