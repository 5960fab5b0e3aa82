//! The gRPC port's accept loop: connection cap, handshake timeout, optional TLS.
//!
//! Accepting never waits for a client: each accepted socket gets its own task, which
//! waits (at most [`NetLimits::handshake_timeout`]) for the client's first bytes, or for
//! the whole TLS handshake, and only then hands the connection to tonic. A client that
//! connects and sends nothing is dropped when the timeout passes; past
//! [`NetLimits::max_connections`] new sockets are closed at once. Each connection carries
//! its [`PeerInfo`] (address, client certificates) into every request's extensions, and
//! is closed once it has held no call for [`NetLimits::idle_timeout`] (see [`super::idle`]).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::io::Interest;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use super::idle::{Calls, ConnInfo, IdleTimer};
pub use crate::access::PeerInfo;
use crate::metrics::{ConnectionGuard, Port, ServerMetrics};
use crate::tls::ReloadingAcceptor;

/// Connection limits of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetLimits {
    /// Open connections at most; more are closed as soon as they are accepted (default 1024).
    pub max_connections: usize,
    /// Concurrent HTTP/2 streams (calls) per connection (default 128).
    pub max_streams: u32,
    /// A new connection must send its first bytes, and finish a TLS handshake, within
    /// this (default 10 s).
    pub handshake_timeout: Duration,
    /// Native sync subscriptions open at once (default 128).
    pub max_subscribers: usize,
    /// Ingest calls (streams, unary appends and `StoredSeq`) in progress at once (default
    /// 256), and as many legacy unary calls, counted apart.
    pub max_ingest_calls: usize,
    /// A connection with no call open for this long is closed (default 5 min); HTTP/2
    /// pings do not count as calls. At most [`MAX_IDLE_TIMEOUT`] (longer counts as that);
    /// the server's flag refuses 0, which would close connections between calls.
    ///
    /// [`MAX_IDLE_TIMEOUT`]: super::idle::MAX_IDLE_TIMEOUT
    pub idle_timeout: Duration,
}

