//! The import's thread: poll, batch, queue, commit; rewind after a failed append; stop
//! gracefully.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use modsynclog_core::server::WriterHandle;
use modsynclog_core::{Error, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList, bindings};

use super::dead_letter::DeadLetters;
use super::leave;
use super::pipeline::{Key, Pipeline, is_closed};
use super::rebalance::{ImportContext, commit};
use super::{COMMIT_EVERY, Figures, ImportConfig, RESERVED};
use crate::kafka_error;
use crate::quiet::Quiet;

/// Longest wait for a message when nothing is pending.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// Longest wait for a message while batches are being filled or wait for the store: the
/// batches are queued when none came within it (so an import adds at most this to a
/// record's latency), and acknowledgements are collected at least this often.
const BUSY_POLL: Duration = Duration::from_millis(1);
/// How often the figures' high watermarks and committed offsets are refreshed.
const FIGURES_EVERY: Duration = Duration::from_secs(1);
/// Longest wait for the group's committed offsets when refreshing the figures.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause after a failed append before reading again, doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A running import.
pub struct ImportHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
    figures: Arc<Figures>,
}

impl ImportHandle {
    /// Asks the import to stop: it queues the batch in flight, waits until the store has
    /// it, commits the offsets, and leaves the group. [`join`](ImportHandle::join) waits.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Waits for the import to end: `Ok` after [`stop`](ImportHandle::stop), the error
    /// otherwise (the writer closed, the consumer could not be made).
    pub fn join(mut self) -> Result<()> {
        let thread = self.thread.take().expect("joined once");
        thread
            .join()
            .unwrap_or_else(|_| Err(Error::new(modsynclog_core::ErrorKind::Closed, "the kafka import thread panicked")))
    }

    /// Whether the import's thread has ended (stopped, or failed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    pub fn figures(&self) -> Arc<Figures> {
        self.figures.clone()
    }
}

