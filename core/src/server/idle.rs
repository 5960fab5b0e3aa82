//! The gRPC port's idle timeout: a connection that holds no call is closed.
//!
//! A connection that finished its handshake but has had no call open (no ingest stream,
//! no subscription, no unary call) for [`NetLimits::idle_timeout`](super::listener::NetLimits)
//! is closed. HTTP/2 pings do not count as use: a client that only answers the server's
//! keepalive pings would otherwise hold its place under the connection cap for ever.
//! Well-behaved clients do not notice: a producer or replica keeps its call open, and a
//! tonic channel (every SDK, `modsynclog-client`) reconnects on its next call.
//!
//! [`CallsLayer`] counts each connection's calls, from a request's arrival to the end (or
//! drop) of its response body, in the [`Calls`] the listener made for the connection;
//! [`IdleTimer`], polled on the connection's read path, ends the connection once the
//! count has stayed at zero for the timeout.

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
        // its decrement, see `CallGuard`) is what the lock gives. Calls begin on the
        // connection's own task, which is also the one asking here, so none begins between.
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
}

/// The longest idle timeout taken: a longer one would overflow the clock's arithmetic.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(365 * 86_400);

impl IdleTimer {
    pub fn new(calls: Arc<Calls>, timeout: Duration) -> IdleTimer {
        let timeout = timeout.min(MAX_IDLE_TIMEOUT);
        IdleTimer { calls, timeout, sleep: Box::pin(tokio::time::sleep(timeout)) }
    }

    /// True once the connection has had no call for the timeout; until then the timer is
    /// armed with `cx`'s waker for the earliest moment that could be so.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        while self.sleep.as_mut().poll(cx).is_ready() {
            let next = match self.calls.idle_for() {
                Some(idle) if idle >= self.timeout => return true,
                Some(idle) => self.timeout - idle,
                None => self.timeout,
            };
            self.sleep.as_mut().reset(Instant::now() + next);
        }
        false
    }

    /// Bytes arrived just as the time ran out: they may hold a call not yet begun (read,
    /// but not yet handed to its service). Looks again after `grace`, by when it has.
    pub fn postpone(&mut self, grace: Duration, cx: &mut Context<'_>) {
        self.sleep.as_mut().reset(Instant::now() + grace);
        let _ = self.sleep.as_mut().poll(cx);
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

    #[tokio::test(start_paused = true)]
    async fn expires_only_after_the_timeout_with_no_call_open() {
        let calls = Calls::new();
        let mut timer = IdleTimer::new(calls.clone(), Duration::from_secs(60));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(!timer.poll_expired(&mut cx));

        let call = calls.begin();
        tokio::time::advance(Duration::from_secs(300)).await;
        assert!(!timer.poll_expired(&mut cx), "a call is open: not idle however long");
        drop(call);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(!timer.poll_expired(&mut cx), "idle for 59 s of 60");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(timer.poll_expired(&mut cx), "idle for 61 s");

        // Bytes came in as it ran out: a second's grace, then closed unless a call began.
        timer.postpone(Duration::from_secs(1), &mut cx);
        assert!(!timer.poll_expired(&mut cx), "within the grace");
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert!(timer.poll_expired(&mut cx), "no call began in the grace");
        timer.postpone(Duration::from_secs(1), &mut cx);
        let call = calls.begin();
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(!timer.poll_expired(&mut cx), "a call began in the grace");
        drop(call);
    }
}
