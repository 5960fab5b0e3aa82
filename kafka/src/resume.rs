//! Where an export stopped: the origin of the last message in each partition.
//!
//! The exporter sends records in store order, and an idempotent producer keeps the order
//! within a partition whatever it retries. So after a crash, whatever reached a partition
//! is a prefix of what was sent to it, and its last message says exactly where that
//! partition stands: a record that maps to partition `p` was exported if and only if its
//! `(date, id)` is at most that of `p`'s last message.

use std::time::Instant;

use modsynclog_core::{Error, ErrorKind, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::export::{ExportConfig, partition_of};
use crate::headers::{self, Origin};
use crate::kafka_error;

/// For each partition of the export's topic (`partitions` of them), the origin of its last
/// message, or `None` when it holds none. `Protocol` when a last message was not written by
/// an exporter (no `msl-*` headers): the topic is not ours to resume. `Conflict` when a last
/// message's type does not map to its partition: the partition count changed since it was
/// sent, and resuming would double some records and skip others.
pub fn last_origins(config: &ExportConfig, partitions: i32) -> Result<Vec<Option<Origin>>> {
    let (topic, timeout) = (config.topic.as_str(), config.timeout);
    let mut client = ClientConfig::new();
    // The connection settings (TLS, SASL) are the producer's; librdkafka ignores, with a
    // warning, the ones only a producer has.
    for (key, value) in &config.producer {
        client.set(key, value);
    }
    let consumer: BaseConsumer = client
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", "modsynclog-export-resume")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(|e| kafka_error("a consumer to find where the export stopped", e))?;
    let mut last = vec![None; partitions as usize];
    let mut wanted = TopicPartitionList::new();
    for p in 0..partitions {
        let (low, high) =
            consumer.fetch_watermarks(topic, p, timeout).map_err(|e| kafka_error("the partitions' offsets", e))?;
        if high > low {
            wanted
                .add_partition_offset(topic, p, Offset::Offset(high - 1))
                .map_err(|e| kafka_error("an assignment", e))?;
        }
    }
    let mut missing = wanted.count();
    if missing == 0 {
        return Ok(last);
    }
    consumer.assign(&wanted).map_err(|e| kafka_error("an assignment", e))?;
    let deadline = Instant::now() + timeout;
    while missing > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "kafka: the last message of {missing} partition(s) of {topic} did not arrive within {timeout:?}"
                ),
            ));
        }
        let Some(message) = consumer.poll(left) else { continue };
        let message = message.map_err(|e| kafka_error("reading the last messages", e))?;
        let slot = &mut last[message.partition() as usize];
        if slot.is_none() {
            let origin = headers::origin(&headers::pairs(message.headers())).map_err(|e| {
                Error::new(
                    e.kind(),
                    format!("{topic} partition {} offset {}: {e}", message.partition(), message.offset()),
                )
            })?;
            if partition_of(origin.ty, partitions) != message.partition() {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "kafka: {topic} partition {} ends with a record of type {}, which maps to partition {} of \
                         {partitions}: the partition count changed since it was exported into; export into a new topic",
                        message.partition(),
                        origin.ty,
                        partition_of(origin.ty, partitions)
                    ),
                ));
            }
            *slot = Some(origin);
            missing -= 1;
        }
    }
    Ok(last)
}
