//! Messages into per-partition batches, batches into the writer, acknowledgements into
//! stored offsets.
//!
//! Each assigned partition is one producer of the writer's exactly-once table
//! ([`producer_id`]); a batch's seq is the offset after its last message. The writer
//! journals that seq with the records, so the journal always says up to where a
//! partition is in the store, and a batch sent again after a crash or a rewind is
//! recognised and not stored twice.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use modsynclog_core::server::{Ack, Batch, Origin, PendingAck, WriterHandle};
use modsynclog_core::{Date, Error, ErrorKind, Result};
use rdkafka::message::{BorrowedMessage, Message};
use tokio::runtime::Handle;

use super::dead_letter::DeadLetters;
use super::{Figures, TypeFrom};
use std::sync::atomic::Ordering::Relaxed;

/// A partition: `(topic, partition)`.
pub(crate) type Key = (String, i32);

/// Batches queued for the writer and not yet acknowledged, at most (the writer's queue is
/// bounded in bytes too).
const MAX_IN_FLIGHT: usize = 16;

/// Payload bytes taken into batches and not yet queued, all partitions together: past it
/// every batch is queued (a batch alone is bounded by the server's batch limits, but many
/// partitions each filling one would add up).
pub const MAX_PENDING_BYTES: usize = 16 << 20;