impl Default for NetLimits {
    fn default() -> Self {
        NetLimits {
            max_connections: 1024,
            max_streams: 128,
            handshake_timeout: Duration::from_secs(10),
            max_subscribers: crate::server::sync_service::MAX_SUBSCRIBERS,
            max_ingest_calls: crate::server::ingest::MAX_INGEST_CALLS,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// An accepted connection, plain or TLS, holding its place under the connection cap.
pub struct Conn {
    io: Io,
    peer: PeerInfo,
    /// Also holds the connection's call count, which tonic's requests carry.
    idle: IdleTimer,
    _permit: OwnedSemaphorePermit,
    /// Counted in `modsynclog_connections{port="grpc"}` while open.
    _counted: Option<ConnectionGuard>,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        ConnInfo { peer: self.peer.clone(), calls: self.idle.calls().clone() }
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Idle: the end of the stream, as if the client had closed, and hyper drops the
        // connection (see `IdleTimer` for why bytes read or waiting put it off).
        let io = &this.io;
        if this.idle.poll_expired(cx, || input_waiting(io)) {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let read = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        if buf.filled().len() > before {
            this.idle.read_some();
        }
        read
    }
}

/// Whether the client has sent bytes that were not read yet.
fn input_waiting(io: &Io) -> bool {
    let tcp = match io {
        Io::Plain(s) => s,
        Io::Tls(s) => s.get_ref().0,
    };
    matches!(peek_now(tcp, &mut [0u8; 1]), Ok(n) if n > 0)
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Counters of refused connections: they keep a flood of refusals from flooding the log.
#[derive(Debug, Default)]
struct ListenerStats {
    /// Closed at once: the connection cap was reached.
    over_limit: AtomicU64,
    /// Did not send the HTTP/2 preface, or finish the TLS handshake, in time.
    handshake_timeouts: AtomicU64,
    /// The handshake failed (not HTTP/2, wrong CA, no client certificate, not TLS...).
    handshake_failures: AtomicU64,
}

/// Accepts on `listener` until `stop`; the stream tonic serves from. The tonic server must
/// carry [`CallsLayer`](super::idle::CallsLayer): it counts the calls the idle timeout
/// looks at, and hands the access guards each request's [`PeerInfo`].
pub fn incoming(
    listener: TcpListener,
    tls: Option<ReloadingAcceptor>,
    limits: NetLimits,
    mut stop: watch::Receiver<bool>,
    metrics: Option<Arc<ServerMetrics>>,
) -> ReceiverStream<io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(64);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let stats = Arc::new(ListenerStats::default());
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.wait_for(|s| *s) => return,
            };
            let (stream, remote) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "gRPC accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                let n = stats.over_limit.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() {
                    tracing::warn!(%remote, max = limits.max_connections, refused = n + 1, "gRPC connection cap reached; closing new connections");
                }
                drop(stream);
                continue;
            };
            let (tx, tls, stats) = (tx.clone(), tls.clone(), stats.clone());
            let counted = metrics.as_ref().map(|m| m.connection(Port::Grpc));
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                match tokio::time::timeout(limits.handshake_timeout, handshake(stream, remote, tls)).await {
                    Ok(Ok((io, certs))) => {
                        let peer = PeerInfo { remote_addr: Some(remote), certs };
                        let idle = IdleTimer::new(Calls::new(), limits.idle_timeout);
                        let conn = Conn { io, peer, idle, _permit: permit, _counted: counted };
                        let _ = tx.send(Ok(conn)).await;
                    }
                    Ok(Err(e)) => {
                        // Every failure is worth a line until a flood makes it noise.
                        let n = stats.handshake_failures.fetch_add(1, Ordering::Relaxed);
                        if n < 16 || n.is_power_of_two() {
                            tracing::info!(%remote, error = %e, failures = n + 1, "gRPC connection refused: handshake failed");
                        }
                    }
                    Err(_) => {
                        stats.handshake_timeouts.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%remote, "gRPC connection dropped: nothing sent within the handshake timeout");
                    }
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

type Certs = Option<Arc<Vec<CertificateDer<'static>>>>;

/// What every HTTP/2 client sends first (RFC 9113, 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits for the client's whole HTTP/2 preface (plain: a client that sends a byte and
/// stops does not hold a slot past the timeout), or the TLS handshake.
async fn handshake(stream: TcpStream, remote: SocketAddr, tls: Option<ReloadingAcceptor>) -> io::Result<(Io, Certs)> {
    let Some(tls) = tls else {
        let mut probe = [0u8; PREFACE.len()];
        loop {
            stream.readable().await?;
            // A part of the preface counts as "would block": that clears the readiness, so
            // the next segment wakes us (no polling while a client dribbles it in).
            let peeked = stream.try_io(Interest::READABLE, || match peek_now(&stream, &mut probe)? {
                n if n > 0 && n < PREFACE.len() && probe[..n] == PREFACE[..n] => Err(io::ErrorKind::WouldBlock.into()),
                n => Ok(n),
            });
            let n = match peeked {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{remote} closed at once")));
            }
            if probe[..n] != PREFACE[..n] {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{remote} does not speak HTTP/2")));
            }
            return Ok((Io::Plain(stream), None));
        }
    };
    let stream = tls.acceptor().accept(stream).await?;
    let certs = stream.get_ref().1.peer_certificates().map(|c| Arc::new(c.to_vec()));
    Ok((Io::Tls(Box::new(stream)), certs))
}

/// `recv(MSG_PEEK)` without waiting: what has arrived, left in the socket for hyper.
fn peek_now(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: recv writes at most `buf.len()` bytes into `buf`, which we own.
    let n = unsafe {
        libc::recv(stream.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK | libc::MSG_DONTWAIT)
    };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio_stream::StreamExt;

    use super::*;

    async fn listen(timeout: Duration) -> (SocketAddr, ReceiverStream<io::Result<Conn>>, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = NetLimits { handshake_timeout: timeout, ..NetLimits::default() };
        let (stop, stopping) = watch::channel(false);
        (addr, incoming(listener, None, limits, stopping, None), stop)
    }

    #[tokio::test]
    async fn a_preface_in_pieces_is_accepted_and_anything_else_is_not() {
        let (addr, mut conns, _stop) = listen(Duration::from_secs(30)).await;
        let mut bad = TcpStream::connect(addr).await.unwrap();
        bad.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut good = TcpStream::connect(addr).await.unwrap();
        good.write_all(&PREFACE[..10]).await.unwrap();
        good.flush().await.unwrap();
        tokio::task::yield_now().await;
        good.write_all(&PREFACE[10..]).await.unwrap();
        let conn = conns.next().await.expect("a connection").unwrap();
        assert_eq!(conn.peer.remote_addr, Some(good.local_addr().unwrap()), "only the HTTP/2 client is handed on");
    }

    #[tokio::test]
    async fn half_a_preface_is_dropped_at_the_timeout() {
        let (addr, _conns, _stop) = listen(Duration::from_millis(200)).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(&PREFACE[..5]).await.unwrap();
        let mut buf = [0u8; 8];
        let n = tokio::time::timeout(Duration::from_secs(10), tokio::io::AsyncReadExt::read(&mut slow, &mut buf))
            .await
            .expect("dropped by the handshake timeout, not kept");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
}
