//! A store folder exported into a Kafka topic, live.
//!
//! [`Exporter::run`] reads the folder with a following [`Reader`] (woken by inotify as new
//! records are written) and sends each record as one message: the payload is the record's
//! data, the headers its date, id, type and time ([`headers`]), no key. The partition is
//! the record type modulo the topic's partition count ([`partition_of`]): deterministic,
//! so one type's records stay in order in one partition, whoever reads them.
//!
//! The producer is idempotent and gapless (`enable.idempotence`,
//! `enable.gapless.guarantee`): a retried send is not doubled, never overtakes a later one
//! in its partition, and a message that fails for good stops the producer rather than
//! leave a hole behind later ones. At start the exporter reads the last message of each
//! partition ([`resume`](crate::resume)) and skips every record already in its partition,
//! so a restart after a crash (or a stop) sends nothing twice and skips nothing. A delivery
//! that fails for good stops the export with the error; running it again resumes the same
//! way.
//!
//! What this rests on, and the operator keeps:
//! - **one exporter per topic** (two would interleave, and a new one does not fence an old
//!   one that is still sending);
//! - **the partition count does not change** while a topic is exported into (the mapping of
//!   types to partitions would move; a resume that finds a message in a partition its type
//!   does not map to refuses to start);
//! - **records that are final**: a replica's folder (it holds only what the server
//!   synced), a finished one, or, inside the server, the server's own reader
//!   ([`Exporter::with_reader`]). An outside process reading a server's folder sees a
//!   record from its write on, before its fsync; if that fsync fails the server cuts the
//!   record and later stores another under the same id, which this exporter then takes for
//!   sent.
//!
//! A partition that never received a record (few types, many partitions) has no last
//! message, so a restart reads the store from `from` (or its earliest day) to find what it
//! needs: correct, but a full scan.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use modsynclog_core::record::Record;
use modsynclog_core::{Date, Error, ErrorKind, Next, Reader, Result, Stopper};
use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use crate::export_figures::ExportFigures;
use crate::headers::{self, Origin};
use crate::quiet::Quiet;
use crate::{kafka_error, resume};

/// Bytes of messages the producer may hold unacknowledged (librdkafka's
/// `queue.buffering.max.kbytes`): when full, reading the store pauses until the broker
/// acknowledges.
pub const DEFAULT_BUFFER_BYTES: usize = 64 << 20;

/// What [`Exporter`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    pub brokers: String,
    pub topic: String,
    /// The first day to export when the topic holds nothing of this store (default: the
    /// store's earliest day).
    pub from: Option<Date>,
    /// Unacknowledged bytes the producer may hold ([`DEFAULT_BUFFER_BYTES`]).
    pub buffer_bytes: usize,
    /// How long metadata requests and the final flush may take.
    pub timeout: Duration,
    /// Further librdkafka settings (`compression.type`, `security.protocol`...) for the
    /// producer and for the consumer that finds where to resume. The keys the exactly-once
    /// argument rests on ([`RESERVED`]) are refused.
    pub producer: Vec<(String, String)>,
}

impl ExportConfig {
    pub fn new(brokers: impl Into<String>, topic: impl Into<String>) -> ExportConfig {
        ExportConfig {
            brokers: brokers.into(),
            topic: topic.into(),
            from: None,
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            timeout: Duration::from_secs(30),
            producer: Vec::new(),
        }
    }
}

/// Producer settings the exporter sets itself and [`ExportConfig::producer`] may not
/// change: with any of them changed, a retry could double, reorder or drop a record.
pub const RESERVED: [&str; 6] = [
    "enable.idempotence",
    "enable.gapless.guarantee",
    "acks",
    "message.timeout.ms",
    "max.in.flight.requests.per.connection",
    "max.in.flight",
];

/// The partition of a record of type `ty` in a topic of `partitions` partitions.
pub fn partition_of(ty: i16, partitions: i32) -> i32 {
    i32::from(ty).rem_euclid(partitions.max(1))
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Records sent and acknowledged by the broker.
    pub sent: u64,
    /// Records read that their partition already held (sent by an earlier run).
    pub skipped: u64,
}

pub struct Exporter {
    config: ExportConfig,
    reader: Reader,
    stopped: Arc<AtomicBool>,
    figures: Arc<ExportFigures>,
}

