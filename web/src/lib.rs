//! The HTTP endpoint of a modsynclog process (server, replica or agent): the web console,
//! Prometheus metrics and the JSON API, on one port (`--http-addr`). The contract is in
//! `web/API.md`.
//!
//! Built on axum over the tokio runtime the process already runs. Connections are capped
//! ([`MAX_CONNECTIONS`], each with a header deadline), and so are followers of the head
//! ([`follow::MAX_FOLLOWERS`], each with a small queue) and searches
//! ([`records::MAX_SCANS`], each bounded in records, bytes and time): what a client can
//! make the process hold or spend is bounded.

mod api;
mod assets;
mod auth;
pub mod filter;
mod follow;
mod history;
mod listener;
mod records;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use modsynclog_core::metrics::ServerMetrics;
use modsynclog_core::store::Signal;
use modsynclog_core::store::io::Vfs;
use modsynclog_core::{Error, ErrorKind, Reader, Result};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// HTTP connections open at once; more are closed at accept.
pub const MAX_CONNECTIONS: usize = 64;

/// What kind of process serves the endpoint (`/api/status`'s `role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Server,
    Replica,
    Agent,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Replica => "replica",
            Role::Agent => "agent",
        }
    }
}

/// Makes a reader of the store, positioned at its start and not following.
pub type ReaderFactory = Arc<dyn Fn() -> Result<Reader> + Send + Sync>;

/// A store folder the endpoint shows.
#[derive(Clone)]
pub struct StoreView {
    pub vfs: Arc<dyn Vfs>,
    pub root: PathBuf,
    /// The in-process writer's signal (the server): appends since start, the head.
    pub signal: Option<Arc<Signal>>,
    pub readers: ReaderFactory,
}

/// Everything the endpoint serves.
pub struct Endpoint {
    pub role: Role,
    /// The store, for the days, records and follow APIs (`None`: the agent).
    pub store: Option<StoreView>,
    /// The server's instruments: its connected replicas and producers.
    pub metrics: Option<Arc<ServerMetrics>>,
    /// What `/metrics` shows (see [`modsynclog_core::metrics::registry`]).
    pub registry: Registry,
    /// The effective configuration, secrets left out (`/api/config`).
    pub config: serde_json::Value,
    /// When set, `/metrics` and `/api/*` need it as a bearer token. Without one, the
    /// `Host` of every request must be a loopback name (see `auth`).
    pub token: Option<String>,
}

/// Shared by every handler.
pub(crate) struct State {
    role: Role,
    store: Option<StoreView>,
    metrics: Option<Arc<ServerMetrics>>,
    registry: Registry,
    config: serde_json::Value,
    history: history::History,
    followers: Arc<tokio::sync::Semaphore>,
    scans: Arc<tokio::sync::Semaphore>,
}

type Shared = Arc<State>;

fn router(state: Shared, auth: auth::Auth) -> Router {
    let auth = Arc::new(auth);
    let api = Router::new()
        .route("/metrics", get(api::metrics))
        .route("/api/status", get(api::status))
        .route("/api/days", get(api::days))
        .route("/api/replicas", get(api::replicas))
        .route("/api/producers", get(api::producers))
        .route("/api/config", get(api::config))
        .route("/api/history", get(api::history))
        .route("/api/records", get(records::records))
        .route("/api/follow", get(follow::follow))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(auth.clone(), auth::check));
    Router::new()
        .route("/", get(assets::index))
        .route("/app.js", get(assets::script))
        .route("/app.css", get(assets::style))
        .merge(api)
        .with_state(state)
        // No token on loopback: only a page of this host may call (no DNS rebinding).
        .layer(axum::middleware::from_fn_with_state(auth, auth::local_host))
}

/// Serves `endpoint` on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, endpoint: Endpoint, shutdown: watch::Receiver<bool>) -> Result<()> {
    let state = Arc::new(State {
        role: endpoint.role,
        store: endpoint.store,
        metrics: endpoint.metrics.clone(),
        registry: endpoint.registry,
        config: endpoint.config,
        history: history::History::default(),
        followers: Arc::new(tokio::sync::Semaphore::new(follow::MAX_FOLLOWERS)),
        scans: Arc::new(tokio::sync::Semaphore::new(records::MAX_SCANS)),
    });
    tokio::spawn(history::sample(state.clone(), shutdown.clone()));
    let local = listener.local_addr().map_err(|e| Error::new(ErrorKind::Io, format!("http listener: {e}")))?;
    let app = router(state, auth::Auth::new(endpoint.token, local));
    tracing::info!(http_addr = %local, "http listening");
    listener::serve(listener, app, MAX_CONNECTIONS, endpoint.metrics, shutdown).await;
    Ok(())
}
