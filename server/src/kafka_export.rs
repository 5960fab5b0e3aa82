//! `modsynclog-client kafka-export`: a store folder into a Kafka topic, following it live,
//! exactly once across restarts (see [`modsynclog_kafka::export`]).
//!
//! SIGINT or SIGTERM stops it gracefully: what was read is flushed to the broker first, and
//! it exits 0. Run again (after a stop or a crash), it resumes from the last message of
//! each partition.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use modsynclog_core::Date;
use modsynclog_kafka::export::{DEFAULT_BUFFER_BYTES, ExportConfig, Exporter};

use crate::config::parse_bytes;
use crate::kafka_config::key_value;

#[derive(Debug, Args)]
pub struct KafkaExportArgs {
    /// Store folder to export. A replica's folder is the safest source: it holds only what
    /// the server synced (a server's own folder may show records for the moment between
    /// their write and their fsync, which a failed fsync would then cut).
    #[arg(long, env = "MODSYNCLOG_DIR")]
    pub dir: PathBuf,
    /// Kafka bootstrap servers, HOST:PORT[,HOST:PORT...].
    #[arg(long, env = "MODSYNCLOG_KAFKA_BROKERS")]
    pub brokers: String,
    /// Topic to export into; create it first with the partition count you want (a broker
    /// that auto-creates topics would give it its default count), and never change that
    /// count afterwards. Each record goes to partition (record type mod partition count),
    /// with its date, id, type and time as headers (msl-date, msl-id, msl-type, msl-time).
    #[arg(long)]
    pub topic: String,
    /// First day to export (YYYY-MM-DD) when the topic holds nothing of this store.
    /// Default: the folder's earliest day.
    #[arg(long)]
    pub from: Option<Date>,
    /// Bytes of messages the producer may hold before the broker acknowledges them; reading
    /// pauses while it is full.
    #[arg(long, value_parser = parse_bytes, default_value_t = DEFAULT_BUFFER_BYTES)]
    pub buffer_bytes: usize,
    /// A librdkafka setting, KEY=VALUE (repeatable), for example compression.type=lz4 or
    /// security.protocol=ssl; used by the producer and by the consumer that finds where to
    /// resume. The settings exactly-once rests on (enable.idempotence, acks,
    /// message.timeout.ms, ...) are refused.
    #[arg(long = "producer-config", value_parser = key_value)]
    pub producer: Vec<(String, String)>,
}

pub fn run(args: KafkaExportArgs) -> Result<()> {
    let config = ExportConfig {
        from: args.from,
        buffer_bytes: args.buffer_bytes,
        producer: args.producer,
        timeout: Duration::from_secs(30),
        ..ExportConfig::new(args.brokers, args.topic)
    };
    let exporter = Exporter::new(config, &args.dir)?;
    let stopper = exporter.stopper();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::spawn(move || match rt.block_on(crate::serve::shutdown_signal()) {
        Ok(()) => {
            tracing::info!("kafka export: stopping (flushing what was read)");
            stopper.stop();
        }
        // Without handlers the default actions stay: a signal ends the process, and the
        // next run resumes from the topic.
        Err(e) => tracing::error!("kafka export: no graceful stop on SIGINT/SIGTERM: {e:#}"),
    });
    let stats = exporter.run().context("kafka export")?;
    tracing::info!(sent = stats.sent, skipped = stats.skipped, "kafka export: stopped");
    println!("sent {} records ({} already in the topic)", stats.sent, stats.skipped);
    Ok(())
}
