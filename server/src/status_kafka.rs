//! `modsynclog-client status --metrics HOST:PORT`: the Kafka bridge's imports and exports,
//! read from the server's metrics endpoint (the same figures Prometheus scrapes).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// `GET /metrics` from `addr`, with the read token when given; the body.
pub fn scrape(addr: &str, token: Option<&str>) -> Result<String> {
    let mut conn = TcpStream::connect(addr).with_context(|| format!("connect to the metrics endpoint {addr}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    // One write: the endpoint answers after the first segment it reads.
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).with_context(|| format!("ask {addr} for its metrics"))?;
    let mut response = String::new();
    conn.read_to_string(&mut response).with_context(|| format!("read the metrics of {addr}"))?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        bail!("{addr}: {status} (a non-loopback metrics endpoint needs --token with the read scope)");
    }
    Ok(body.to_string())
}

/// One sample: its labels and value.
type Samples = Vec<(BTreeMap<String, String>, f64)>;

/// The samples of the exposition text, by metric name.
fn parse(text: &str) -> BTreeMap<String, Samples> {
    let mut out: BTreeMap<String, Samples> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, labels_of(rest.trim_end_matches('}'))),
            None => (series, BTreeMap::new()),
        };
        out.entry(name.to_string()).or_default().push((labels, value));
    }
    out
}

/// `a="x",b="y"` (values may hold escaped quotes).
fn labels_of(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(key.trim_start_matches(',').trim().to_string(), value);
        rest = &after[end..];
    }
    out
}

/// The bridge's tables, or a line saying there is none.
pub fn tables(text: &str) -> String {
    let m = parse(text);
    let mut s = String::new();
    // Per import, per partition: the four figures.
    let mut rows: BTreeMap<(String, String, u32), [Option<f64>; 4]> = BTreeMap::new();
    let figures = ["stored_offset", "committed_offset", "high_watermark", "lag"];
    for (col, figure) in figures.iter().enumerate() {
        for (labels, value) in m.get(&format!("modsynclog_kafka_import_{figure}")).into_iter().flatten() {
            let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
            let partition = label("partition").parse().unwrap_or(0);
            rows.entry((label("import"), label("topic"), partition)).or_default()[col] = Some(*value);
        }
    }
    let counter = |name: &str, key: &str, want: &str| -> String {
        m.get(name)
            .and_then(|v| v.iter().find(|(l, _)| l.get(key).map(String::as_str) == Some(want)))
            .map_or("-".into(), |(_, v)| format!("{v}"))
    };
    let imports: Vec<String> = m
        .get("modsynclog_kafka_import_records_total")
        .into_iter()
        .flatten()
        .filter_map(|(l, _)| l.get("import").cloned())
        .collect();
    for import in &imports {
        let _ = writeln!(
            s,
            "kafka import {import}: {} records stored, {} dead letters, {} failed batches, {} filed on arrival",
            counter("modsynclog_kafka_import_records_total", "import", import),
            counter("modsynclog_kafka_import_dead_letters_total", "import", import),
            counter("modsynclog_kafka_import_failed_batches_total", "import", import),
            counter("modsynclog_kafka_import_filed_on_arrival_total", "import", import),
        );
        let _ = writeln!(
            s,
            "  {:<24} {:>9} {:>14} {:>14} {:>14} {:>10}",
            "topic", "partition", "stored", "committed", "high", "lag"
        );
        for ((_, topic, partition), f) in
            rows.range((import.clone(), String::new(), 0)..).take_while(|(k, _)| &k.0 == import)
        {
            let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v}"));
            let _ = writeln!(
                s,
                "  {topic:<24} {partition:>9} {:>14} {:>14} {:>14} {:>10}",
                cell(f[0]),
                cell(f[1]),
                cell(f[2]),
                cell(f[3])
            );
        }
    }
    for (labels, sent) in m.get("modsynclog_kafka_export_records_total").into_iter().flatten() {
        let topic = labels.get("topic").cloned().unwrap_or_default();
        let last = m
            .get("modsynclog_kafka_export_last_id")
            .and_then(|v| v.iter().find(|(l, _)| l.get("topic") == Some(&topic)))
            .map_or("-".to_string(), |(l, id)| format!("{} {id}", l.get("date").cloned().unwrap_or_default()));
        let lag = counter("modsynclog_kafka_export_lag_records", "topic", &topic);
        let _ = writeln!(s, "kafka export {topic}: {sent} records sent, last exported {last}, lag {lag} records");
    }
    if s.is_empty() {
        s.push_str("no kafka import or export on this server\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_of_an_import_and_an_export() {
        let text = "# HELP x y\n\
            modsynclog_kafka_import_records_total{import=\"in\"} 95\n\
            modsynclog_kafka_import_dead_letters_total{import=\"in\"} 2\n\
            modsynclog_kafka_import_failed_batches_total{import=\"in\"} 0\n\
            modsynclog_kafka_import_filed_on_arrival_total{import=\"in\"} 3\n\
            modsynclog_kafka_import_stored_offset{import=\"in\",topic=\"t\\\"q\",partition=\"1\"} 90\n\
            modsynclog_kafka_import_committed_offset{import=\"in\",topic=\"t\\\"q\",partition=\"1\"} 80\n\
            modsynclog_kafka_import_high_watermark{import=\"in\",topic=\"t\\\"q\",partition=\"1\"} 100\n\
            modsynclog_kafka_import_lag{import=\"in\",topic=\"t\\\"q\",partition=\"1\"} 10\n\
            modsynclog_kafka_export_records_total{topic=\"out\"} 7\n\
            modsynclog_kafka_export_last_id{topic=\"out\",date=\"2026-11-29\"} 6\n\
            modsynclog_kafka_export_lag_records{topic=\"out\"} 0\n";
        let t = tables(text);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0], "kafka import in: 95 records stored, 2 dead letters, 0 failed batches, 3 filed on arrival",
            "{t}"
        );
        assert!(lines[2].split_whitespace().eq(["t\"q", "1", "90", "80", "100", "10"]), "{t}");
        assert_eq!(lines[3], "kafka export out: 7 records sent, last exported 2026-11-29 6, lag 0 records");
        assert_eq!(tables("modsynclog_appended_records_total 3\n"), "no kafka import or export on this server\n");
    }
}
