//! Prometheus metrics in the text exposition format, served over plain HTTP.
//!
//! The figures come from [`MetricSource`]s: the store's [`Signal`] (appends since start,
//! the head), the Kafka bridge's imports and exports, the log agent's files; and from the
//! process itself (resident memory). The endpoint answers `GET /metrics` (any path, in
//! fact) with one small response per connection. With a token (the server passes the read
//! scope's when the address is not loopback) a request without
//! `Authorization: Bearer <token>` gets `401`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::Result;
use crate::store::{Head, Signal};

/// Metrics connections served at once.
const MAX_CONNECTIONS: usize = 16;

/// More metrics for the endpoint, from a part of the process outside the store.
pub trait MetricSource: Send + Sync {
    /// Appends complete metric families (`# HELP`, `# TYPE`, samples) to `out`.
    fn render(&self, out: &mut String);
}

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
    out
}

impl MetricSource for Signal {
    fn render(&self, out: &mut String) {
        out.push_str(&render(&self.head()));
    }
}

/// The process's own figures.
fn render_process(out: &mut String) {
    if let Some(rss) = resident_bytes() {
        let name = "process_resident_memory_bytes";
        let _ = writeln!(out, "# HELP {name} Resident memory of the process.\n# TYPE {name} gauge\n{name} {rss}");
    }
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Serves the metrics of `sources` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    sources: Vec<Arc<dyn MetricSource>>,
    token: Option<String>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let token: Option<Arc<[u8]>> = token.map(|t| Arc::from(t.into_bytes()));
    // Scrapers are few; more connections than this at once are closed at accept.
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
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
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(conn);
            continue;
        };
        let mut body = String::with_capacity(2048);
        for source in &sources {
            source.render(&mut body);
        }
        render_process(&mut body);
        let token = token.clone();
        tokio::spawn(async move {
            let _slot = slot;
            // Read the request head; a scraper sends a few hundred bytes in one segment.
            let mut buf = [0u8; 4096];
            let n = match tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                _ => 0,
            };
            let response = if authorized(&buf[..n], token.as_deref()) {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = conn.write_all(response.as_bytes()).await;
            let _ = conn.shutdown().await;
        });
    }
}

/// Whether the request head carries `Authorization: Bearer <token>` (always, without a token).
fn authorized(head: &[u8], token: Option<&[u8]>) -> bool {
    let Some(token) = token else { return true };
    let policy = crate::access::AccessPolicy::new(None, Some(&String::from_utf8_lossy(token)), false, None, None);
    head.split(|b| *b == b'\n')
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|b| *b == b':')?;
            let (name, value) = line.split_at(colon);
            name.eq_ignore_ascii_case(b"authorization").then(|| value[1..].trim_ascii())
        })
        .any(|value| policy.check(crate::access::Scope::Read, Some(value), None).is_ok())
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

    #[test]
    fn token_checked_when_set() {
        let req = b"GET /metrics HTTP/1.1\r\nHost: x\r\nauthorization: Bearer r3ad\r\n\r\n";
        assert!(authorized(req, Some(b"r3ad")));
        assert!(!authorized(req, Some(b"other")));
        assert!(!authorized(b"GET /metrics HTTP/1.1\r\n\r\n", Some(b"r3ad")));
        assert!(authorized(b"GET /metrics HTTP/1.1\r\n\r\n", None));
    }
}
