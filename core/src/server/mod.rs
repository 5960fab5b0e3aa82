//! The server's ingest side: one writer thread owning the store, and the gRPC services
//! feeding it.
//!
//! - [`writer`]: the single writer (group commit, day rollover, acks after the append);
//! - [`legacy_grpc`]: `grpc_proto_log.Log`, wire-compatible with the Go SDK;
//! - [`ingest`]: `modsynclog.v1.Ingest`, batched and streamed;
//! - [`listener`]: the gRPC port's accept loop (connection cap, handshake timeout, TLS);
//! - [`security`]: the start-up check that refuses an unprotected public address;
//! - [`limits`]: size and memory limits (credentials and scopes live in [`crate::access`]);
//! - [`dedup`]: the per-producer journal that makes native ingest exactly-once.
//!
//! [`start`] opens the store, spawns the writer, binds the gRPC port and serves;
//! [`RunningServer::shutdown`] stops accepting, writes and acknowledges everything already
//! queued, syncs and returns. When `sync_addr` is set, the legacy sync socket
//! ([`crate::legacy::serve`]) runs beside it, so original Go replicas can copy the store.

pub mod ack;
pub mod dedup;
pub mod idle;
pub mod ingest;
pub mod legacy_grpc;
pub mod limits;
pub mod listener;
pub mod security;
pub mod sync_service;
pub mod writer;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use ack::AckWhen;
pub use ingest::IngestService;
pub use legacy_grpc::LegacyLogService;
pub use limits::Limits;
pub use listener::NetLimits;
pub use sync_service::SyncService;
pub use writer::{Ack, Batch, MAX_FINISH_GRACE, Origin, PendingAck, WriterHandle};

use crate::access::{AllowList, LegacyGuard, Scope};
use crate::clock::{SharedClock, SystemClock};
use crate::error::{Error, ErrorKind, Result};
use crate::legacy::LegacyServerConfig;
use crate::metrics::fsync::TimedVfs;
use crate::metrics::{ServerMetrics, Source};
use crate::store::io::{StdVfs, Vfs};
use crate::store::{Durability, Recovery, Signal, Store, StoreOptions};
use crate::tls::{ReloadingAcceptor, ServerTls};
use writer::WriterControl;

/// Batches the writer's queue holds before ingest handlers wait for room (its bytes are
/// bounded by [`Limits::writer_queue_bytes`]).
const WRITER_QUEUE: usize = 1024;
/// How often the writer looks at the clock when idle (to finish a day after midnight).
const ROLLOVER_TICK: Duration = Duration::from_secs(1);
/// HTTP/2 receive windows of the gRPC port (per stream, per connection).
const STREAM_WINDOW: u32 = 8 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;
/// HTTP/2 pings from the server: a peer that stops answering is dropped.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long shutdown waits for open gRPC calls before cutting them.
const GRACE: Duration = Duration::from_secs(10);

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub grpc_addr: SocketAddr,
    /// A bearer token granting both scopes (write: ingest; read: sync, status, metrics).
    pub token: Option<String>,
    /// The bearer token of the write scope (ingest); overrides `token` for it.
    pub ingest_token: Option<String>,
    /// The bearer token of the read scope (sync, status, metrics); overrides `token` for it.
    pub sync_token: Option<String>,
    /// TLS on the gRPC port; with `client_ca_file`, clients need certificates (mTLS).
    pub tls: Option<ServerTls>,
    /// With mTLS: the certificate names (CN or DNS name) granted the write scope
    /// (`None`: every verified client certificate).
    pub ingest_cert_names: Option<Vec<String>>,
    /// With mTLS: the certificate names granted the read scope (`None`: all).
    pub sync_cert_names: Option<Vec<String>>,
    /// Serve the legacy (credential-less) `grpc_proto_log.Log` even when the write scope is
    /// protected or the address is not loopback.
    pub allow_legacy: bool,
    /// When the legacy gRPC service answers a call (native producers: always durable).
    pub legacy_ack: AckWhen,
    /// Who may use the legacy gRPC service and the legacy sync socket. `None`: loopback
    /// only, and such a service on a non-loopback address refuses to start.
    pub legacy_allow: Option<AllowList>,
    /// Serve a non-loopback address without protection (logs a warning).
    pub insecure: bool,
    /// Connection limits of the gRPC port.
    pub net: NetLimits,
    pub durability: Durability,
    /// What opening the store does about damage in unfinished days.
    pub recovery: Recovery,
    pub clock: SharedClock,
    /// How long after midnight the previous day stays open for batches that ask for it
    /// (the Kafka import's `day = "timestamp"`); replicas move on once it is finished.
    /// Zero (the default): a day is finished at midnight, as the original does. At most
    /// [`MAX_FINISH_GRACE`].
    pub finish_grace: Duration,
    pub limits: Limits,
    /// A timer beside the writer's signal for caught-up sync subscriptions (native and
    /// legacy). `None` (the default): none; the writer raises the signal on every change.
    pub fallback_poll: Option<Duration>,
    /// The legacy sync socket for Go replicas; `None` leaves it off.
    pub sync_addr: Option<SocketAddr>,
    pub legacy_sync: LegacyServerConfig,
    /// The file system the store is written and read through (tests inject faults here).
    pub vfs: Arc<dyn Vfs>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data_dir: PathBuf::from("./data"),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 1235)),
            token: None,
            ingest_token: None,
            sync_token: None,
            tls: None,
            ingest_cert_names: None,
            sync_cert_names: None,
            allow_legacy: false,
            legacy_ack: AckWhen::Durable,
            legacy_allow: None,
            insecure: false,
            net: NetLimits::default(),
            durability: Durability::Batch,
            recovery: Recovery::Tail,
            clock: Arc::new(SystemClock { utc: false }),
            finish_grace: Duration::ZERO,
            limits: Limits::default(),
            fallback_poll: None,
            sync_addr: None,
            legacy_sync: LegacyServerConfig::default(),
            vfs: Arc::new(StdVfs),
        }
    }
}

