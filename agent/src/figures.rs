//! The agent's figures, as its metrics endpoint shows them (the binary's
//! `agent_metrics` module encodes them).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

/// Updated by the agent's loop, read by scrapes.
#[derive(Debug, Default)]
pub struct Figures {
    /// Inputs in effect now (the config file's and the config centre's).
    pub inputs: AtomicU64,
    /// Files followed now.
    pub files: AtomicU64,
    /// Bytes read from files since start.
    pub read_bytes: AtomicU64,
    /// Records handed to the sender since start, and their payload bytes.
    pub sent_records: AtomicU64,
    pub sent_bytes: AtomicU64,
    /// Records the server acknowledged (stored, or found stored before) since start.
    pub records: AtomicU64,
    /// The same, per input.
    pub input_records: Mutex<BTreeMap<String, u64>>,
    /// Of those, records the server had stored before (resent after a crash or a cut stream).
    pub duplicates: AtomicU64,
    /// Bytes of followed files not yet acknowledged.
    pub behind_bytes: AtomicU64,
    /// The same, per file: input, path (a file renamed away keeps the path it had),
    /// inode number, bytes (as of the last checkpoint).
    pub behind_files: Mutex<Vec<(String, String, u64, u64)>>,
    /// Bytes that went before they were shipped: files deleted while the agent was down,
    /// truncated files whose copy was not found.
    pub lost_bytes: AtomicU64,
    /// Records cut to `max_record_bytes`.
    pub truncated_records: AtomicU64,
    /// Records the server refused for good (larger than its record limit).
    pub refused_records: AtomicU64,
}
