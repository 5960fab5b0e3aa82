//! The server's own instruments: what arrives, how the writer commits it, how long the
//! answers take, how many connections are open. Updated on the data path, so each update
//! is a few atomic operations; label sets are looked up once per group commit, not per
//! record.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::sessions::Sessions;

/// Where records came from: the `source` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Source {
    /// SDK producers over the native gRPC ingest service.
    Native,
    /// The original's gRPC service (the Go SDK).
    Legacy,
    /// The Kafka import.
    Kafka,
    /// Anything appending through a [`WriterHandle`](crate::server::WriterHandle) in the
    /// process (tests, embedders).
    #[default]
    Embedded,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Native => "native",
            Source::Legacy => "legacy",
            Source::Kafka => "kafka",
            Source::Embedded => "embedded",
        }
    }
}

/// A port the process serves: the `port` label of the connection gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Port {
    Grpc,
    LegacySync,
    Http,
}

impl Port {
    fn as_str(self) -> &'static str {
        match self {
            Port::Grpc => "grpc",
            Port::LegacySync => "legacy_sync",
            Port::Http => "http",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct IngestLabels {
    source: &'static str,
    r#type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SourceLabel {
    source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PortLabel {
    port: &'static str,
}

/// Distinct `(source, type)` label sets kept; records of further types are counted under
/// `type="other"`, so a client sending every i16 cannot grow the scrape without bound.
const MAX_TYPE_LABELS: usize = 256;

/// The instruments of a server process. Cheap to share (`Arc`); every clone of a metric
/// handle feeds the same figure.
#[derive(Debug)]
pub struct ServerMetrics {
    ingest_records: Family<IngestLabels, Counter>,
    ingest_bytes: Family<IngestLabels, Counter>,
    /// Label sets of `ingest_records` created (about: racing first uses may count twice).
    type_labels: AtomicUsize,
    batch_records: Histogram,
    batch_bytes: Histogram,
    commit_seconds: Histogram,
    pub(crate) fsync_seconds: Histogram,
    ack_seconds: Family<SourceLabel, Histogram, fn() -> Histogram>,
    connections: Family<PortLabel, Gauge>,
    /// Replicas and producers connected now.
    pub sessions: Arc<Sessions>,
}

/// 100 µs to ~100 s: from a page-cache append to a stalled disk.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 21))
}

impl Default for ServerMetrics {
    fn default() -> Self {
        ServerMetrics {
            ingest_records: Family::default(),
            ingest_bytes: Family::default(),
            type_labels: AtomicUsize::new(0),
            // 1 record to ~1M; 64 bytes to ~64 MiB.
            batch_records: Histogram::new(exponential_buckets(1.0, 4.0, 11)),
            batch_bytes: Histogram::new(exponential_buckets(64.0, 4.0, 11)),
            commit_seconds: latency(),
            fsync_seconds: latency(),
            ack_seconds: Family::new_with_constructor(latency),
            connections: Family::default(),
            sessions: Arc::new(Sessions::default()),
        }
    }
}

impl ServerMetrics {
    /// Adds the instruments to `registry` (whose prefix is `modsynclog`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "ingest_records",
            "Records stored, by where they came from and their type",
            self.ingest_records.clone(),
        );
        registry.register(
            "ingest_bytes",
            "Payload bytes stored, by where they came from and their type",
            self.ingest_bytes.clone(),
        );
        registry.register("commit_batch_records", "Records of each group commit", self.batch_records.clone());
        registry.register("commit_batch_bytes", "Payload bytes of each group commit", self.batch_bytes.clone());
        registry.register(
            "commit_seconds",
            "Time of each group commit's store call (write and fsync)",
            self.commit_seconds.clone(),
        );
        registry.register("fsync_seconds", "Time of each fsync of the store's files", self.fsync_seconds.clone());
        registry.register(
            "ack_seconds",
            "From a batch's arrival at the writer to its acknowledgement",
            self.ack_seconds.clone(),
        );
        registry.register("connections", "Open connections per port", self.connections.clone());
    }

    /// Counts `records` records of type `ty` (`bytes` of payload) stored from `source`.
    pub(crate) fn stored(&self, source: Source, ty: i16, records: u64, bytes: u64) {
        {
            let mut labels = IngestLabels { source: source.as_str(), r#type: ty.to_string() };
            if self.ingest_records.get(&labels).is_none()
                && self.type_labels.fetch_add(1, Ordering::Relaxed) >= MAX_TYPE_LABELS
            {
                labels.r#type = "other".to_string();
            }
            self.ingest_records.get_or_create(&labels).inc_by(records);
            self.ingest_bytes.get_or_create(&labels).inc_by(bytes);
        }
    }

    /// One group commit of `records` records and `bytes` bytes whose store call took `took`.
    pub(crate) fn committed(&self, records: u64, bytes: u64, took: Duration) {
        self.batch_records.observe(records as f64);
        self.batch_bytes.observe(bytes as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// A batch from `source` acknowledged `waited` after it reached the writer.
    pub(crate) fn acknowledged(&self, source: Source, waited: Duration) {
        self.ack_seconds.get_or_create(&SourceLabel { source: source.as_str() }).observe(waited.as_secs_f64());
    }

    /// Counts an open connection of `port` until the guard is dropped.
    pub fn connection(&self, port: Port) -> ConnectionGuard {
        let gauge = self.connections.get_or_create_owned(&PortLabel { port: port.as_str() });
        gauge.inc();
        ConnectionGuard(gauge)
    }

    /// Connections of `port` open now.
    pub fn open_connections(&self, port: Port) -> i64 {
        self.connections.get_or_create(&PortLabel { port: port.as_str() }).get()
    }
}

/// An open connection, counted in `modsynclog_connections` while it lives.
#[derive(Debug)]
pub struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
