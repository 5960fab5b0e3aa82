//! The gRPC port's idle timeout: a connection that holds no call is closed.
//!
//! A connection that finished its handshake but has had no call open (no ingest stream,
//! no subscription, no unary call) for [`NetLimits::idle_timeout`](super::listener::NetLimits)
//! is closed. HTTP/2 pings do not count as use: a client that only answers the server's
//! keepalive pings would otherwise hold its place under the connection cap for ever.
//! Well-behaved clients do not notice: a producer or replica keeps its call open, and a
//! tonic channel (every SDK, `modsynclog-client`) reconnects on its next call.
//!
//! [`CallsLayer`] counts each connection's calls, from a request's arrival at its service
//! to the end (or drop) of its response body, in the [`Calls`] the listener made for the
//! connection; [`IdleTimer`], polled on the connection's read path, ends the connection
//! once the count has stayed at zero for the timeout.
//!
//! A call is counted only when the task hyper spawns for its stream first runs, after the
//! connection has read the request. So bytes read just before the time runs out (or still
//! waiting in the socket) put the close off by [`READ_GRACE`], a few times at most: long
//! enough for a call among them to be counted, too short for a client that only pings to
//! stay.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tonic::body::Body;
use tonic::codegen::{Service, http};

use crate::access::PeerInfo;

/// What tonic puts in every request of a connection: who the peer is, and its call count.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: PeerInfo,
    pub calls: Arc<Calls>,
}

/// The calls open on one connection, and since when none has been.
#[derive(Debug)]
pub struct Calls {
    open: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Calls {
    pub fn new() -> Arc<Calls> {
        Arc::new(Calls { open: AtomicUsize::new(0), idle_since: Mutex::new(Instant::now()) })
    }

    /// A call starts; it ends when the guard is dropped.
    fn begin(self: &Arc<Self>) -> CallGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        CallGuard(self.clone())
    }

    /// How long no call has been open (`None` while one is).
    fn idle_for(&self) -> Option<Duration> {
        // The count first: once it reads zero, the last call's end stamp (written before
        // its decrement, see `CallGuard`) is what the lock gives. A call that begins just
        // after is what `IdleTimer`'s read grace is for.
        if self.open.load(Ordering::SeqCst) != 0 {
            return None;
        }
        Some(self.idle_since.lock().unwrap_or_else(|p| p.into_inner()).elapsed())
    }
}

struct CallGuard(Arc<Calls>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        // The stamp before the decrement: a timer that sees the count at zero then reads
        // this stamp, not the one from before the call.
        *self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Wakes the connection's task when its idle time may be up; polled from its reads.
pub struct IdleTimer {
    calls: Arc<Calls>,
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
    /// When the connection last read bytes (see [`READ_GRACE`]).
    last_read: Option<Instant>,
    /// Closes put off in a row with no call counted since.
    postponed: u32,
}

/// How long bytes read (or waiting) as the idle time runs out put the close off: time for
/// the call they may hold to be counted.
pub const READ_GRACE: Duration = Duration::from_secs(1);
/// Closes put off in a row at most, so that a client sending pings (or anything but
/// calls) every second is closed all the same.
pub const MAX_POSTPONED: u32 = 3;

/// The longest idle timeout taken: a longer one would overflow the clock's arithmetic.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(365 * 86_400);

impl IdleTimer {
    pub fn new(calls: Arc<Calls>, timeout: Duration) -> IdleTimer {
        let timeout = timeout.min(MAX_IDLE_TIMEOUT);
        IdleTimer { calls, timeout, sleep: Box::pin(tokio::time::sleep(timeout)), last_read: None, postponed: 0 }
    }

    /// The call count this timer watches (the one the connection hands to tonic).
    pub fn calls(&self) -> &Arc<Calls> {
        &self.calls
    }

    /// The connection read some bytes.
    pub fn read_some(&mut self) {
        self.last_read = Some(Instant::now());
    }

    /// True once the connection is to be closed: no call for the timeout, and no bytes
    /// read within [`READ_GRACE`] or `input_waiting` (unless the close was put off
    /// [`MAX_POSTPONED`] times already). Until then the timer is armed with `cx`'s waker
    /// for the earliest moment that could be so.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>, input_waiting: impl Fn() -> bool) -> bool {
        while self.sleep.as_mut().poll(cx).is_ready() {
            let next = match self.calls.idle_for() {
                Some(idle) if idle >= self.timeout => {
                    let recent = self.last_read.is_some_and(|t| t.elapsed() < READ_GRACE);
                    if self.postponed >= MAX_POSTPONED || !(recent || input_waiting()) {
                        return true;
                    }
                    self.postponed += 1;
                    READ_GRACE
                }
                Some(idle) => {
                    self.postponed = 0;
                    self.timeout - idle
                }
                None => {
                    self.postponed = 0;
                    self.timeout
                }
            };
            self.sleep.as_mut().reset(Instant::now() + next);
        }
        false
    }
}

