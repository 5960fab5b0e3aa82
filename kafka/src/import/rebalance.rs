//! The consumer's context: where an assigned partition resumes, and what a revoked one
//! finishes before another consumer takes it.
//!
//! - **Assigned**: a partition resumes at the later of the offset the store's journal
//!   holds for it and the group's committed offset. The journal is the truth for this
//!   store (it is written with the records, so it is never behind them, and it is ahead of
//!   the group's offset after a crash between an append and its commit); the group's
//!   offset is ahead when another consumer of the group stored the partition since.
//!   Neither known: the group's `auto.offset.reset` (earliest by default).
//! - **Revoked**: the partition's batch is queued, every batch in flight acknowledged,
//!   and its stored offset committed synchronously, before librdkafka gives it away: the
//!   next owner starts exactly where this store stopped. Not when the assignment was lost
//!   (the session timed out): the group may have given the partition away already.
//!
//! librdkafka runs these callbacks inside `poll` on the import's thread, so they may block.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::Figures;
use super::pipeline::{Key, Pipeline};
use crate::quiet::Quiet;

pub(crate) struct ImportContext {
    pub(crate) pipeline: Mutex<Pipeline>,
    pub(crate) figures: Arc<Figures>,
    pub(crate) timeout: Duration,
    pub(crate) quiet: Quiet,
}

impl ImportContext {
    pub(crate) fn pipeline(&self) -> MutexGuard<'_, Pipeline> {
        self.pipeline.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let keys = keys(tpl);
        let committed = match consumer.committed_offsets(tpl.clone(), self.timeout) {
            Ok(c) => c.to_topic_map(),
            Err(e) => {
                tracing::warn!(error = %e, "kafka import: cannot read the group's committed offsets; resuming from the journal");
                Default::default()
            }
        };
        let mut pipeline = self.pipeline();
        for key in keys {
            let journal = pipeline.stored_in_journal(&key);
            let group = match committed.get(&key) {
                Some(Offset::Offset(o)) => Some(*o),
                _ => None,
            };
            let at = journal.max(group);
            if let Some(at) = at
                && let Err(e) = tpl.set_partition_offset(&key.0, key.1, Offset::Offset(at))
            {
                tracing::warn!(topic = %key.0, partition = key.1, error = %e, "kafka import: cannot set the start offset");
            }
            tracing::info!(topic = %key.0, partition = key.1, ?journal, committed = ?group, start = ?at, "kafka import: partition assigned");
            self.figures.set(&key, |f| f.committed = group);
            pipeline.assigned(key, at);
        }
        drop(pipeline);
        if let Err(e) = consumer.assign(tpl) {
            tracing::error!(error = %e, "kafka import: assign failed");
        }
    }

    fn revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let keys = keys(tpl);
        let mut pipeline = self.pipeline();
        if let Err(e) = pipeline.flush(Some(&keys)) {
            tracing::warn!(error = %e, "kafka import: the batch of a revoked partition was not queued; the next owner reads it again");
        }
        pipeline.reap(true);
        let stored = pipeline.stored(&keys);
        for key in &keys {
            pipeline.revoked(key);
        }
        drop(pipeline);
        // A lost assignment (the session timed out) may be another member's already: its
        // offsets could move the group's back, and a sync commit would hold the rebalance
        // while the coordinator is away. The journal stays the truth for this store.
        if consumer.assignment_lost() {
            tracing::warn!(
                partitions = keys.len(),
                "kafka import: the assignment was lost (session timeout); its offsets are not committed"
            );
        } else {
            commit(consumer, &stored, CommitMode::Sync, &self.figures);
        }
        tracing::info!(partitions = keys.len(), "kafka import: partitions revoked");
        if let Err(e) = consumer.unassign() {
            tracing::error!(error = %e, "kafka import: unassign failed");
        }
    }
}

/// Commits `stored` offsets to the group (errors are logged: the journal stays the truth
/// for this store, and the next commit carries the same offsets or later ones).
pub(crate) fn commit<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    stored: &[(Key, i64)],
    mode: CommitMode,
    figures: &Figures,
) {
    if stored.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::with_capacity(stored.len());
    for ((topic, partition), offset) in stored {
        if let Err(e) = tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset)) {
            tracing::warn!(error = %e, "kafka import: bad offset to commit");
        }
    }
    match consumer.commit(&tpl, mode) {
        Err(e) => tracing::warn!(error = %e, "kafka import: committing offsets to the group failed"),
        // librdkafka reports no result of an async commit here; the figures read the
        // group's offsets back every second.
        Ok(()) if matches!(mode, CommitMode::Sync) => {
            for (key, offset) in stored {
                figures.set(key, |f| f.committed = Some(*offset));
            }
        }
        Ok(()) => {}
    }
}

fn keys(tpl: &TopicPartitionList) -> Vec<Key> {
    tpl.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect()
}

impl ClientContext for ImportContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        self.quiet.log(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.quiet.error(&error, reason);
    }
}

impl ConsumerContext for ImportContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer, tpl),
            other => {
                tracing::error!(error = ?other, "kafka import: rebalance failed");
                let _ = consumer.unassign();
            }
        }
    }
}