/// A started server. Dropping it without [`shutdown`](RunningServer::shutdown) cuts open
/// calls, but still writes what was queued before returning.
pub struct RunningServer {
    grpc_addr: SocketAddr,
    sync_addr: Option<SocketAddr>,
    legacy_sync: Option<JoinHandle<Result<()>>>,
    root: PathBuf,
    vfs: Arc<dyn Vfs>,
    signal: Arc<Signal>,
    writer_handle: WriterHandle,
    stop: watch::Sender<bool>,
    serve: Option<JoinHandle<std::result::Result<(), tonic::transport::Error>>>,
    ticker: JoinHandle<()>,
    writer: Option<WriterControl>,
    tls: Option<ReloadingAcceptor>,
    metrics: Arc<ServerMetrics>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer").field("grpc_addr", &self.grpc_addr).field("root", &self.root).finish()
    }
}

/// Opens the store (`Conflict` if another writer holds it), spawns the writer, binds the
/// gRPC listener (port 0 picks a free port: see [`RunningServer::grpc_addr`]) and serves.
pub async fn start(config: ServerConfig) -> Result<RunningServer> {
    let plan = security::check(&config)?;
    let tls = match config.tls.clone() {
        Some(files) => Some(
            tokio::task::spawn_blocking(move || ReloadingAcceptor::new(files))
                .await
                .map_err(|e| Error::new(ErrorKind::Io, format!("TLS load task failed: {e}")))??,
        ),
        None => None,
    };
    let listener = bind(config.grpc_addr).await?;
    let grpc_addr = listener.local_addr().map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    let sync_listener = match config.sync_addr {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };

    let (data_dir, clock, limits, grace) =
        (config.data_dir.clone(), config.clock.clone(), config.limits, config.finish_grace);
    let metrics = Arc::new(ServerMetrics::default());
    crate::metrics::process::start_time();
    let store_opts = StoreOptions {
        durability: config.durability,
        recovery: config.recovery,
        deferred_appends: config.legacy_ack == AckWhen::Written,
        // The writer's fsyncs are timed; readers get the plain file system.
        vfs: Arc::new(TimedVfs::new(config.vfs.clone(), metrics.fsync_seconds.clone())),
    };
    let writer_metrics = metrics.clone();
    let (control, signal, root) = tokio::task::spawn_blocking(move || {
        let store = Store::open(&data_dir, store_opts)?;
        let (signal, root) = (store.signal(), store.root().to_path_buf());
        let control = WriterControl::spawn_measured(store, clock, limits, WRITER_QUEUE, grace, writer_metrics)?;
        Ok::<_, Error>((control, signal, root))
    })
    .await
    .map_err(|e| Error::new(ErrorKind::Io, format!("store open task failed: {e}")))??;
    let writer_handle = control.handle();

    let (stop, stopping) = watch::channel(false);
    let policy = Arc::new(plan.policy);
    let vfs = config.vfs.clone();
    let ingest = IngestService::new(writer_handle.from_source(Source::Native), stopping.clone())
        .with_max_calls(config.net.max_ingest_calls)
        .with_sessions(metrics.sessions.clone())
        .into_server();
    let legacy = plan.legacy_grpc.then(|| {
        let guard = LegacyGuard::new(plan.legacy_allow.clone());
        tonic::service::interceptor::InterceptedService::new(
            LegacyLogService::new(writer_handle.acknowledging(config.legacy_ack).from_source(Source::Legacy))
                .with_max_calls(config.net.max_ingest_calls)
                .into_server(),
            guard,
        )
    });
    let sync = SyncService::new(root.clone(), signal.clone(), stopping.clone())
        .with_vfs(config.vfs.clone())
        .with_max_subscribers(config.net.max_subscribers)
        .with_fallback_poll(config.fallback_poll)
        .with_sessions(metrics.sessions.clone())
        .into_server();
    // Generous HTTP/2 windows: a producer keeps up to 32 batches of ~100 KiB in flight on
    // one stream, which hyper's 1 MiB defaults would throttle to a window-update round trip.
    let router = tonic::transport::Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_concurrent_streams(config.net.max_streams)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .layer(idle::CallsLayer)
        .add_service(tonic::service::interceptor::InterceptedService::new(ingest, policy.guard(Scope::Write)))
        .add_service(tonic::service::interceptor::InterceptedService::new(sync, policy.guard(Scope::Read)))
        .add_optional_service(legacy);
    let incoming = listener::incoming(listener, tls.clone(), config.net, stopping.clone(), Some(metrics.clone()));
    let mut stopped = stopping.clone();
    let serve = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    if let Some(tls) = &tls {
        tokio::spawn(tls.clone().watch(crate::tls::server::WATCH_INTERVAL, stopping.clone()));
    }

    let tick_handle = writer_handle.clone();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(ROLLOVER_TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if tick_handle.is_closed() {
                return;
            }
            tick_handle.tick();
        }
    });
    tracing::info!(%grpc_addr, root = %root.display(), tls = tls.is_some(), "gRPC ingest listening");
    let (sync_addr, legacy_sync) = match sync_listener {
        Some(l) => {
            let addr = l.local_addr().map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
            tracing::info!(sync_addr = %addr, "legacy sync socket listening");
            let legacy_config = LegacyServerConfig {
                allow: plan.legacy_allow.clone(),
                fallback_poll: config.fallback_poll,
                metrics: Some(metrics.clone()),
                ..config.legacy_sync.clone()
            };
            let task = crate::legacy::serve(
                l,
                config.vfs.clone(),
                root.clone(),
                signal.clone(),
                legacy_config,
                stopping.clone(),
            );
            (Some(addr), Some(tokio::spawn(task)))
        }
        None => (None, None),
    };
    Ok(RunningServer {
        grpc_addr,
        sync_addr,
        legacy_sync,
        root,
        vfs,
        signal,
        writer_handle,
        stop,
        serve: Some(serve),
        ticker,
        writer: Some(control),
        tls,
        metrics,
    })
}

