//! Prometheus metrics in the text exposition format, served over plain HTTP.
//!
//! The figures come from the store's [`Signal`] (appends since start, the head) and the
//! process itself (resident memory). The endpoint answers `GET /metrics` (any path, in
//! fact) with one small response per connection; it is meant for a scraper on a private
//! network, like the defaults of every other listener here (127.0.0.1).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::Result;
use crate::store::{Head, Signal};

/// Renders every metric for `head`.
pub fn render(head: &Head) -> String {
    let mut out = String::with_capacity(1024);
    let mut metric = |name: &str, kind: &str, help: &str, labels: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{labels} {value}");
    };
    metric("modsynclog_appended_records_total", "counter", "Records appended since start.", "", head.appended_records);
    metric(
        "modsynclog_appended_bytes_total",
        "counter",
        "Payload bytes appended since start.",
        "",
        head.appended_bytes,
    );
    metric(
        "modsynclog_append_batches_total",
        "counter",
        "Group commits (one data and one index write each) since start.",
        "",
        head.appended_batches,
    );
    if let Some(date) = head.date {
        let labels = format!("{{date=\"{date}\"}}");
        metric("modsynclog_head_records", "gauge", "Records in the day last written.", &labels, head.count);
    }
    if let Some(rss) = resident_bytes() {
        metric("process_resident_memory_bytes", "gauge", "Resident memory of the process.", "", rss);
    }
    out
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Serves metrics on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, signal: Arc<Signal>, mut shutdown: watch::Receiver<bool>) -> Result<()> {
    loop {
        let (mut conn, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => return Ok(()),
        };
        let body = render(&signal.head());
        tokio::spawn(async move {
            // Read (and ignore) the request head; a scraper sends a few hundred bytes.
            let mut buf = [0u8; 2048];
            let _ = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes()).await;
            let _ = conn.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::Date;

    #[test]
    fn renders_counters_and_head() {
        let signal = Signal::default();
        signal.publish_append(Date::parse("2026-11-21").unwrap(), 3, 3, 42);
        let text = render(&signal.head());
        assert!(text.contains("\nmodsynclog_appended_records_total 3\n"), "{text}");
        assert!(text.contains("\nmodsynclog_appended_bytes_total 42\n"), "{text}");
        assert!(text.contains("\nmodsynclog_append_batches_total 1\n"), "{text}");
        assert!(text.contains("\nmodsynclog_head_records{date=\"2026-11-21\"} 3\n"), "{text}");
    }
}
