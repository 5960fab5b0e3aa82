//! The agent's figures, as its metrics endpoint shows them.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Updated by the agent's loop, read by scrapes.
#[derive(Debug, Default)]
pub struct Figures {
    /// Files followed now.
    pub files: AtomicU64,
    /// Bytes read from files since start.
    pub read_bytes: AtomicU64,
    /// Records handed to the sender since start, and their payload bytes.
    pub sent_records: AtomicU64,
    pub sent_bytes: AtomicU64,
    /// Records the server acknowledged (stored, or found stored before) since start.
    pub records: AtomicU64,
    /// Of those, records the server had stored before (resent after a crash or a cut stream).
    pub duplicates: AtomicU64,
    /// Bytes of followed files not yet acknowledged.
    pub behind_bytes: AtomicU64,
    /// Bytes of files that went (deleted while the agent was down) before they were shipped.
    pub lost_bytes: AtomicU64,
    /// Records cut to `max_record_bytes`.
    pub truncated_records: AtomicU64,
    /// Records the server refused for good (larger than its record limit).
    pub refused_records: AtomicU64,
}

impl Figures {
    pub fn render(&self, out: &mut String) {
        let rows: [(&str, &str, &str, &AtomicU64); 10] = [
            ("modsynclog_agent_files", "gauge", "Files followed now.", &self.files),
            ("modsynclog_agent_read_bytes_total", "counter", "Bytes read from files.", &self.read_bytes),
            ("modsynclog_agent_sent_records_total", "counter", "Records handed to the sender.", &self.sent_records),
            ("modsynclog_agent_sent_bytes_total", "counter", "Payload bytes handed to the sender.", &self.sent_bytes),
            ("modsynclog_agent_acked_records_total", "counter", "Records the server acknowledged.", &self.records),
            (
                "modsynclog_agent_duplicate_records_total",
                "counter",
                "Acknowledged records the server had stored before (resent, not stored twice).",
                &self.duplicates,
            ),
            (
                "modsynclog_agent_behind_bytes",
                "gauge",
                "Bytes of followed files not yet acknowledged.",
                &self.behind_bytes,
            ),
            (
                "modsynclog_agent_lost_bytes_total",
                "counter",
                "Bytes of files deleted before they were shipped.",
                &self.lost_bytes,
            ),
            (
                "modsynclog_agent_truncated_records_total",
                "counter",
                "Records cut to max_record_bytes.",
                &self.truncated_records,
            ),
            (
                "modsynclog_agent_refused_records_total",
                "counter",
                "Records the server refused for good.",
                &self.refused_records,
            ),
        ];
        for (name, kind, help, value) in rows {
            let _ =
                writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}", value.load(Ordering::Relaxed));
        }
    }
}
