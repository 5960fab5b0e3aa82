//! `modsynclog-server`: run the master log until SIGINT or SIGTERM.

use std::sync::Arc;

use anyhow::{Context, Result};
use modsynclog_core::clock::SystemClock;
use modsynclog_core::legacy::LegacyServerConfig;
use modsynclog_core::server::{self, ServerConfig};

use crate::config::Settings;

pub async fn run(settings: Settings) -> Result<()> {
    tracing::info!(
        data_dir = %settings.data_dir.display(),
        fsync = %settings.fsync,
        utc = settings.utc,
        token = settings.token.is_some(),
        "starting modsynclog-server"
    );
    let config = ServerConfig {
        data_dir: settings.data_dir,
        grpc_addr: settings.grpc_addr,
        token: settings.token,
        allow_legacy: settings.allow_legacy,
        durability: settings.fsync,
        clock: Arc::new(SystemClock { utc: settings.utc }),
        sync_addr: settings.sync_addr,
        legacy_sync: LegacyServerConfig { send_flag: settings.send_flag, ..Default::default() },
        ..Default::default()
    };
    let running = server::start(config).await.context("start server")?;
    let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(false);
    if let Some(addr) = settings.metrics_addr {
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listen on {addr} for metrics"))?;
        tracing::info!(metrics_addr = %listener.local_addr()?, "metrics listening");
        tokio::spawn(modsynclog_core::metrics::serve(listener, running.signal(), metrics_stopped));
    }
    shutdown_signal().await?;
    tracing::info!("stopping: finishing in-flight records");
    let _ = stop_metrics.send(true);
    running.shutdown().await.context("stop server")?;
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM.
pub async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("wait for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
