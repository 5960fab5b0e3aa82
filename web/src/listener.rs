//! The HTTP port's listener: a cap on open connections, each counted in
//! `modsynclog_connections{port="http"}` while it lives.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use modsynclog_core::metrics::{ConnectionGuard, Port, ServerMetrics};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) struct Capped {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    metrics: Option<Arc<ServerMetrics>>,
    refused: u64,
}

impl Capped {
    pub(crate) fn new(inner: TcpListener, max: usize, metrics: Option<Arc<ServerMetrics>>) -> Capped {
        Capped { inner, slots: Arc::new(Semaphore::new(max.max(1))), metrics, refused: 0 }
    }
}

/// An accepted connection holding its slot (and its count) until dropped.
pub(crate) struct Conn {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    _counted: Option<ConnectionGuard>,
}

impl axum::serve::Listener for Capped {
    type Io = Conn;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.inner.accept().await {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                self.refused += 1;
                if self.refused.is_power_of_two() {
                    tracing::warn!(%addr, refused = self.refused, "http connection cap reached; closing new connections");
                }
                continue;
            };
            let counted = self.metrics.as_ref().map(|m| m.connection(Port::Http));
            return (Conn { stream, _slot: slot, _counted: counted }, addr);
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl AsyncRead for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
