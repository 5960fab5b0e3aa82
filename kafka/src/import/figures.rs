//! An import's figures, as the metrics endpoint and `modsynclog-client status` show them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use modsynclog_core::metrics::MetricSource;
use modsynclog_core::metrics::collect::{Encoder, counters, gauges};

use super::pipeline::Key;

/// One assigned partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartFigures {
    /// The offset after the last message in the store (the journal's).
    pub stored: Option<i64>,
    /// The group's committed offset, as last committed or read.
    pub committed: Option<i64>,
    /// The partition's high watermark, as last fetched.
    pub high: Option<i64>,
}

impl PartFigures {
    /// Messages in the partition not yet in the store.
    pub fn lag(&self) -> Option<i64> {
        Some((self.high? - self.stored?).max(0))
    }
}

/// Updated by the import's thread, read by scrapes.
#[derive(Debug, Default)]
pub struct Figures {
    pub(crate) name: String,
    /// Records stored since start.
    pub records: AtomicU64,
    /// Dead letters written since start.
    pub dead_letters: AtomicU64,
    /// Batches the store refused (a full or failing disk), each followed by reading the
    /// partitions again from their stored offsets.
    pub failed_batches: AtomicU64,
    /// Records filed by timestamp whose day was already finished (or not yet begun):
    /// stored under the day they arrived instead.
    pub filed_on_arrival: AtomicU64,
    parts: Mutex<BTreeMap<Key, PartFigures>>,
}

impl Figures {
    pub(crate) fn named(name: &str) -> Figures {
        Figures { name: name.to_string(), ..Figures::default() }
    }

    pub(crate) fn set(&self, key: &Key, f: impl FnOnce(&mut PartFigures)) {
        f(self.parts.lock().unwrap_or_else(|p| p.into_inner()).entry(key.clone()).or_default());
    }

    pub(crate) fn remove(&self, key: &Key) {
        self.parts.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    /// Every assigned partition, by topic and partition.
    pub fn partitions(&self) -> Vec<(String, i32, PartFigures)> {
        let parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        parts.iter().map(|((t, p), f)| (t.clone(), *p, *f)).collect()
    }
}

/// Every import's figures, one metric family each (Prometheus refuses a family given
/// twice: each import adds its samples, labelled with its name).
#[derive(Debug, Default)]
pub struct ImportMetrics(pub Vec<Arc<Figures>>);

impl MetricSource for ImportMetrics {
    fn encode(&self, mut e: Encoder) -> std::fmt::Result {
        let counter_rows: [(&str, &str, Counter); 4] = [
            ("kafka_import_records", "Records a Kafka import stored since start", |f| &f.records),
            ("kafka_import_dead_letters", "Messages a Kafka import could not store", |f| &f.dead_letters),
            ("kafka_import_failed_batches", "Batches the store refused; the import read them again", |f| {
                &f.failed_batches
            }),
            (
                "kafka_import_filed_on_arrival",
                "Records filed by timestamp whose day was finished; stored under their arrival day",
                |f| &f.filed_on_arrival,
            ),
        ];
        for (name, help, value) in counter_rows {
            let samples: Vec<_> =
                self.0.iter().map(|f| ([("import", f.name.clone())], value(f).load(Ordering::Relaxed))).collect();
            counters(&mut e, name, help, &samples)?;
        }
        let parts: Vec<(String, Partitions)> = self.0.iter().map(|f| (f.name.clone(), f.partitions())).collect();
        let gauge_rows: [(&str, &str, Gauge); 4] = [
            ("kafka_import_stored_offset", "Offset after the last message in the store", |f| f.stored),
            ("kafka_import_committed_offset", "The consumer group's committed offset", |f| f.committed),
            ("kafka_import_high_watermark", "The partition's high watermark", |f| f.high),
            ("kafka_import_lag", "Messages of the partition not yet in the store", PartFigures::lag),
        ];
        for (name, help, value) in gauge_rows {
            // Unknown figures are left out rather than shown as 0.
            let samples: Vec<_> = parts
                .iter()
                .flat_map(|(import, parts)| {
                    parts.iter().filter_map(move |(topic, partition, f)| {
                        let labels = [
                            ("import", import.clone()),
                            ("topic", topic.clone()),
                            ("partition", partition.to_string()),
                        ];
                        value(f).map(|v| (labels, v))
                    })
                })
                .collect();
            gauges(&mut e, name, help, &samples)?;
        }
        Ok(())
    }
}

/// One figure of a partition.
type Gauge = fn(&PartFigures) -> Option<i64>;
/// One counter of an import.
type Counter = fn(&Figures) -> &AtomicU64;
/// An import's partitions: topic, partition, figures.
type Partitions = Vec<(String, i32, PartFigures)>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_partition() {
        let f = Figures::named("orders");
        f.set(&("logs".into(), 1), |p| *p = PartFigures { stored: Some(90), committed: Some(80), high: Some(100) });
        f.set(&("logs".into(), 0), |p| p.stored = Some(5));
        f.records.store(95, Ordering::Relaxed);
        let other = Figures::named("billing");
        other.records.store(4, Ordering::Relaxed);
        let all = ImportMetrics(vec![Arc::new(f), Arc::new(other)]);
        let registry = modsynclog_core::metrics::registry(|r| r.register_collector(Box::new(all)));
        let out = modsynclog_core::metrics::encode(&registry);
        assert!(out.contains("\nmodsynclog_kafka_import_records_total{import=\"orders\"} 95\n"), "{out}");
        assert!(out.contains("\nmodsynclog_kafka_import_records_total{import=\"billing\"} 4\n"), "{out}");
        // One family, whatever the number of imports.
        assert_eq!(out.matches("# TYPE modsynclog_kafka_import_records_total counter").count(), 1, "{out}");
        assert!(out.contains("modsynclog_kafka_import_lag{import=\"orders\",topic=\"logs\",partition=\"1\"} 10\n"));
        assert!(
            out.contains("modsynclog_kafka_import_stored_offset{import=\"orders\",topic=\"logs\",partition=\"0\"} 5\n")
        );
        // Unknown figures are left out rather than shown as 0.
        assert!(!out.contains("high_watermark{import=\"orders\",topic=\"logs\",partition=\"0\"}"), "{out}");
    }
}
