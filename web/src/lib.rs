//! The HTTP endpoint of a modsynclog process (server, replica or agent): the web console,
//! Prometheus metrics and the JSON API, on one port (`--http-addr`). The contract is in
//! `web/API.md`.
//!
//! Built on axum over the tokio runtime the process already runs. Connections are capped
//! ([`MAX_CONNECTIONS`]); followers of the head too ([`follow::MAX_FOLLOWERS`]); every
//! answer is bounded (pages of at most [`records::MAX_LIMIT`] records, a scan budget).

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
use modsynclog_core::{Reader, Result};
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
    /// When set, `/metrics` and `/api/*` need it as a bearer token.
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
}

type Shared = Arc<State>;

fn router(state: Shared, token: Option<String>) -> Router {
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
        .layer(axum::middleware::from_fn_with_state(Arc::new(auth::Auth::new(token)), auth::check));
    Router::new()
        .route("/", get(assets::index))
        .route("/app.js", get(assets::script))
        .route("/app.css", get(assets::style))
        .merge(api)
        .with_state(state)
}

/// Serves `endpoint` on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, endpoint: Endpoint, mut shutdown: watch::Receiver<bool>) -> Result<()> {
    let state = Arc::new(State {
        role: endpoint.role,
        store: endpoint.store,
        metrics: endpoint.metrics.clone(),
        registry: endpoint.registry,
        config: endpoint.config,
        history: history::History::default(),
        followers: Arc::new(tokio::sync::Semaphore::new(follow::MAX_FOLLOWERS)),
    });
    tokio::spawn(history::sample(state.clone(), shutdown.clone()));
    let app = router(state, endpoint.token);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(http_addr = %addr, "http listening");
    }
    let listener = listener::Capped::new(listener, MAX_CONNECTIONS, endpoint.metrics);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await
        .map_err(|e| modsynclog_core::Error::new(modsynclog_core::ErrorKind::Io, format!("http server: {e}")))
}