/// Starts an import feeding `writer`; `runtime` runs the writer's futures.
pub fn start(config: ImportConfig, writer: WriterHandle, runtime: tokio::runtime::Handle) -> Result<ImportHandle> {
    if config.brokers.is_empty() || config.topics.is_empty() || config.group.is_empty() {
        return Err(Error::invalid("a Kafka import needs brokers, topics and a consumer group"));
    }
    crate::refuse_reserved(&config.consumer, &RESERVED, &format!("kafka import {}", config.name))?;
    let figures = Arc::new(Figures::named(&config.name));
    let dead = DeadLetters::new(config.dead_letter_dir.clone());
    let by_timestamp = config.day == super::FileBy::Timestamp;
    let pipeline = Pipeline::new(
        writer,
        runtime,
        config.group.clone(),
        config.record_type.clone(),
        by_timestamp,
        dead,
        figures.clone(),
    );
    let context = ImportContext {
        pipeline: pipeline.into(),
        figures: figures.clone(),
        timeout: config.timeout,
        quiet: Quiet::default(),
    };
    let consumer: BaseConsumer<ImportContext> =
        client_config(&config).create_with_context(context).map_err(|e| kafka_error("a consumer", e))?;
    let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).map_err(|e| kafka_error("subscribing", e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let name = config.name.clone();
    let thread = std::thread::Builder::new()
        .name(format!("kafka-import-{name}"))
        .spawn(move || {
            let result = run(&consumer, &stopping, &config);
            if let Err(e) = &result {
                tracing::error!(import = %name, error = %e, "kafka import stopped");
            }
            // Leaving the group revokes the partitions: they are committed first.
            let left = leave::leave(&consumer, config.timeout, &name);
            if leave::close(consumer, config.timeout, &name) && left {
                tracing::info!(import = %name, "kafka import: left the group");
            }
            result
        })
        .map_err(|e| {
            Error::new(modsynclog_core::ErrorKind::Io, format!("cannot start the kafka import thread: {e}"))
        })?;
    Ok(ImportHandle { stop, thread: Some(thread), figures })
}

fn client_config(config: &ImportConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("auto.offset.reset", "earliest");
    // librdkafka stops fetching a partition for this long once its prefetch is full
    // (default 1 s): the import drains the prefetch in milliseconds and sat idle the rest
    // of each second (a third of the rate; BENCHMARKS.md). Larger fetches, fewer trips.
    client.set("fetch.queue.backoff.ms", "5");
    client.set("max.partition.fetch.bytes", "4194304");
    for (key, value) in &config.consumer {
        client.set(key, value);
    }
    client
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // Eager: a revoked partition is drained and committed before anyone else reads it.
        .set("partition.assignment.strategy", "range,roundrobin")
        .set("group.protocol", "classic")
        .set("queued.max.messages.kbytes", (config.prefetch_bytes / 1024).max(1).to_string());
    client
}

fn run(consumer: &BaseConsumer<ImportContext>, stop: &AtomicBool, config: &ImportConfig) -> Result<()> {
    let context = consumer.context().clone();
    let mut last_commit = Instant::now();
    let mut last_figures = Instant::now();
    let mut to_commit: Vec<Key> = Vec::new();
    let mut backoff = FIRST_BACKOFF;
    tracing::info!(import = %config.name, topics = ?config.topics, group = %config.group, "kafka import: started");
    while !stop.load(Ordering::SeqCst) {
        let wait = if context.pipeline().idle() { IDLE_POLL } else { BUSY_POLL };
        let polled = consumer.poll(wait);
        let mut pipeline = context.pipeline();
        match polled {
            Some(Ok(m)) => {
                if let Err(e) = pipeline.take(&m) {
                    pipeline.failed.get_or_insert(e);
                }
            }
            Some(Err(e)) => {
                if let Some(skipped) = context.quiet.allow(&e.to_string()) {
                    tracing::warn!(import = %config.name, error = %e, skipped, "kafka import: consumer error");
                }
            }
            None => {
                if let Err(e) = pipeline.flush(None) {
                    pipeline.failed.get_or_insert(e);
                }
            }
        }
        to_commit.extend(pipeline.reap(false));
        to_commit.sort_unstable();
        to_commit.dedup();
        if let Some(e) = pipeline.failed.take() {
            if is_closed(&e) {
                return Err(e);
            }
            tracing::error!(import = %config.name, error = %e, ?backoff, "kafka import: a batch was not stored; reading again from the stored offsets");
            let at = pipeline.rewind();
            drop(pipeline);
            for ((topic, partition), offset) in at {
                if let Err(e) = consumer.seek(&topic, partition, Offset::Offset(offset), config.timeout) {
                    tracing::warn!(%topic, partition, error = %e, "kafka import: seek failed");
                }
            }
            sleep_unless(stop, backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        }
        if !to_commit.is_empty() && (last_commit.elapsed() >= COMMIT_EVERY || pipeline.idle()) {
            backoff = FIRST_BACKOFF;
            let stored = pipeline.stored(&to_commit);
            drop(pipeline);
            commit(consumer, &stored, CommitMode::Async, &context.figures);
            to_commit.clear();
            last_commit = Instant::now();
        } else {
            drop(pipeline);
        }
        if last_figures.elapsed() >= FIGURES_EVERY {
            // A commit the group refused (a rebalance in progress) is made again.
            to_commit.extend(refresh_figures(consumer, &context));
            last_figures = Instant::now();
        }
    }
    // Graceful stop: what was taken goes into the store, and its offsets to the group.
    let mut pipeline = context.pipeline();
    let flushed = pipeline.flush(None);
    pipeline.reap(true);
    let stored = pipeline.stored(&pipeline.assignment());
    drop(pipeline);
    commit(consumer, &stored, CommitMode::Sync, &context.figures);
    flushed
}

/// The high watermarks librdkafka last saw in fetch responses (no broker request), and
/// the group's committed offsets as the broker has them (librdkafka reports no result of
/// an asynchronous commit to this client). Returns the partitions whose committed offset
/// is behind their stored one.
fn refresh_figures(consumer: &BaseConsumer<ImportContext>, context: &ImportContext) -> Vec<Key> {
    let keys = context.pipeline().assignment();
    let mut tpl = TopicPartitionList::with_capacity(keys.len());
    for (topic, partition) in &keys {
        tpl.add_partition(topic, *partition);
        let Ok(name) = std::ffi::CString::new(topic.as_str()) else { continue };
        let (mut low, mut high) = (-1i64, -1i64);
        // SAFETY: the client pointer lives as long as `consumer`; the name is a valid C
        // string for the call; low and high are written by librdkafka.
        let err = unsafe {
            bindings::rd_kafka_get_watermark_offsets(
                consumer.client().native_ptr(),
                name.as_ptr(),
                *partition,
                &mut low,
                &mut high,
            )
        };
        if err == bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0 {
            context.figures.set(&(topic.clone(), *partition), |f| f.high = Some(high));
        }
    }
    if keys.is_empty() {
        return Vec::new();
    }
    let Ok(committed) = consumer.committed_offsets(tpl, COMMITTED_TIMEOUT) else { return Vec::new() };
    let mut behind = Vec::new();
    for e in committed.elements() {
        let key = (e.topic().to_string(), e.partition());
        let committed = match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        };
        context.figures.set(&key, |f| {
            f.committed = committed;
            if f.stored.is_some() && f.stored > committed {
                behind.push(key.clone());
            }
        });
    }
    behind
}

fn sleep_unless(stop: &AtomicBool, total: Duration) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
    }
}