/// Stops an [`Exporter`] from another thread (see [`Exporter::stopper`]).
#[derive(Debug, Clone)]
pub struct ExportStopper {
    reader: Stopper,
    stopped: Arc<AtomicBool>,
}

impl ExportStopper {
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.reader.stop();
    }

    /// Whether the exporter has read everything there is and waits for new records.
    pub fn idle(&self) -> bool {
        self.reader.waiting()
    }
}

impl Exporter {
    /// An exporter of the store folder `dir`; nothing is contacted yet.
    pub fn new(config: ExportConfig, dir: impl AsRef<std::path::Path>) -> Result<Exporter> {
        Exporter::with_reader(config, Reader::open(dir)?)
    }

    /// An exporter of what `reader` reads: inside a server, its
    /// [`RunningServer::readers`](modsynclog_core::server::RunningServer::readers), which
    /// hands out only records the writer has published.
    pub fn with_reader(config: ExportConfig, reader: Reader) -> Result<Exporter> {
        if config.topic.is_empty() || config.brokers.is_empty() {
            return Err(Error::invalid("a Kafka export needs brokers and a topic"));
        }
        crate::refuse_reserved(&config.producer, &RESERVED, "kafka export")?;
        let figures = Arc::new(ExportFigures::new(&config.topic, None));
        Ok(Exporter { config, reader: reader.follow(true), stopped: Arc::default(), figures })
    }

    /// Ends [`run`](Exporter::run) from another thread: what was read is flushed first
    /// (within `timeout`; a broker that does not take it makes `run` fail, and the next run
    /// sends it).
    pub fn stopper(&self) -> ExportStopper {
        ExportStopper { reader: self.reader.stopper(), stopped: self.stopped.clone() }
    }

    /// Keeps this run's figures in `figures` (an export restarted after a failure shows
    /// on the same metrics).
    pub fn with_figures(mut self, figures: Arc<ExportFigures>) -> Exporter {
        self.figures = figures;
        self
    }

    pub fn figures(&self) -> Arc<ExportFigures> {
        self.figures.clone()
    }

    /// Exports until stopped (then `Ok`), or until a send fails for good.
    pub fn run(self) -> Result<ExportStats> {
        let Exporter { config, reader, stopped, figures } = self;
        let failed = Arc::new(Mutex::new(None));
        let sent_before = figures.sent.load(Ordering::Relaxed);
        let producer = producer(
            &config,
            Deliveries { failed: failed.clone(), figures: figures.clone(), quiet: Quiet::default() },
        )?;
        let partitions = partition_count(&producer, &config)?;
        let last = resume::last_origins(&config, partitions)?;
        let mut reader = match start(&last, config.from) {
            Some((date, id)) => reader.from(date, id),
            None => reader,
        };
        tracing::info!(topic = %config.topic, partitions, position = ?reader.position(), "kafka export: started");
        let mut skipped = 0;
        loop {
            if let Some(err) = failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return Err(err);
            }
            let record = match reader.next_record(Some(Duration::from_millis(200)))? {
                Next::Record(record) => record,
                Next::Timeout => continue,
                Next::End => break,
            };
            let p = partition_of(record.ty, partitions);
            if exported(&last[p as usize], &record) {
                skipped += 1;
                continue;
            }
            send(&producer, &config.topic, p, &record, &stopped)?;
            figures.exported(record.date, record.id);
        }
        producer.flush(config.timeout).map_err(|e| kafka_error("flushing the last messages", e))?;
        if let Some(err) = failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(err);
        }
        Ok(ExportStats { sent: figures.sent.load(Ordering::Relaxed) - sent_before, skipped })
    }
}

/// Where to start reading: the earliest position any partition still needs.
fn start(last: &[Option<Origin>], from: Option<Date>) -> Option<(Date, u64)> {
    let from = from.map(|d| (d, 0));
    // `msl-id` is read from the topic: saturating, a forged u64::MAX cannot overflow.
    last.iter().map(|o| o.map(|o| (o.date, o.id.saturating_add(1))).or(from)).min().flatten()
}

/// Whether `record`'s partition already holds it, its last message being `last`.
fn exported(last: &Option<Origin>, record: &Record) -> bool {
    last.is_some_and(|o| (record.date, record.id) <= (o.date, o.id))
}