/// Counts the calls of each connection (see the module docs) and puts the connection's
/// [`PeerInfo`] in the request, where the access guards look for it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallsLayer;

impl<S> tower_layer::Layer<S> for CallsLayer {
    type Service = CallsService<S>;

    fn layer(&self, inner: S) -> CallsService<S> {
        CallsService(inner)
    }
}

#[derive(Debug, Clone)]
pub struct CallsService<S>(S);

type Req = http::Request<Body>;
type Resp = http::Response<Body>;

impl<S> Service<Req> for CallsService<S>
where
    S: Service<Req, Response = Resp>,
    S::Future: Send + 'static,
{
    type Response = Resp;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Resp, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: Req) -> Self::Future {
        let conn = req.extensions().get::<ConnInfo>().cloned();
        let guard = conn.map(|c| {
            req.extensions_mut().insert(c.peer);
            c.calls.begin()
        });
        let response = self.0.call(req);
        Box::pin(async move {
            let response = response.await?;
            Ok(match guard {
                Some(guard) => response.map(|body| Body::new(Counted { body, _guard: guard })),
                None => response,
            })
        })
    }
}

/// A response body that keeps its call counted until it ends or is dropped.
struct Counted {
    body: Body,
    _guard: CallGuard,
}

impl HttpBody for Counted {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn expires_only_after_the_timeout_with_no_call_open() {
        let calls = Calls::new();
        let mut timer = IdleTimer::new(calls.clone(), MINUTE);
        let mut cx = Context::from_waker(Waker::noop());
        let quiet = || false;
        assert!(!timer.poll_expired(&mut cx, quiet));

        let call = calls.begin();
        tokio::time::advance(5 * MINUTE).await;
        assert!(!timer.poll_expired(&mut cx, quiet), "a call is open: not idle however long");
        drop(call);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(!timer.poll_expired(&mut cx, quiet), "idle for 59 s of 60");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(timer.poll_expired(&mut cx, quiet), "idle for 61 s");
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_read_or_waiting_put_the_close_off_a_few_times() {
        let calls = Calls::new();
        let mut timer = IdleTimer::new(calls.clone(), MINUTE);
        let mut cx = Context::from_waker(Waker::noop());

        // Read just before the time ran out: a grace, then closed if no call was counted.
        tokio::time::advance(MINUTE - Duration::from_millis(500)).await;
        timer.read_some();
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(!timer.poll_expired(&mut cx, || false), "read 0.6 s ago");
        tokio::time::advance(READ_GRACE).await;
        assert!(timer.poll_expired(&mut cx, || false), "nothing read in the grace");

        // A call counted in the grace keeps the connection, and starts the count again.
        let mut timer = IdleTimer::new(calls.clone(), MINUTE);
        tokio::time::advance(MINUTE).await;
        assert!(!timer.poll_expired(&mut cx, || true), "bytes waiting");
        let call = calls.begin();
        tokio::time::advance(5 * MINUTE).await;
        assert!(!timer.poll_expired(&mut cx, || true));
        drop(call);

        // Bytes waiting at every look, never a call: put off MAX_POSTPONED times, then closed.
        tokio::time::advance(MINUTE).await;
        for n in 0..MAX_POSTPONED {
            assert!(!timer.poll_expired(&mut cx, || true), "put off {n} times so far");
            tokio::time::advance(READ_GRACE).await;
        }
        assert!(timer.poll_expired(&mut cx, || true), "put off {MAX_POSTPONED} times: closed");
    }
}
