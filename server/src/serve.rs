//! `modsynclog-server`: run the master log until SIGINT or SIGTERM.

use std::sync::Arc;

use anyhow::{Context, Result};
use modsynclog_core::clock::SystemClock;
use modsynclog_core::legacy::LegacyServerConfig;
use modsynclog_core::server::{self, Limits, ServerConfig};
use modsynclog_kafka::import::FileBy;

use crate::config::Settings;
use crate::kafka_bridge::Bridge;

pub async fn run(settings: Settings) -> Result<()> {
    tracing::info!(
        data_dir = %settings.data_dir.display(),
        fsync = %settings.fsync,
        legacy_ack = %settings.legacy_ack,
        utc = settings.utc,
        finish_grace_s = settings.finish_grace.as_secs(),
        tls = settings.tls.is_some(),
        "starting modsynclog-server"
    );
    let read_token = settings.sync_token.clone().or_else(|| settings.token.clone());
    // Checked before anything starts: a refused HTTP address leaves nothing to undo.
    let http_token = match settings.http_addr {
        Some(addr) => crate::http::token_for(addr, read_token.as_deref(), settings.insecure)?,
        None => None,
    };
    if settings.finish_grace.is_zero() && settings.kafka.imports.iter().any(|i| i.day == FileBy::Timestamp) {
        tracing::warn!(
            "a kafka import files by timestamp with --finish-grace 0: each day is finished at midnight, so \
             messages of the previous day that arrive after it are filed under the day they arrive"
        );
    }
    let config = ServerConfig {
        data_dir: settings.data_dir.clone(),
        grpc_addr: settings.grpc_addr,
        token: settings.token.clone(),
        ingest_token: settings.ingest_token.clone(),
        sync_token: settings.sync_token.clone(),
        tls: settings.tls.clone(),
        ingest_cert_names: settings.ingest_cert_names.clone(),
        sync_cert_names: settings.sync_cert_names.clone(),
        allow_legacy: settings.allow_legacy,
        legacy_ack: settings.legacy_ack,
        legacy_allow: settings.legacy_allow.clone(),
        insecure: settings.insecure,
        net: settings.net,
        limits: Limits {
            writer_queue_bytes: settings.writer_queue_bytes,
            stream_inflight_bytes: settings.stream_inflight_bytes,
            ..Limits::default()
        },
        durability: settings.fsync,
        recovery: settings.recovery,
        clock: Arc::new(SystemClock { utc: settings.utc }),
        finish_grace: settings.finish_grace,
        sync_addr: settings.sync_addr,
        legacy_sync: LegacyServerConfig {
            send_flag: settings.send_flag,
            max_connections: settings.legacy_max_connections,
            zlib_level: settings.legacy_zlib_level,
            handshake_timeout: settings.net.handshake_timeout,
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    // Installed before the start: from then on a SIGHUP reloads rather than kills.
    let mut hangup =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).context("install SIGHUP handler")?;
    let descriptors = config.net.max_connections + config.legacy_sync.max_connections + RESERVED_FDS;
    raise_fd_limit(descriptors as u64);
    let running = server::start(config).await.context("start server")?;
    let bridge = match Bridge::start(&settings.kafka, &running) {
        Ok(b) => b,
        Err(e) => {
            let _ = running.shutdown().await;
            return Err(e);
        }
    };
    let (stop_http, http_stopped) = tokio::sync::watch::channel(false);
    if let Some(addr) = settings.http_addr {
        let endpoint = crate::http::server_endpoint(&settings, &running, bridge.metric_sources(), http_token);
        if let Err(e) = crate::http::start(addr, endpoint, http_stopped).await {
            let _ = running.shutdown().await;
            return Err(e);
        }
    }
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            r = &mut stop => { r?; break; }
            _ = hangup.recv() => match running.reload_tls() {
                Ok(true) => {}
                Ok(false) => tracing::info!("SIGHUP: no TLS configured; nothing to reload"),
                Err(e) => tracing::error!(error = %e, "SIGHUP: cannot reload the TLS files; still serving the previous ones"),
            },
        }
    }
    tracing::info!("stopping: finishing in-flight records");
    let _ = stop_http.send(true);
    // Imports put their last batches into the store before it closes.
    tokio::task::spawn_blocking(move || bridge.stop()).await.context("stop the kafka bridge")?;
    running.shutdown().await.context("stop server")?;
    Ok(())
}

/// File descriptors kept for the store, the journal, the metrics port and the blocking
/// pool's reads, beyond the connection caps.
const RESERVED_FDS: usize = 256;

/// Raises the soft limit of open files to the hard limit, and warns when the connection
/// caps could still use up the descriptors the writer needs for the next day's files.
fn raise_fd_limit(needed: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    if lim.rlim_cur < needed {
        tracing::warn!(
            open_files = lim.rlim_cur,
            needed,
            "the open-file limit is below the connection caps plus a reserve: lower --max-connections, or raise \
             the limit (LimitNOFILE= in the systemd unit)"
        );
    }
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
