//! The HTTP port's accept loop: a cap on open connections, each counted in
//! `modsynclog_connections{port="http"}` while it lives, a deadline for a request's head
//! (a connection that sends nothing, or stays idle between requests, is closed), and on
//! shutdown every connection closed, live tails too.
//!
//! hyper is used directly rather than through `axum::serve`, which sets no timer and so
//! no header timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use modsynclog_core::metrics::{Port, ServerMetrics};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// A request's head must arrive within this, counted from the connection's start or the
/// end of the previous answer (so idle keep-alive connections go too).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` turns true; at most `max` connections.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    max: usize,
    metrics: Option<Arc<ServerMetrics>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max.max(1)));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    let mut refused = 0u64;
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            // (The guard `wait_for` returns must not live across an await.)
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => return,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(%addr, refused, "http connection cap reached; closing new connections");
            }
            continue;
        };
        let counted = metrics.as_ref().map(|m| m.connection(Port::Http));
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let (_slot, _counted) = (slot, counted);
            tokio::select! {
                r = connection => if let Err(e) = r {
                    tracing::debug!(%addr, error = %e, "http connection ended");
                },
                // Dropping the connection closes it (a live tail never ends by itself).
                _ = async { drop(stop.wait_for(|s| *s).await) } => {}
            }
        });
    }
}