/// Sends one record, waiting for room while the producer's buffer is full (the broker is
/// slow or away), unless the export is stopped meanwhile.
fn send(
    producer: &ThreadedProducer<Deliveries>,
    topic: &str,
    partition: i32,
    record: &Record,
    stopped: &AtomicBool,
) -> Result<()> {
    let headers = headers::of(record);
    let mut message = BaseRecord::<(), [u8]>::to(topic).partition(partition).payload(&record.data[..]).headers(headers);
    loop {
        match producer.send(message) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                if stopped.load(Ordering::SeqCst) {
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        "kafka: stopped while the broker was not taking messages; the next run sends what it did not get",
                    ));
                }
                message = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((err, _)) => return Err(kafka_error(&format!("sending {} {}", record.date, record.id), err)),
        }
    }
}

fn producer(config: &ExportConfig, deliveries: Deliveries) -> Result<ThreadedProducer<Deliveries>> {
    let mut client = ClientConfig::new();
    client.set("linger.ms", "5");
    for (key, value) in &config.producer {
        client.set(key, value);
    }
    client
        .set("bootstrap.servers", &config.brokers)
        .set("enable.idempotence", "true")
        // A message that fails for good is fatal, not a gap that later messages close over.
        .set("enable.gapless.guarantee", "true")
        .set("queue.buffering.max.kbytes", (config.buffer_bytes / 1024).max(1).to_string())
        // Retried for as long as the broker may take to come back.
        .set("message.timeout.ms", "0");
    client.create_with_context(deliveries).map_err(|e| kafka_error("a producer", e))
}

fn partition_count(producer: &ThreadedProducer<Deliveries>, config: &ExportConfig) -> Result<i32> {
    let metadata = producer
        .client()
        .fetch_metadata(Some(&config.topic), config.timeout)
        .map_err(|e| kafka_error("the topic's metadata", e))?;
    let topic = metadata.topics().first().filter(|t| t.error().is_none() && !t.partitions().is_empty());
    match topic {
        Some(t) => Ok(t.partitions().len() as i32),
        None => Err(Error::new(ErrorKind::NotFound, format!("kafka: no topic {} on {}", config.topic, config.brokers))),
    }
}

/// Counts acknowledged messages and keeps the first failed delivery.
struct Deliveries {
    failed: Arc<Mutex<Option<Error>>>,
    figures: Arc<ExportFigures>,
    quiet: Quiet,
}

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        self.quiet.log(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.quiet.error(&error, reason);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.figures.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err((err, _)) => {
                let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
                failed.get_or_insert_with(|| kafka_error("a delivery failed", err.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(date: &str, id: u64) -> Option<Origin> {
        Some(Origin { date: Date::parse(date).unwrap(), id, ty: 1 })
    }

    #[test]
    fn types_map_to_partitions_deterministically() {
        assert_eq!([0, 1, 2, 3, -1, -4, 1201].map(|t| partition_of(t, 3)), [0, 1, 2, 0, 2, 2, 1]);
        assert_eq!(partition_of(5, 0), 0);
    }

    #[test]
    fn the_settings_exactly_once_rests_on_cannot_be_changed() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ExportConfig::new("127.0.0.1:9", "t");
        config.producer.push(("compression.type".into(), "lz4".into()));
        assert!(Exporter::new(config.clone(), dir.path()).is_ok());
        config.producer.push(("enable.idempotence".into(), "false".into()));
        let err = Exporter::new(config, dir.path()).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("enable.idempotence"), "{err}");
    }

    #[test]
    fn the_start_is_the_earliest_position_a_partition_still_needs() {
        let d = |s| Date::parse(s).unwrap();
        let from = Some(d("2026-11-01"));
        assert_eq!(start(&[None, None], None), None);
        assert_eq!(start(&[None, None], from), Some((d("2026-11-01"), 0)));
        assert_eq!(start(&[origin("2026-11-02", 7), origin("2026-11-02", 3)], from), Some((d("2026-11-02"), 4)));
        // A partition that never got anything needs everything from `from` on.
        assert_eq!(start(&[origin("2026-11-02", 7), None], from), Some((d("2026-11-01"), 0)));
        assert_eq!(start(&[origin("2026-11-02", 7), None], None), None);
        assert_eq!(start(&[origin("2026-11-02", u64::MAX)], None), Some((d("2026-11-02"), u64::MAX)));
    }
}
