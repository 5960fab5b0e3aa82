//! The process's own figures, the names every Prometheus client library uses:
//! `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`,
//! `process_start_time_seconds`. Read from `/proc/self` at each scrape (Linux only;
//! elsewhere the figures are left out).

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// When the process started, as first asked (the server asks at start).
pub fn start_time() -> f64 {
    static START: OnceLock<f64> = OnceLock::new();
    *START.get_or_init(|| SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0))
}

#[derive(Debug, Default)]
pub struct ProcessMetrics;

/// User plus system CPU seconds, from `/proc/self/stat` (fields 14 and 15, in clock ticks).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks as f64 / hz as f64)
}

fn resident_bytes() -> Option<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(1) as i64)
}

fn open_fds() -> Option<i64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as i64)
}

impl Collector for ProcessMetrics {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        if let Some(cpu) = cpu_seconds() {
            let c = ConstCounter::new(cpu);
            c.encode(e.encode_descriptor("process_cpu_seconds", "User and system CPU time", None, c.metric_type())?)?;
        }
        let mut gauge = |name: &str, help: &str, value: Option<f64>| -> std::fmt::Result {
            let Some(v) = value else { return Ok(()) };
            let g = ConstGauge::new(v);
            g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
        };
        gauge("process_resident_memory_bytes", "Resident memory", resident_bytes().map(|v| v as f64))?;
        gauge("process_open_fds", "Open file descriptors", open_fds().map(|v| v as f64))?;
        gauge("process_start_time_seconds", "Start time, Unix seconds", Some(start_time()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_figures() {
        assert!(cpu_seconds().is_some());
        assert!(resident_bytes().unwrap() > 1 << 20);
        assert!(open_fds().unwrap() >= 3);
    }
}
