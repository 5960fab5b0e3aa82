//! The producer's bounded queue: what `commit` fills, the background task drains and
//! `flush` waits on. [`Producer`](super::Producer) is the public face of it.
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
//!
//! A server whose disk is full answers `NoSpace`: that is not the end, the records are kept
//! and retried, but until the server stores again (the next ack) the producer is *out of
//! space* (`State::no_space`): commits fail with `NoSpace` at once (nothing is queued, so
//! memory does not grow), a flush returns it at once, and the waiters are woken to see it.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, watch};

use super::ProducerOptions;
use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(super) queue: VecDeque<(i16, Bytes)>,
    pub(super) queue_bytes: usize,
    /// When the oldest queued record arrived (for the linger).
    pub(super) oldest: Option<Instant>,
    pub(super) committed: u64,
    pub(super) acked: u64,
    pub(super) rejected: u64,
    /// Of `rejected`, the records a `flush` or `close` has reported: each refusal is
    /// reported once, by the first one to return after it.
    pub(super) rejected_reported: u64,
    /// The last refusal, kept apart from `last_error` (which a reconnect overwrites).
    pub(super) last_rejection: Option<(ErrorKind, String)>,
    pub(super) closed: bool,
    pub(super) flushing: usize,
    pub(super) last_error: Option<(ErrorKind, String)>,
    /// Why the producer ended for good (credentials refused): every call returns it.
    pub(super) ended: Option<(ErrorKind, String)>,
    /// `close` stopped the task: nothing more will be acknowledged.
    pub(super) stopped: bool,
    /// The server's `NoSpace` answer while its disk is full (cleared by the next ack).
    pub(super) no_space: Option<String>,
}

impl State {
    pub(super) fn ended_error(&self) -> Option<Error> {
        self.ended.as_ref().map(|(kind, message)| Error::new(*kind, message.clone()))
    }

    /// `NoSpace` while the server reports a full disk: what `commit` returns then.
    pub(super) fn no_space_error(&self) -> Option<Error> {
        self.no_space.as_ref().map(|why| {
            let kept = self.committed - self.acked;
            Error::new(
                ErrorKind::NoSpace,
                format!(
                    "the server has no space left ({why}); records are not accepted until it stores again \
                     (the producer keeps its {kept} unacknowledged records and retries)"
                ),
            )
        })
    }
}

/// What the settled watch carries: records settled so far, whether no more will be (the
/// producer ended, or `close` stopped its task), and whether the server is out of space.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Settled {
    pub(super) acked: u64,
    pub(super) done: bool,
    pub(super) no_space: bool,
}

