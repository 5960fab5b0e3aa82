//! The config centre: the agent's inputs from one etcd key, followed with a watch.
//!
//! The key holds the same `[[input]]` sections as the agent's TOML file. The key is read
//! (`KV.Range`), then watched from the revision read (`Watch.Watch`), so no change between
//! the two is missed. Every value that parses replaces the centre's inputs; a deleted key
//! means none; a value that does not parse is logged and the inputs stay as they were.
//! When etcd is unreachable, or the watch breaks (etcd restarted, revision compacted),
//! the key is read again with backoff; the inputs stay as they were meanwhile.

use std::time::Duration;

use modsynclog_core::tls::ClientTls;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::config::{Input, parse_inputs};

#[allow(clippy::all, clippy::pedantic, missing_docs)]
mod pb {
    pub mod mvccpb {
        tonic::include_proto!("mvccpb");
    }
    pub mod etcdserverpb {
        tonic::include_proto!("etcdserverpb");
    }
}

use pb::etcdserverpb::{
    RangeRequest, WatchCreateRequest, WatchRequest, kv_client::KvClient, watch_client::WatchClient,
    watch_request::RequestUnion,
};
use pb::mvccpb::event::EventType;

/// Where the inputs live.
#[derive(Debug, Clone)]
pub struct CentreConfig {
    /// `http://HOST:PORT` or `https://HOST:PORT` (the system's roots, or `tls.ca_file`).
    pub endpoint: String,
    /// The key, for example `/modsynclog/agent/web-01`.
    pub key: String,
    pub tls: ClientTls,
}

/// Longest wait between two attempts to reach etcd.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long one connection attempt, and the read of the key, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Follows the key until `stop` turns true. `out` gets the centre's inputs: `None` until
/// the key is first read, then the inputs of its latest value that parsed.
pub async fn follow(
    config: CentreConfig,
    out: watch::Sender<Option<Vec<Input>>>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let endpoint = modsynclog_core::tls::endpoint(&config.endpoint, &config.tls)
        .map_err(|e| format!("--etcd {}: {}", config.endpoint, e.message()))?
        .connect_timeout(CONNECT_TIMEOUT)
        // A watch is quiet while the key does not change: pings notice a connection that
        // died without a word (a host gone, a NAT forgetting it).
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true);
    let mut backoff = Duration::from_millis(250);
    loop {
        let session = session(&config, &endpoint, &out, &mut backoff);
        let ended = tokio::select! {
            ended = session => ended,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
        if let Err(e) = ended {
            tracing::warn!(etcd = %config.endpoint, key = %config.key, error = %e, retry_in = ?backoff, "config centre: keeping the inputs as they are");
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection: read the key, then follow it until the watch breaks.
async fn session(
    config: &CentreConfig,
    endpoint: &tonic::transport::Endpoint,
    out: &watch::Sender<Option<Vec<Input>>>,
    backoff: &mut Duration,
) -> Result<(), String> {
    let channel = endpoint.connect().await.map_err(|e| modsynclog_core::tls::explain_transport_error(&e))?;
    let key = config.key.as_bytes().to_vec();
    let mut kv = KvClient::new(channel.clone());
    let read = kv.range(RangeRequest { key: key.clone(), ..Default::default() });
    let range = tokio::time::timeout(READ_TIMEOUT, read)
        .await
        .map_err(|_| format!("read the key: no answer within {READ_TIMEOUT:?}"))?
        .map_err(|s| format!("read the key: {}", s.message()))?
        .into_inner();
    let revision = range.header.map_or(0, |h| h.revision);
    apply(config, range.kvs.first().map(|kv| kv.value.as_slice()), out);

    // The request stream stays open while the watch runs: etcd ends a watch whose client
    // closed its side.
    let (requests, rx) = mpsc::channel(1);
    let create = WatchCreateRequest { key, start_revision: revision + 1, ..Default::default() };
    requests
        .send(WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) })
        .await
        .map_err(|_| "watch: the request stream closed".to_string())?;
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    // etcd then ends the watch when its member loses the cluster's leader, instead of
    // leaving it open on a member that no longer hears of changes.
    request.metadata_mut().insert("hasleader", tonic::metadata::MetadataValue::from_static("true"));
    let mut stream = WatchClient::new(channel)
        .watch(request)
        .await
        .map_err(|s| format!("watch the key: {}", s.message()))?
        .into_inner();
    loop {
        let Some(response) = stream.message().await.map_err(|s| format!("watch: {}", s.message()))? else {
            return Err("etcd ended the watch".into());
        };
        if response.created && !response.canceled {
            tracing::info!(etcd = %config.endpoint, key = %config.key, revision, "config centre: following the key");
            *backoff = Duration::from_millis(250);
        }
        if response.canceled {
            return Err(format!(
                "etcd cancelled the watch ({}; compacted to revision {})",
                response.cancel_reason, response.compact_revision
            ));
        }
        for event in response.events {
            let value = match EventType::try_from(event.r#type) {
                Ok(EventType::Put) => event.kv.map(|kv| kv.value),
                _ => None,
            };
            apply(config, value.as_deref(), out);
        }
    }
}

/// Publishes the inputs of `value` (none for a missing key), unless it does not parse.
fn apply(config: &CentreConfig, value: Option<&[u8]>, out: &watch::Sender<Option<Vec<Input>>>) {
    let parsed = match value {
        None => Ok(Vec::new()),
        Some(v) => std::str::from_utf8(v).map_err(|e| format!("not UTF-8: {e}")).and_then(parse_inputs),
    };
    match parsed {
        Ok(inputs) => {
            out.send_if_modified(|now| {
                let changed = now.as_ref() != Some(&inputs);
                if changed {
                    tracing::info!(key = %config.key, inputs = inputs.len(), "config centre: inputs read");
                    *now = Some(inputs);
                }
                changed
            });
        }
        Err(e) => {
            tracing::error!(key = %config.key, error = %e, "config centre: the key's value is not valid; keeping the inputs as they are")
        }
    }
}
