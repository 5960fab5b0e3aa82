//! [`Producer`]: the public API over the queue in [`super::queue`]: `commit` (blocking,
//! `try_commit`, `commit_async`), `flush`, `close`, and what happens on drop.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::queue::{Push, Settled, Shared, State};
use super::{ProducerOptions, default_runtime, transport};
use crate::error::{Error, ErrorKind, Result};

/// How long a dropped (not closed) producer keeps trying to deliver what it queued.
const DROP_GRACE: Duration = Duration::from_secs(30);

/// Sends records to a modsynclog server in the background. See the [module docs](super).
///
/// `Producer` is `Send + Sync`: share it between threads with an `Arc` (or by reference).
#[derive(Debug)]
pub struct Producer {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
    runtime: tokio::runtime::Handle,
    /// The process that started it. A child forked from it has a copy without the
    /// background task (threads do not survive a fork) and with locks that a parent's
    /// thread may have held: every call there fails with `Closed`, and dropping the copy
    /// touches nothing (see [`in_this_process`](Producer::in_this_process)).
    pid: u32,
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
        Ok(Producer { shared, task: Mutex::new(Some(task)), runtime, pid: std::process::id() })
    }

    /// Queues one record; returns without waiting for the network.
    ///
    /// Waits up to `enqueue_timeout` while the queue is full (`queue_capacity` records, or
    /// `queue_bytes` payload bytes with this record counted) and fails with `QueueFull`
    /// after. `TooLarge` over `max_record_len`; `Closed` after [`close`](Producer::close);
    /// `Unauthenticated` / `PermissionDenied` at once after the server refused this
    /// producer's credentials; `NoSpace` at once (the record is not queued) while the server
    /// reports a full disk, until it acknowledges again (what was queued before is kept and
    /// retried; see [Delivery](super#delivery-exactly-once-native-at-least-once-legacy)).
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
    /// has no room for the record. Other errors as `commit` (`NoSpace` included).
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

    /// `Closed` in a process forked from the one that started this producer.
    fn in_this_process(&self) -> Result<()> {
        if self.pid != std::process::id() {
            return Err(Error::new(
                ErrorKind::Closed,
                "this producer was started in the parent process before a fork; start a new one here",
            ));
        }
        Ok(())
    }

    /// `TooLarge` over `max_record_len` (and `Closed` in a forked child).
    fn checked(&self, data: Bytes) -> Result<Bytes> {
        self.in_this_process()?;
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
    /// good since the last flush or close that reported a refusal (each is reported
    /// once), and at once (also while waiting) when it refused this
    /// producer's credentials (`Unauthenticated` / `PermissionDenied`) or reports a full
    /// disk (`NoSpace`: the records are kept and retried, a later flush may succeed).
    pub fn flush(&self, timeout: Option<Duration>) -> Result<()> {
        self.wait_settled(timeout, true)
    }

    /// Waits for every record committed so far to settle. `fail_fast`: return as soon as
    /// the server reports a full disk (a flush), rather than waiting for it to recover
    /// (a close: the last chance to deliver).
    fn wait_settled(&self, timeout: Option<Duration>, fail_fast: bool) -> Result<()> {
        self.in_this_process()?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.shared.lock();
        let target = st.committed;
        st.flushing += 1;
        self.shared.wake.notify_one();
        while st.acked < target && st.ended.is_none() && !st.stopped && !(fail_fast && st.no_space.is_some()) {
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
        Self::outcome(&mut st, target)
    }

    /// [`flush`](Producer::flush) for async code: does not block the thread.
    pub async fn flush_async(&self, timeout: Option<Duration>) -> Result<()> {
        self.wait_settled_async(timeout, true).await
    }

    /// [`wait_settled`](Producer::wait_settled) for async code.
    async fn wait_settled_async(&self, timeout: Option<Duration>, fail_fast: bool) -> Result<()> {
        self.in_this_process()?;
        let target = {
            let mut st = self.shared.lock();
            st.flushing += 1;
            st.committed
        };
        // Undone however the wait ends, a caller dropping this future included: a count
        // left raised would keep the linger off for good.
        let flushing = Flushing(&self.shared);
        self.shared.wake.notify_one();
        let mut rx = self.shared.settled_watch.subscribe();
        let wait = rx.wait_for(|s| s.acked >= target || s.done || (fail_fast && s.no_space));
        let _ = match timeout {
            Some(t) => tokio::time::timeout(t, wait).await.ok().map(|_| ()),
            None => wait.await.ok().map(|_| ()),
        };
        drop(flushing);
        Self::outcome(&mut self.shared.lock(), target)
    }

    /// What a flush or close up to record `target` returns. Records the server refused
    /// (since the last flush or close that reported a refusal) come first: they are gone
    /// for good, and nothing else would tell the application.
    fn outcome(st: &mut State, target: u64) -> Result<()> {
        if st.rejected > st.rejected_reported {
            let n = st.rejected - st.rejected_reported;
            st.rejected_reported = st.rejected;
            let (kind, why) = st.last_rejection.clone().unwrap_or((ErrorKind::InvalidArgument, String::new()));
            return Err(Error::new(kind, format!("{n} records were refused by the server: {why}")));
        }
        if let Some(err) = st.ended_error() {
            return Err(err);
        }
        if st.acked < target
            && let Some(why) = &st.no_space
        {
            let n = target - st.acked;
            let message = if st.closed {
                format!("{n} records were not acknowledged before close: the server has no space left ({why})")
            } else {
                format!(
                    "{n} records not acknowledged yet: the server has no space left ({why}); the producer keeps \
                     them and retries"
                )
            };
            return Err(Error::new(ErrorKind::NoSpace, message));
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
        Ok(())
    }

    /// Stops accepting records, waits (up to `timeout`) until everything is acknowledged,
    /// then stops the background task. Records still unacknowledged then are lost, and a
    /// later `flush` or `close` returns `Closed` at once (instead of waiting for acks that
    /// cannot come). After the server refused the credentials it returns that error at once.
    /// A server out of space does not end the wait (unlike `flush`): its retries go on
    /// until `timeout`, and `NoSpace` is returned if records are still not stored then.
    pub fn close(&self, timeout: Option<Duration>) -> Result<()> {
        self.in_this_process()?;
        self.mark_closed();
        let result = self.wait_settled(timeout, false);
        self.stop_task();
        result
    }

    /// [`close`](Producer::close) for async code.
    pub async fn close_async(&self, timeout: Option<Duration>) -> Result<()> {
        self.in_this_process()?;
        self.mark_closed();
        let result = self.wait_settled_async(timeout, false).await;
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

/// A flush in progress (`State::flushing`), counted down when dropped.
struct Flushing<'a>(&'a Shared);

impl Drop for Flushing<'_> {
    fn drop(&mut self) {
        self.0.lock().flushing -= 1;
    }
}

impl Drop for Producer {
    /// Stops accepting records; the task keeps delivering what was queued for a while.
    fn drop(&mut self) {
        if self.pid != std::process::id() {
            // A forked copy: its task does not run here and its locks may be held for good.
            std::mem::forget(self.task.get_mut().unwrap_or_else(|p| p.into_inner()).take());
            return;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancelled_flush_is_no_longer_counted() {
        // Nothing listens there: the flush waits until it is dropped.
        let p = Producer::connect("127.0.0.1:9", ProducerOptions::default()).unwrap();
        p.commit(1, "x").unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(20), p.flush_async(None)).await;
        assert!(waited.is_err(), "the flush was still waiting");
        assert_eq!(p.shared.lock().flushing, 0);
    }
}