/// Whether a record was queued, or (given back) why not.
pub(super) enum Push {
    Queued,
    Full(Bytes),
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) opts: ProducerOptions,
    pub(super) state: Mutex<State>,
    /// Room in the queue, for blocking `commit` calls.
    pub(super) space: Condvar,
    /// Room in the queue, for `commit_async` (woken with `notify_waiters`).
    pub(super) space_async: Notify,
    pub(super) settled: Condvar,
    pub(super) settled_watch: watch::Sender<Settled>,
    pub(crate) wake: Notify,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
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
                    // A linger too long for an `Instant` (`Duration::MAX`: only size or a
                    // flush sends) waits for the wake-up alone.
                    st.oldest.and_then(|t| t.checked_add(self.opts.linger))
                }
            };
            match wait {
                Some(deadline) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = super::linger::sleep_until(deadline) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    pub(super) fn take(&self, st: &mut State, max_records: usize) -> Vec<(i16, Bytes)> {
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

    /// Queues the record when there is room (or fails: ended, closed, the server out of
    /// space); gives it back when the queue is full. A record larger than `queue_bytes`
    /// fits only an empty queue.
    pub(super) fn push(&self, st: &mut State, ty: i16, data: Bytes) -> Result<Push> {
        if let Some(err) = st.ended_error() {
            return Err(err);
        }
        if st.closed {
            return Err(Error::new(ErrorKind::Closed, "the producer is closed"));
        }
        if let Some(err) = st.no_space_error() {
            return Err(err);
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
    pub(super) fn queue_full(&self, st: &State, len: usize, waited: Option<Duration>) -> Error {
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

    /// `count` more records (the oldest unsettled ones) were acknowledged: the server
    /// stores again, so a `NoSpace` state ends.
    pub(crate) fn acked(&self, count: u64) {
        self.settle(count, true);
    }

    /// `count` records were refused by the server for good.
    pub(crate) fn rejected(&self, count: u64, err: &Error) {
        tracing::error!(error = %err, records = count, "the server refused a batch; it is dropped");
        let mut st = self.lock();
        st.rejected += count;
        st.last_error = Some((err.kind(), err.to_string()));
        st.last_rejection = Some((err.kind(), err.to_string()));
        drop(st);
        self.settle(count, false);
    }

    /// `count` more records are settled; `stored`: the server stored (or had stored) them.
    /// The out-of-space state ends with a stored batch, or once nothing is left to
    /// settle (the last kept batch refused for good: no ack would ever end it).
    fn settle(&self, count: u64, stored: bool) {
        let mut st = self.lock();
        st.acked += count;
        let acked = st.acked;
        let recovered = (stored || st.acked == st.committed) && st.no_space.take().is_some();
        drop(st);
        if recovered && stored {
            tracing::info!("the server stores again after running out of space; commits are accepted again");
        } else if recovered {
            tracing::info!(
                "the last records kept while the server had no space were refused; commits are accepted again"
            );
        }
        self.settled.notify_all();
        self.settled_watch.send_modify(|s| {
            s.acked = acked;
            if recovered {
                s.no_space = false;
            }
        });
    }

    /// Remembers a failure. A transient one is kept for a `flush` that times out, and
    /// `false` returned: retry. `NoSpace` (the server's disk is full) is retried too, but
    /// also puts the producer out of space ([`out_of_space`](Shared::out_of_space)). One
    /// that retrying cannot fix (the server refused the credentials: [`Error::is_auth`])
    /// ends the producer ([`end`](Shared::end)); `true`: the task must stop.
    pub(crate) fn failed(&self, err: &Error) -> bool {
        if err.is_auth() {
            self.end(err);
            return true;
        }
        if err.kind() == ErrorKind::NoSpace {
            self.out_of_space(err);
            return false;
        }
        tracing::debug!(error = %err, "sending failed; will retry");
        self.lock().last_error = Some((err.kind(), err.to_string()));
        false
    }

    /// The server answered `NoSpace`: until its next ack, commits fail with it and flushes
    /// return it at once. Waiting commits and flushes are woken to see it. Nothing queued is
    /// dropped: the task retries with backoff.
    fn out_of_space(&self, err: &Error) {
        let mut st = self.lock();
        let first = st.no_space.is_none();
        st.no_space = Some(err.to_string());
        st.last_error = Some((err.kind(), err.to_string()));
        let kept = st.committed - st.acked;
        drop(st);
        if first {
            tracing::warn!(
                error = %err,
                kept,
                "the server has no space left: records are kept and retried; commits fail with NoSpace until it \
                 stores again"
            );
        } else {
            tracing::debug!(error = %err, kept, "the server still has no space left; will retry");
        }
        self.space.notify_all();
        self.space_async.notify_waiters();
        self.settled.notify_all();
        self.settled_watch.send_modify(|s| s.no_space = true);
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
    pub(super) fn stopped(&self) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(opts: ProducerOptions) -> Shared {
        Shared {
            opts,
            state: Mutex::default(),
            space: Condvar::new(),
            space_async: Notify::new(),
            settled: Condvar::new(),
            settled_watch: watch::channel(Settled::default()).0,
            wake: Notify::new(),
        }
    }

    /// A linger too long for an `Instant` means "only a full batch or a flush sends": the
    /// batch waits (computing its deadline overflowed and killed the task once), and a
    /// flush sends it.
    #[tokio::test]
    async fn an_endless_linger_waits_for_a_flush() {
        let s = shared(ProducerOptions { linger: Duration::MAX, ..ProducerOptions::default() });
        assert!(matches!(s.push(&mut s.lock(), 1201, Bytes::from_static(b"r")), Ok(Push::Queued)));
        let waited = tokio::time::timeout(Duration::from_millis(20), s.next_batch(usize::MAX)).await;
        assert!(waited.is_err(), "a batch left before its (endless) linger");
        s.lock().flushing += 1;
        assert_eq!(s.next_batch(usize::MAX).await.map(|b| b.len()), Some(1));
    }

    /// Out of space, the last kept batch is then refused for good (the server restarted
    /// with smaller limits): with nothing left to acknowledge, the state must end, or every
    /// commit would fail with `NoSpace` forever.
    #[test]
    fn out_of_space_ends_when_nothing_is_left_to_settle() {
        let s = shared(ProducerOptions::default());
        for _ in 0..2 {
            assert!(matches!(s.push(&mut s.lock(), 1201, Bytes::from_static(b"r")), Ok(Push::Queued)));
        }
        s.take(&mut s.lock(), usize::MAX);
        assert!(!s.failed(&Error::new(ErrorKind::NoSpace, "disk full")));
        s.rejected(1, &Error::new(ErrorKind::TooLarge, "over the new limit"));
        assert!(s.lock().no_space_error().is_some(), "one record is still kept");
        s.rejected(1, &Error::new(ErrorKind::TooLarge, "over the new limit"));
        assert!(s.lock().no_space_error().is_none(), "nothing kept: no longer out of space");
        assert!(matches!(s.push(&mut s.lock(), 1201, Bytes::from_static(b"r")), Ok(Push::Queued)));
    }
}