/// The writer's exactly-once key of `topic`/`partition` read by `group`. Stable across
/// versions: the journal keeps it. Names too long for the journal are hashed (FNV-1a).
pub fn producer_id(group: &str, topic: &str, partition: i32) -> String {
    let id = format!("kafka:{group}:{topic}:{partition}");
    if id.len() <= modsynclog_core::server::dedup::MAX_PRODUCER_ID_LEN {
        return id;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in group.bytes().chain([0]).chain(topic.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    format!("kafka:#{h:016x}:{partition}")
}

#[derive(Debug, Default)]
struct Part {
    producer: String,
    batch: Batch,
    bytes: usize,
    /// The day the batch asks to be filed under (filing by timestamp): a batch holds
    /// messages of one day.
    day: Option<Date>,
    /// The offset after the last message taken into a batch (or dead-lettered).
    next: Option<i64>,
    /// The offset after the last message queued for the writer.
    queued: Option<i64>,
    /// The offset after the last message in the store: where to resume.
    stored: Option<i64>,
    /// After a failed batch: the writer takes this partition's batches again once one
    /// ends at or before this offset, so the next batch ends there. Only such a batch
    /// clears it (a later one, queued meanwhile, is refused and keeps it), and it outlives
    /// a revoke ([`Pipeline::resend_until`]): the writer's gap does.
    resend_until: Option<i64>,
    /// The offset the partition's offsets last started over below (warned once).
    started_over: Option<i64>,
}

struct InFlight {
    key: Key,
    next: i64,
    day: Option<Date>,
    ack: PendingAck,
}

pub(crate) struct Pipeline {
    writer: WriterHandle,
    runtime: Handle,
    group: String,
    type_from: TypeFrom,
    /// File each record under its message timestamp's day (else: its arrival day).
    by_timestamp: bool,
    /// The last timestamp's second and the day it asks for (most messages share a second;
    /// the local calendar's conversion is not free).
    last_stamp: Option<(i64, Date)>,
    parts: BTreeMap<Key, Part>,
    /// Each partition's `Part::resend_until`, kept across a revoke and a new assignment.
    resend_until: BTreeMap<Key, i64>,
    in_flight: VecDeque<InFlight>,
    /// Records and payload bytes in the partitions' batches ([`MAX_PENDING_BYTES`] at most).
    pending_records: usize,
    pending_bytes: usize,
    dead: DeadLetters,
    /// The first failure since the last rewind.
    pub(crate) failed: Option<Error>,
    pub(crate) figures: std::sync::Arc<Figures>,
}

impl Pipeline {
    pub(crate) fn new(
        writer: WriterHandle,
        runtime: Handle,
        group: String,
        type_from: TypeFrom,
        by_timestamp: bool,
        dead: DeadLetters,
        figures: std::sync::Arc<Figures>,
    ) -> Pipeline {
        Pipeline {
            writer,
            runtime,
            group,
            type_from,
            by_timestamp,
            last_stamp: None,
            parts: BTreeMap::new(),
            resend_until: BTreeMap::new(),
            in_flight: VecDeque::new(),
            pending_records: 0,
            pending_bytes: 0,
            dead,
            failed: None,
            figures,
        }
    }

    /// The writer's exactly-once key of a partition.
    pub(crate) fn producer(&self, topic: &str, partition: i32) -> String {
        producer_id(&self.group, topic, partition)
    }

    /// Where the store says `key` is: the offset after its last stored message, batches
    /// still queued in the writer counted. `None` too when the writer is stopping.
    pub(crate) fn stored_in_journal(&self, key: &Key) -> Option<i64> {
        let seq = self.runtime.block_on(self.writer.stored_seq(&self.producer(&key.0, key.1))).ok()??;
        i64::try_from(seq).ok()
    }

    /// `key` is assigned, resuming at `offset` (`None`: where the group's reset policy says).
    pub(crate) fn assigned(&mut self, key: Key, offset: Option<i64>) {
        let producer = self.producer(&key.0, key.1);
        self.figures.set(&key, |f| f.stored = offset);
        // A failed batch still waiting for its resend (when the partition resumes before it).
        let resend_until = self.resend_until.get(&key).copied().filter(|&u| offset.is_none_or(|o| o < u));
        let part = Part { producer, stored: offset, queued: offset, next: offset, resend_until, ..Part::default() };
        if let Some(old) = self.parts.insert(key, part) {
            self.pending_records -= old.batch.len();
            self.pending_bytes -= old.bytes;
        }
    }

    /// `key` is gone to another consumer (its batches were drained first).
    pub(crate) fn revoked(&mut self, key: &Key) {
        if let Some(part) = self.parts.remove(key) {
            self.pending_records -= part.batch.len();
            self.pending_bytes -= part.bytes;
        }
        self.figures.remove(key);
    }

    pub(crate) fn assignment(&self) -> Vec<Key> {
        self.parts.keys().cloned().collect()
    }

    /// Takes one message: into its partition's batch, or into the dead-letter folder.
    pub(crate) fn take(&mut self, m: &BorrowedMessage<'_>) -> Result<()> {
        let key = (m.topic().to_string(), m.partition());
        if !self.parts.contains_key(&key) {
            // Prefetched before the partition was revoked: its next owner reads it.
            tracing::debug!(topic = %key.0, partition = key.1, offset = m.offset(), "kafka import: message of a partition not assigned");
            return Ok(());
        }
        let limits = *self.writer.limits();
        let part = self.parts.get_mut(&key).expect("assigned");
        part.stored.get_or_insert(m.offset());
        part.queued.get_or_insert(m.offset());
        // Reads resume where the store is, so a message below what was queued is no message
        // read again: the partition's offsets started over (the topic was re-created, or
        // truncated). The writer would take its batch for a resend, and the batch would
        // grow until the offsets passed the journal's: the message is set aside.
        if let Some(queued) = part.queued.filter(|&q| m.offset() < q) {
            if part.started_over != Some(queued) {
                part.started_over = Some(queued);
                tracing::warn!(topic = %key.0, partition = key.1, offset = m.offset(), stored = queued,
                    "kafka import: the partition's offsets started over below what this store holds (the topic was re-created or truncated); \
                     messages below that go to the dead-letter folder");
            }
            let reason = format!(
                "offset {} is below {queued}, where this store holds the partition to: the topic was re-created or truncated",
                m.offset()
            );
            self.dead.write(m, &reason, Some(queued))?;
            self.figures.dead_letters.store(self.dead.written, Relaxed);
            return Ok(());
        }
        // The batch after a failure must end where the failed one did (see Part::resend_until).
        if let Some(until) = part.resend_until
            && m.offset() >= until
        {
            part.next = Some(part.next.map_or(until, |n| n.max(until)));
            self.submit(&key)?;
        }
        let day = self.day_of(m);
        let part = self.parts.get_mut(&key).expect("assigned");
        if !part.batch.is_empty() && part.day != day {
            self.submit(&key)?;
        }
        let part = self.parts.get_mut(&key).expect("assigned");
        part.day = day;
        match record_of(m, &self.type_from, &limits) {
            Ok((ty, data)) => {
                part.bytes += data.len();
                self.pending_records += 1;
                self.pending_bytes += data.len();
                part.batch.push((ty, data));
            }
            Err(reason) => {
                self.dead.write(m, &reason, None)?;
                self.figures.dead_letters.store(self.dead.written, Relaxed);
                tracing::warn!(topic = %key.0, partition = key.1, offset = m.offset(), %reason, "kafka import: dead letter");
            }
        }
        part.next = Some(m.offset() + 1);
        let full = part.batch.len() >= limits.max_batch_records
            || part.bytes + limits.max_record_len > limits.max_batch_bytes
            || part.resend_until.is_some_and(|u| m.offset() + 1 >= u);
        if full {
            self.submit(&key)?;
        } else if self.pending_bytes > MAX_PENDING_BYTES {
            self.flush(None)?;
        }
        Ok(())
    }

    /// The day `m` asks to be filed under: its timestamp's, when filing by timestamp and
    /// it has one.
    fn day_of(&mut self, m: &BorrowedMessage<'_>) -> Option<Date> {
        if !self.by_timestamp {
            return None;
        }
        let secs = m.timestamp().to_millis()?.div_euclid(1000);
        match self.last_stamp {
            Some((s, day)) if s == secs => Some(day),
            _ => {
                // Only yesterday can still be open: older days (and days to come) all go to
                // the current day, so a backlog's messages need not split batches by their
                // own days. They ask for the day before yesterday (never open, so filed on
                // arrival and counted), not for yesterday, which may be open.
                let today = self.writer.today();
                let day = self.writer.date_at(secs).clamp(today.add_days(-2), today.succ());
                self.last_stamp = Some((secs, day));
                Some(day)
            }
        }
    }

    /// Queues every partition's batch (and the dead letters' offsets) for the writer.
    pub(crate) fn flush(&mut self, only: Option<&[Key]>) -> Result<()> {
        let keys: Vec<Key> = match only {
            Some(keys) => keys.to_vec(),
            None => self.parts.keys().cloned().collect(),
        };
        for key in keys {
            self.submit(&key)?;
        }
        Ok(())
    }

    /// Queues `key`'s batch, when it took anything since the last one.
    fn submit(&mut self, key: &Key) -> Result<()> {
        let Some(part) = self.parts.get_mut(key) else { return Ok(()) };
        let Some(next) = part.next.filter(|n| part.queued.is_none_or(|q| *n > q)) else { return Ok(()) };
        let batch = std::mem::take(&mut part.batch);
        self.pending_records -= batch.len();
        self.pending_bytes -= std::mem::take(&mut part.bytes);
        part.queued = Some(next);
        if part.resend_until.is_some_and(|until| next <= until) {
            part.resend_until = None;
            self.resend_until.remove(key);
        }
        let origin = Origin::new(part.producer.clone(), next as u64);
        let day = part.day;
        let ack = self.runtime.block_on(self.writer.submit_filed(Some(origin), day, batch))?;
        self.in_flight.push_back(InFlight { key: key.clone(), next, day, ack });
        while self.in_flight.len() > MAX_IN_FLIGHT {
            self.reap_one(true);
        }
        Ok(())
    }

    pub(crate) fn idle(&self) -> bool {
        self.in_flight.is_empty() && self.pending_records == 0
    }

    /// Collects the acknowledgements that have come (all of them with `wait`), in order.
    /// Returns the partitions whose stored offset moved.
    pub(crate) fn reap(&mut self, wait: bool) -> Vec<Key> {
        let mut moved = Vec::new();
        while let Some(key) = self.reap_one(wait) {
            if !moved.contains(&key) {
                moved.push(key);
            }
        }
        moved
    }

    fn reap_one(&mut self, wait: bool) -> Option<Key> {
        let front = self.in_flight.front_mut()?;
        let ack = match front.ack.try_ack() {
            Some(ack) => ack,
            None if wait => {
                let front = self.in_flight.pop_front().expect("a front");
                let ack = self.runtime.block_on(front.ack.wait_ack());
                return self.acked(front.key, front.next, front.day, ack);
            }
            None => return None,
        };
        let front = self.in_flight.pop_front().expect("a front");
        self.acked(front.key, front.next, front.day, ack)
    }

    fn acked(&mut self, key: Key, next: i64, asked: Option<Date>, ack: Result<Ack>) -> Option<Key> {
        match ack {
            Ok(ack) => {
                if let Ack::Stored(a) = ack {
                    self.figures.records.fetch_add(a.count, Relaxed);
                    if let Some(asked) = asked.filter(|&d| d != a.date) {
                        let before = self.figures.filed_on_arrival.fetch_add(a.count, Relaxed);
                        if before == 0 {
                            tracing::warn!(topic = %key.0, partition = key.1, %asked, filed = %a.date,
                                "kafka import: records of a finished day (or of one to come) are filed under the day they arrive \
                                 (counted in modsynclog_kafka_import_filed_on_arrival_total; a longer finish grace keeps the day open longer)");
                        }
                    }
                }
                if let Some(part) = self.parts.get_mut(&key) {
                    part.stored = Some(next);
                }
                self.figures.set(&key, |f| f.stored = Some(next));
            }
            Err(e) => {
                self.figures.failed_batches.fetch_add(1, Relaxed);
                if let Some(part) = self.parts.get_mut(&key) {
                    let until = part.resend_until.map_or(next, |u| u.min(next));
                    part.resend_until = Some(until);
                    self.resend_until.insert(key.clone(), until);
                }
                self.failed.get_or_insert(e);
            }
        }
        Some(key)
    }

    /// After a failure: forgets what was taken but not stored, and returns where each
    /// partition resumes (its stored offset).
    pub(crate) fn rewind(&mut self) -> Vec<(Key, i64)> {
        self.reap(true);
        self.failed = None;
        let mut at = Vec::new();
        (self.pending_records, self.pending_bytes) = (0, 0);
        for (key, part) in &mut self.parts {
            part.batch.clear();
            part.bytes = 0;
            part.next = part.stored;
            part.queued = part.stored;
            if let Some(stored) = part.stored {
                at.push((key.clone(), stored));
            }
        }
        at
    }

    /// The stored offset of each of `keys` that has one.
    pub(crate) fn stored(&self, keys: &[Key]) -> Vec<(Key, i64)> {
        keys.iter().filter_map(|k| Some((k.clone(), self.parts.get(k)?.stored?))).collect()
    }
}

/// A message as a record, or why it cannot be one.
fn record_of(
    m: &BorrowedMessage<'_>,
    type_from: &TypeFrom,
    limits: &modsynclog_core::server::Limits,
) -> std::result::Result<(i16, Bytes), String> {
    let payload = m.payload().unwrap_or_default();
    limits.check_record(payload.len()).map_err(|e| e.message().to_string())?;
    let ty = match type_from {
        TypeFrom::Fixed(ty) => *ty,
        TypeFrom::Header(name) => {
            let value = crate::headers::pairs(m.headers())
                .into_iter()
                .find(|(key, _)| *key == name.as_bytes())
                .and_then(|(_, value)| value)
                .ok_or_else(|| format!("no {name} header"))?;
            std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| format!("the {name} header is not a record type (-32768..32767)"))?
        }
    };
    Ok((ty, Bytes::copy_from_slice(payload)))
}

/// The error a closed writer gives: the server is stopping.
pub(crate) fn is_closed(e: &Error) -> bool {
    e.kind() == ErrorKind::Closed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_ids_fit_the_journal() {
        assert_eq!(producer_id("g", "logs", 2), "kafka:g:logs:2");
        let long = producer_id(&"g".repeat(100), &"t".repeat(200), 7);
        assert_eq!(long, producer_id(&"g".repeat(100), &"t".repeat(200), 7));
        assert!(long.len() <= 128 && long.ends_with(":7"), "{long}");
        assert_ne!(long, producer_id(&"g".repeat(101), &"t".repeat(199), 7));
    }
}
