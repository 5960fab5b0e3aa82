//! Kafka topics imported into the store, exactly once, through the server's one writer.
//!
//! An [`Importer`] is a member of a consumer group. It takes the messages of its assigned
//! partitions into one batch per partition and queues each batch on the server's writer
//! ([`WriterHandle`]) like any ingest: the same group commit, the same fsync policy, and
//! replicas and readers see the records at once. Each message becomes one record: its
//! payload the record's data, its type fixed or read from a header ([`TypeFrom`]), filed
//! under the day it arrives or under its message timestamp's day ([`FileBy`]).
//!
//! **Filing by timestamp.** A partition's batch holds messages of one day and asks the
//! writer to file it there. The writer takes a past day only while it is still open: the
//! previous day, during the server's finish grace after midnight (`finish_grace`). A
//! message of a day already finished, or of a day to come, is filed under the day it
//! arrives and counted (`filed_on_arrival`): finished days are final, replicas have them.
//!
//! **Exactly once.** Each partition is a producer of the writer's exactly-once table
//! (the ingest journal, see `modsynclog_core::server::dedup`): a batch's seq is the offset
//! after its last message, journaled with the records in the same group commit. So the
//! journal always holds, for each partition, the offset up to which it is in the store,
//! and it survives `kill -9`. At assignment a partition resumes there (or at the group's
//! committed offset, when another member stored it further since; see
//! [`rebalance`]). A batch read again (a crash between the journal and the data, a
//! rewind) is recognised by its seq and not stored twice. After each acknowledged
//! batch the offsets are also committed to the group (asynchronously, at most every
//! [`COMMIT_EVERY`]), so Kafka's own lag tooling shows the truth; a revoked partition is
//! committed synchronously before it goes.
//!
//! Exactly once holds per store. Several servers in one group each store their share;
//! a crash of one between an append and its commit lets the next owner of its partitions
//! read that last stretch again into *its* store.
//!
//! **Dead letters.** A message that cannot be a record (larger than the server's record
//! limit, a missing or bad type header) is written to the dead-letter folder with the
//! reason ([`dead_letter`]) and counted; the import goes on.
//!
//! **Bounded.** librdkafka prefetches at most [`DEFAULT_PREFETCH_BYTES`] per import
//! (`queued.max.messages.kbytes`); the batches being filled hold at most
//! [`MAX_PENDING_BYTES`] together, each within the server's
//! batch limits; at most 16 batches wait for the writer, whose queue is bounded in bytes.

mod dead_letter;
pub mod figures;
mod leave;
mod pipeline;
mod rebalance;
mod run;

use std::path::PathBuf;
use std::time::Duration;

pub use figures::{Figures, PartFigures};
pub use pipeline::{MAX_PENDING_BYTES, producer_id};
pub use run::{ImportHandle, start};

/// Bytes librdkafka may prefetch for one import (`queued.max.messages.kbytes`).
pub const DEFAULT_PREFETCH_BYTES: usize = 64 << 20;

/// Longest between two commits of stored offsets to the group while records flow.
pub const COMMIT_EVERY: Duration = Duration::from_millis(200);

/// Where a record's type comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeFrom {
    /// Every record of the import has this type.
    Fixed(i16),
    /// The message header of this name holds it, as decimal text (the exporter's
    /// `msl-type`); a message without it is a dead letter.
    Header(String),
}

/// Which day a record is filed under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FileBy {
    /// The day it is stored (the server's clock), like every other ingest.
    #[default]
    Arrival,
    /// Its message timestamp's day, when that day is still open (see the module docs).
    Timestamp,
}

/// What an import reads and where its dead letters go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportConfig {
    /// Names the import in logs and metrics (`import="..."`).
    pub name: String,
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    pub brokers: String,
    pub topics: Vec<String>,
    /// The consumer group (`group.id`).
    pub group: String,
    pub record_type: TypeFrom,
    /// Which day each record is filed under.
    pub day: FileBy,
    /// Folder of the dead-letter files.
    pub dead_letter_dir: PathBuf,
    /// Bytes librdkafka may prefetch ([`DEFAULT_PREFETCH_BYTES`]).
    pub prefetch_bytes: usize,
    /// How long broker requests made while rebalancing may take.
    pub timeout: Duration,
    /// Further librdkafka consumer settings (`security.protocol`, `auto.offset.reset`...).
    /// The keys exactly once rests on ([`RESERVED`]) are refused.
    pub consumer: Vec<(String, String)>,
}

impl ImportConfig {
    pub fn new(
        name: impl Into<String>,
        brokers: impl Into<String>,
        topics: Vec<String>,
        group: impl Into<String>,
        record_type: TypeFrom,
        dead_letter_dir: impl Into<PathBuf>,
    ) -> ImportConfig {
        ImportConfig {
            name: name.into(),
            brokers: brokers.into(),
            topics,
            group: group.into(),
            record_type,
            day: FileBy::Arrival,
            dead_letter_dir: dead_letter_dir.into(),
            prefetch_bytes: DEFAULT_PREFETCH_BYTES,
            timeout: Duration::from_secs(30),
            consumer: Vec::new(),
        }
    }
}

/// Consumer settings the importer sets itself: with any of them changed, offsets could be
/// committed before their records are stored, or a rebalance could skip the handover.
pub const RESERVED: [&str; 5] =
    ["enable.auto.commit", "enable.auto.offset.store", "group.id", "partition.assignment.strategy", "group.protocol"];
