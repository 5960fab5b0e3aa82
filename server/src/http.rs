//! The HTTP endpoint of each binary (`--http-addr`): what it shows and who may see it.
//! The endpoint itself is the `modsynclog-web` crate.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use modsynclog_core::metrics::{self, ErrorMetrics, MetricSource, StoreMetrics};
use modsynclog_core::server::RunningServer;
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::{Error, ErrorKind, Reader};
use modsynclog_web::{Endpoint, Role, StoreView};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::config::Settings;

/// The token the endpoint asks for: the read token whenever there is one (the API hands
/// out every record, to a local user too). Without one, a non-loopback address is an
/// error unless `insecure`.
pub fn token_for(addr: SocketAddr, read_token: Option<&str>, insecure: bool) -> Result<Option<String>> {
    match read_token {
        Some(t) => Ok(Some(t.to_string())),
        None if addr.ip().is_loopback() => Ok(None),
        None if insecure => {
            tracing::warn!(%addr, "the HTTP endpoint is open to the network without a token (--insecure)");
            Ok(None)
        }
        None => anyhow::bail!(
            "refusing to serve HTTP on {addr} (not loopback) without the read scope's token: give --sync-token \
             (or --token), keep --http-addr on 127.0.0.1, or pass --insecure"
        ),
    }
}

/// Binds `addr` and serves `endpoint` there until `stop` turns true.
pub async fn start(addr: SocketAddr, endpoint: Endpoint, stop: watch::Receiver<bool>) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listen on {addr} for HTTP"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = modsynclog_web::serve(listener, endpoint, stop).await {
            tracing::error!(error = %e, "the HTTP endpoint stopped");
        }
    });
    Ok(bound)
}

/// The server's endpoint: its store, replicas and producers, and `extra` figures (the
/// Kafka bridge's).
pub fn server_endpoint(
    settings: &Settings,
    running: &RunningServer,
    extra: Vec<Arc<dyn MetricSource>>,
    token: Option<String>,
) -> Endpoint {
    let server_metrics = running.metrics();
    let store = StoreMetrics {
        vfs: running.vfs(),
        root: running.store_root().to_path_buf(),
        signal: Some(running.signal()),
        sessions: Some(server_metrics.sessions.clone()),
    };
    let registry = metrics::registry(|r| {
        server_metrics.register(r);
        r.register_collector(Box::new(store));
        r.register_collector(Box::new(ErrorMetrics));
        for source in extra {
            r.register_collector(metrics::shared(source));
        }
    });
    let readers = running.readers();
    Endpoint {
        role: Role::Server,
        store: Some(StoreView {
            vfs: running.vfs(),
            root: running.store_root().to_path_buf(),
            signal: Some(running.signal()),
            readers: Arc::new(move || Ok(readers())),
        }),
        metrics: Some(server_metrics),
        registry,
        config: server_config(settings, running),
        token,
    }
}

/// A replica's endpoint: its local store (read like any other process reads a folder).
pub fn replica_endpoint(dir: &Path, config: Value, token: Option<String>) -> Endpoint {
    let vfs = Arc::new(StdVfs);
    let root = dir.to_path_buf();
    let store = StoreMetrics { vfs: vfs.clone(), root: root.clone(), signal: None, sessions: None };
    let registry = metrics::registry(|r| r.register_collector(Box::new(store)));
    let dir = root.clone();
    Endpoint {
        role: Role::Replica,
        store: Some(StoreView {
            vfs,
            root,
            signal: None,
            readers: Arc::new(move || {
                Reader::open(&dir).map_err(|e| Error::new(ErrorKind::NotFound, format!("{}: {e}", dir.display())))
            }),
        }),
        metrics: None,
        registry,
        config,
        token,
    }
}

/// The agent's endpoint: its figures and config, no store.
pub fn agent_endpoint(source: Arc<dyn MetricSource>, config: Value, token: Option<String>) -> Endpoint {
    let registry = metrics::registry(|r| r.register_collector(metrics::shared(source)));
    Endpoint { role: Role::Agent, store: None, metrics: None, registry, config, token }
}

fn set(secret: &Option<String>) -> Value {
    if secret.is_some() { json!("set") } else { Value::Null }
}

/// The server's settings as `/api/config` shows them: tokens only as "set".
fn server_config(s: &Settings, running: &RunningServer) -> Value {
    json!({
        "data_dir": s.data_dir,
        "grpc_addr": running.grpc_addr().to_string(),
        "sync_addr": running.sync_addr().map(|a| a.to_string()),
        "http_addr": s.http_addr.map(|a| a.to_string()),
        "token": set(&s.token),
        "ingest_token": set(&s.ingest_token),
        "sync_token": set(&s.sync_token),
        "tls": s.tls.is_some(),
        "tls_client_ca": s.tls.as_ref().is_some_and(|t| t.client_ca_file.is_some()),
        "allow_legacy": s.allow_legacy,
        "insecure": s.insecure,
        "max_connections": s.net.max_connections,
        "max_streams": s.net.max_streams,
        "max_ingest_calls": s.net.max_ingest_calls,
        "max_subscribers": s.net.max_subscribers,
        "handshake_timeout_s": s.net.handshake_timeout.as_secs(),
        "idle_timeout_s": s.net.idle_timeout.as_secs(),
        "legacy_max_connections": s.legacy_max_connections,
        "legacy_ack": s.legacy_ack.to_string(),
        "legacy_zlib_level": s.legacy_zlib_level,
        "writer_queue_bytes": s.writer_queue_bytes,
        "stream_inflight_bytes": s.stream_inflight_bytes,
        "fsync": s.fsync.to_string(),
        "recovery": s.recovery.to_string(),
        "utc": s.utc,
        "finish_grace_s": s.finish_grace.as_secs(),
        "kafka_imports": s.kafka.imports.len(),
        "kafka_exports": s.kafka.exports.len(),
    })
}