impl RunningServer {
    /// The address the gRPC listener is bound to (the real port when asked for port 0).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The address of the legacy sync socket, when it is on.
    pub fn sync_addr(&self) -> Option<SocketAddr> {
        self.sync_addr
    }

    /// The in-process `commit` for embedders: appends straight to the writer.
    pub fn writer(&self) -> WriterHandle {
        self.writer_handle.clone()
    }

    pub fn store_root(&self) -> &Path {
        &self.root
    }

    /// Makes readers of the store that wake on every append and hand out only what the
    /// writer has published (never a batch whose fsync failed): what an in-process
    /// consumer of the log, such as a Kafka export, reads.
    pub fn readers(&self) -> Arc<dyn Fn() -> crate::Reader + Send + Sync> {
        let (vfs, root, signal) = (self.vfs.clone(), self.root.clone(), self.signal.clone());
        Arc::new(move || crate::Reader::signalled(vfs.clone(), root.clone(), signal.clone()))
    }

    /// The server's instruments and its connected replicas and producers.
    pub fn metrics(&self) -> Arc<ServerMetrics> {
        self.metrics.clone()
    }

    /// The file system the store is read through.
    pub fn vfs(&self) -> Arc<dyn Vfs> {
        self.vfs.clone()
    }

    /// The store's change signal (head publication), for replica feeders.
    pub fn signal(&self) -> Arc<Signal> {
        self.signal.clone()
    }

    /// Reads the TLS certificate, key and client CA again (what SIGHUP does); new
    /// connections get them, open ones keep theirs. `Ok(false)` without TLS.
    pub fn reload_tls(&self) -> Result<bool> {
        match &self.tls {
            Some(tls) => tls.reload().map(|()| true),
            None => Ok(false),
        }
    }

    /// Stops accepting, lets open calls finish (streams ack what they queued and end with
    /// `UNAVAILABLE`), writes and acknowledges everything queued, syncs, and returns.
    pub async fn shutdown(mut self) -> Result<()> {
        let _ = self.stop.send(true);
        let mut result = Ok(());
        if let Some(mut serve) = self.serve.take() {
            match tokio::time::timeout(GRACE, &mut serve).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => result = Err(Error::new(ErrorKind::Io, format!("gRPC server failed: {e}"))),
                Ok(Err(e)) => result = Err(Error::new(ErrorKind::Io, format!("gRPC server task failed: {e}"))),
                Err(_) => {
                    tracing::warn!("open gRPC calls did not end within {GRACE:?}; cutting them");
                    serve.abort();
                }
            }
        }
        self.ticker.abort();
        if let Some(legacy) = self.legacy_sync.take() {
            match legacy.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "legacy sync socket ended with an error"),
                Err(e) => tracing::warn!(error = %e, "legacy sync socket task failed"),
            }
        }
        if let Some(writer) = self.writer.take() {
            writer.shutdown().await;
        }
        tracing::info!(root = %self.root.display(), "server stopped");
        result
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.ticker.abort();
        if let Some(serve) = self.serve.take() {
            serve.abort();
        }
        if let Some(legacy) = self.legacy_sync.take() {
            legacy.abort();
        }
        // WriterControl's own Drop writes what is queued and joins the thread.
        self.writer.take();
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot listen on {addr}: {e}")).with_source(e))
}
