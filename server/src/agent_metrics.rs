//! The log agent's figures (`modsynclog_agent_*`) on its HTTP endpoint's `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use modsynclog_agent::figures::Figures;
use modsynclog_core::metrics::MetricSource;
use modsynclog_core::metrics::collect::{Encoder, counter, counters, gauge, gauges};

#[derive(Debug)]
pub struct AgentMetrics(pub Arc<Figures>);

impl MetricSource for AgentMetrics {
    fn encode(&self, mut e: Encoder) -> std::fmt::Result {
        let f = &self.0;
        let load = |v: &std::sync::atomic::AtomicU64| v.load(Ordering::Relaxed);
        gauge(&mut e, "agent_inputs", "Inputs in effect now", load(&f.inputs) as i64)?;
        gauge(&mut e, "agent_files", "Files followed now", load(&f.files) as i64)?;
        gauge(
            &mut e,
            "agent_behind_bytes",
            "Bytes of followed files not yet acknowledged",
            load(&f.behind_bytes) as i64,
        )?;
        let rows = [
            ("agent_read_bytes", "Bytes read from files", &f.read_bytes),
            ("agent_sent_records", "Records handed to the sender", &f.sent_records),
            ("agent_sent_bytes", "Payload bytes handed to the sender", &f.sent_bytes),
            ("agent_acked_records", "Records the server acknowledged", &f.records),
            (
                "agent_duplicate_records",
                "Acknowledged records the server had stored before (resent, not stored twice)",
                &f.duplicates,
            ),
            (
                "agent_lost_bytes",
                "Bytes of files deleted or truncated (no copy found) before they were shipped",
                &f.lost_bytes,
            ),
            ("agent_truncated_records", "Records cut to max_record_bytes", &f.truncated_records),
            ("agent_refused_records", "Records the server refused for good", &f.refused_records),
        ];
        for (name, help, value) in rows {
            counter(&mut e, name, help, load(value))?;
        }
        let inputs: Vec<_> = f
            .input_records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(input, records)| ([("input", input.clone())], *records))
            .collect();
        counters(&mut e, "agent_input_acked_records", "Records of an input the server acknowledged", &inputs)?;
        let behind: Vec<_> = f
            .behind_files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(input, path, ino, bytes)| {
                ([("input", input.clone()), ("path", path.clone()), ("ino", ino.to_string())], *bytes as i64)
            })
            .collect();
        gauges(&mut e, "agent_file_behind_bytes", "Bytes of a followed file not yet acknowledged", &behind)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_file_figures_are_labelled_and_escaped() {
        let figures = Arc::new(Figures::default());
        figures.lost_bytes.store(7, Ordering::Relaxed);
        figures.input_records.lock().unwrap().insert("app".into(), 3);
        figures.behind_files.lock().unwrap().push(("app".into(), "/var/log/a \"b\".log".into(), 7, 42));
        let registry = modsynclog_core::metrics::registry(|r| r.register_collector(Box::new(AgentMetrics(figures))));
        let out = modsynclog_core::metrics::encode(&registry);
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
