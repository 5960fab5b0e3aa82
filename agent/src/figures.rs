//! The agent's figures, as its metrics endpoint shows them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

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

impl Figures {
    pub fn render(&self, out: &mut String) {
        let rows: [(&str, &str, &str, &AtomicU64); 11] = [
            ("modsynclog_agent_inputs", "gauge", "Inputs in effect now.", &self.inputs),
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
                "Bytes of files deleted or truncated (no copy found) before they were shipped.",
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
        let name = "modsynclog_agent_input_acked_records_total";
        let _ = writeln!(out, "# HELP {name} Records of an input the server acknowledged.\n# TYPE {name} counter");
        for (input, records) in self.input_records.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "{name}{{input=\"{}\"}} {records}", label(input));
        }
        let name = "modsynclog_agent_file_behind_bytes";
        let _ = writeln!(out, "# HELP {name} Bytes of a followed file not yet acknowledged.\n# TYPE {name} gauge");
        for (input, path, ino, behind) in self.behind_files.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ =
                writeln!(out, "{name}{{input=\"{}\",path=\"{}\",ino=\"{ino}\"}} {behind}", label(input), label(path));
        }
    }
}

/// A label value in the text format: backslash, double quote and newline escaped.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_file_figures_are_labelled_and_escaped() {
        let figures = Figures::default();
        figures.lost_bytes.store(7, Ordering::Relaxed);
        figures.input_records.lock().unwrap().insert("app".into(), 3);
        figures.behind_files.lock().unwrap().push(("app".into(), "/var/log/a \"b\".log".into(), 7, 42));
        let mut out = String::new();
        figures.render(&mut out);
        assert!(out.contains("\nmodsynclog_agent_lost_bytes_total 7\n"), "{out}");
        assert!(out.contains("\nmodsynclog_agent_input_acked_records_total{input=\"app\"} 3\n"), "{out}");
        assert!(
            out.contains(
                "\nmodsynclog_agent_file_behind_bytes{input=\"app\",path=\"/var/log/a \\\"b\\\".log\",ino=\"7\"} 42\n"
            ),
            "{out}"
        );
    }
}
