//! Prometheus metrics of a modsynclog process, with the Prometheus project's own client
//! library (`prometheus-client`).
//!
//! - [`ServerMetrics`]: instruments updated on the data path (ingest per source and type,
//!   group commits, fsyncs, acknowledgements, connections) and the [`Sessions`] registry
//!   of connected replicas and producers;
//! - [`StoreMetrics`]: figures read from the store folder at each scrape (days, replica
//!   lag), also what the HTTP API shows;
//! - [`ErrorMetrics`], [`ProcessMetrics`]: errors by kind, CPU, memory, descriptors;
//! - [`MetricSource`]: any other part of the process (the Kafka bridge, the log agent)
//!   adds its figures as a collector.
//!
//! [`registry`] puts them together; the HTTP endpoint (the `modsynclog-web` crate)
//! encodes it with [`encode`] on every scrape.

pub mod collect;
pub mod errors;
pub mod fsync;
pub mod instruments;
pub mod process;
pub mod sessions;
pub mod store;

use prometheus_client::registry::Registry;

pub use errors::ErrorMetrics;
pub use instruments::{ConnectionGuard, Port, ServerMetrics, Source};
pub use process::ProcessMetrics;
pub use sessions::{Session, SessionInfo, SessionKind, Sessions};
pub use store::{DayInfo, ReplicaInfo, StoreMetrics};

/// More figures for the endpoint, from a part of the process outside the core: a
/// `prometheus-client` collector, asked at every scrape. Names are given without the
/// `modsynclog_` prefix, which the registry adds.
pub use prometheus_client::collector::Collector as MetricSource;

/// A shared source as the registry takes it (`Registry::register_collector` wants a box).
pub fn shared(source: std::sync::Arc<dyn MetricSource>) -> Box<dyn MetricSource> {
    Box::new(Shared(source))
}

#[derive(Debug)]
struct Shared(std::sync::Arc<dyn MetricSource>);

impl MetricSource for Shared {
    fn encode(&self, encoder: prometheus_client::encoding::DescriptorEncoder) -> std::fmt::Result {
        self.0.encode(encoder)
    }
}

/// The content type of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A registry holding the process figures (unprefixed, as every client library names
/// them) and whatever `build` adds under the `modsynclog_` prefix.
pub fn registry(build: impl FnOnce(&mut Registry)) -> Registry {
    let mut root = Registry::default();
    root.register_collector(Box::new(ProcessMetrics));
    build(root.sub_registry_with_prefix("modsynclog"));
    root
}

/// `registry` in the Prometheus text format (version 0.0.4).
pub fn encode(registry: &Registry) -> String {
    let mut out = String::with_capacity(8 << 10);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::date::Date;
    use crate::store::io::StdVfs;
    use crate::store::notify::Signal;

    #[test]
    fn renders_every_family() {
        let dir = tempfile::tempdir().unwrap();
        let signal = Arc::new(Signal::default());
        signal.publish_append(Date::parse("2026-11-21").unwrap(), 3, 3, 42);
        let server = ServerMetrics::default();
        server.stored(Source::Native, 7, 3, 42);
        server.committed(3, 42, std::time::Duration::from_millis(2));
        let _conn = server.connection(Port::Grpc);
        errors::count(crate::ErrorKind::QueueFull);
        let registry = registry(|r| {
            server.register(r);
            r.register_collector(Box::new(StoreMetrics {
                vfs: Arc::new(StdVfs),
                root: dir.path().to_path_buf(),
                signal: Some(signal),
                sessions: Some(server.sessions.clone()),
            }));
            r.register_collector(Box::new(ErrorMetrics));
        });
        let text = encode(&registry);
        for line in [
            "\nmodsynclog_appended_records_total 3\n",
            "\nmodsynclog_appended_bytes_total 42\n",
            "\nmodsynclog_head_records{date=\"2026-11-21\"} 3\n",
            "\nmodsynclog_ingest_records_total{source=\"native\",type=\"7\"} 3\n",
            "\nmodsynclog_ingest_bytes_total{source=\"native\",type=\"7\"} 42\n",
            "\nmodsynclog_commit_batch_records_count 1\n",
            "\nmodsynclog_connections{port=\"grpc\"} 1\n",
            "\nmodsynclog_store_bytes 0\n",
            "\nmodsynclog_replicas_connected{protocol=\"native\"} 0\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        assert!(text.contains("\nmodsynclog_errors_total{kind=\"queue_full\"} "), "{text}");
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
    }
}
