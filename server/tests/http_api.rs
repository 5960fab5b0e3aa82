//! The HTTP endpoint of a real server (`--http-addr`): the JSON API over known records,
//! replicas of both protocols as it lists them, the follow stream, and `/metrics` read by
//! a Prometheus text-format parser, with a replica's lag moving as it falls behind and
//! catches up.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{Events, get, json};
use common::{Proc, client, day_tree, free_port, wait_for_port};
use serde_json::Value;

fn send(grpc: u16, ty: i16, lines: &str, dir: &Path) {
    let file = dir.join(format!("lines-{ty}.txt"));
    std::fs::write(&file, lines).unwrap();
    let status = client()
        .args(["send", "--server", &format!("127.0.0.1:{grpc}"), "--type", &ty.to_string()])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until `check` holds (every 50 ms, a minute at most), then returns its value.
fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The samples of `name` in the text at `/metrics`, parsed as Prometheus parses it.
fn samples(http: u16, name: &str) -> Vec<prometheus_parse::Sample> {
    let (status, body) = get(http, "/metrics");
    assert_eq!(status, 200, "{body}");
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the metrics parse");
    scrape.samples.into_iter().filter(|s| s.metric == name).collect()
}

fn value(s: &prometheus_parse::Sample) -> f64 {
    match s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        _ => panic!("not a plain value: {s:?}"),
    }
}

/// `n` lines of `len` pseudo-random hex digits (xorshift: no pattern gzip can use).
fn noise(n: u64, len: usize) -> String {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut out = String::with_capacity(n as usize * (len + 1));
    for _ in 0..n {
        for _ in 0..len / 16 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push_str(&format!("{x:016x}"));
        }
        out.push('\n');
    }
    out
}

fn replicas(http: u16) -> Vec<Value> {
    json(http, "/api/replicas")["replicas"].as_array().unwrap().clone()
}

fn signal(proc: &Proc, sig: &str) {
    assert!(Command::new("kill").args([sig, &proc.0.id().to_string()]).status().unwrap().success());
}

#[test]
fn the_api_shows_days_records_replicas_and_follows_the_head() {
    let tmp = tempfile::tempdir().unwrap();
    let (grpc, sync, http) = (free_port(), free_port(), free_port());
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    let server = Proc::start_logged(
        env!("CARGO_BIN_EXE_modsynclog-server"),
        &[
            "--log-format",
            "json",
            "--data-dir",
            data.to_str().unwrap(),
            "--grpc-addr",
            &format!("127.0.0.1:{grpc}"),
            "--sync-addr",
            &format!("127.0.0.1:{sync}"),
            "--http-addr",
            &format!("127.0.0.1:{http}"),
            "--fsync",
            "never",
            "--utc",
        ],
        &log,
    );
    wait_for_port(grpc);
    wait_for_port(http);
    let status = json(http, "/api/status");
    assert_eq!(status["role"], "server");
    assert_eq!(status["head"], Value::Null);

    // 300 records of type 1 ("plain-N"), then 3 of type 2, one holding a needle.
    send(grpc, 1, &(0..300).map(|i| format!("plain-{i}\n")).collect::<String>(), tmp.path());
    send(grpc, 2, "{\"user\":1}\nneedle-7f3a in here\n{\"user\":3}\n", tmp.path());

    let days = json(http, "/api/days");
    let day = &days["days"][0];
    assert_eq!(day["records"], 303);
    assert_eq!(day["finished"], false);
    let date = day["date"].as_str().unwrap().to_string();
    let folder = data.join(date.replace('-', ""));
    let on_disk: u64 = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    assert_eq!(day["bytes"], on_disk);
    assert_eq!(json(http, "/api/status")["head"]["records"], 303);

    // Paging: 100 at a time from 250, then where the first page said to go on.
    let page = json(http, &format!("/api/records?date={date}&from=250&limit=40"));
    let ids: Vec<u64> = page["records"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (250..290).collect::<Vec<_>>());
    assert_eq!(page["records"][0]["data"], "plain-250");
    assert_eq!(page["records"][0]["type"], 1);
    assert_eq!(page["records"][0]["encoding"], "utf8");
    assert_eq!(page["next"], 290);
    let page = json(http, &format!("/api/records?date={date}&from=290&limit=40"));
    assert_eq!(page["records"].as_array().unwrap().len(), 13);
    assert_eq!(page["next"], Value::Null);

    // Filters: by type, by text, by expression, and both.
    let by_type = json(http, "/api/records?type=2");
    let payloads: Vec<&str> =
        by_type["records"].as_array().unwrap().iter().map(|r| r["data"].as_str().unwrap()).collect();
    assert_eq!(payloads, ["{\"user\":1}", "needle-7f3a in here", "{\"user\":3}"]);
    let found = json(http, "/api/records?q=needle-7f3a");
    assert_eq!(found["records"].as_array().unwrap().len(), 1);
    assert_eq!(found["records"][0]["id"], 301);
    assert_eq!(found["scanned"], 303);
    let found = json(http, "/api/records?re=plain-(1|2)9%24");
    let ids: Vec<u64> = found["records"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [19, 29]);
    assert_eq!(json(http, "/api/records?type=1&q=needle")["records"].as_array().unwrap().len(), 0);
    assert_eq!(get(http, "/api/records?re=(").0, 400);
    assert_eq!(get(http, "/api/records?date=2001-01-01").0, 404);
    assert_eq!(get(http, "/api/nothing").0, 404);

    // Follow: records stored after the stream opened, filtered.
    let mut events = Events::open(http, "/api/follow?q=live-");
    assert_eq!(events.next().0, "open");
    send(grpc, 5, "not this one\nlive-1\nlive-2\n", tmp.path());
    for expected in ["live-1", "live-2"] {
        let (event, data) = events.next();
        assert_eq!(event, "record");
        let record: Value = serde_json::from_str(&data).unwrap();
        assert_eq!((record["data"].as_str(), record["type"].as_i64()), (Some(expected), Some(5)));
        assert_eq!(record["date"], date.as_str());
    }

    // A producer that stays connected is listed with what it sent.
    let mut producer = Proc(
        client()
            .args(["send", "--follow", "--server", &format!("127.0.0.1:{grpc}"), "--type", "3"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    producer.0.stdin.as_mut().unwrap().write_all(b"p1\np2\n").unwrap();
    until("the producer listed with its two records", || {
        let list = json(http, "/api/producers");
        (list["producers"].as_array().unwrap().first()?["records"] == 2).then_some(())
    });
    // It follows its input (stdin) for good: stopped, it leaves the list.
    drop(producer);
    until("the producer gone from the list", || {
        json(http, "/api/producers")["producers"].as_array().unwrap().is_empty().then_some(())
    });

    // Replicas of both protocols, each listed once caught up.
    let (native_dir, legacy_dir) = (tmp.path().join("native"), tmp.path().join("legacy"));
    let native = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-client"),
        &["sync", "--server", &format!("127.0.0.1:{grpc}"), "--dir", native_dir.to_str().unwrap(), "--utc"],
    );
    let legacy = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-client"),
        &[
            "sync",
            "--protocol",
            "legacy",
            "--server",
            &format!("127.0.0.1:{sync}"),
            "--dir",
            legacy_dir.to_str().unwrap(),
            "--utc",
        ],
    );
    let total = 308u64;
    let listed = until("both replicas listed, caught up", || {
        let list = replicas(http);
        let caught_up = list.len() == 2 && list.iter().all(|r| r["id"] == total && r["lag_records"] == 0);
        caught_up.then_some(list)
    });
    let mut protocols: Vec<&str> = listed.iter().map(|r| r["protocol"].as_str().unwrap()).collect();
    protocols.sort();
    assert_eq!(protocols, ["legacy", "native"]);
    assert!(listed.iter().all(|r| r["date"] == date.as_str() && r["lag_seconds"] == 0.0));

    // The native replica stops reading: what the server holds past the windows and
    // buffers in between shows as its lag, then goes once it reads again.
    signal(&native, "-STOP");
    // Payloads that do not compress (the sync stream is gzipped): 120 MB of them is
    // gzipped to about 60 MB, more than the HTTP/2 windows and socket buffers between the
    // two hold, so the server cannot have sent it all.
    let many = 240_000u64;
    send(grpc, 9, &noise(many, 500), tmp.path());
    let native_addr =
        listed.iter().find(|r| r["protocol"] == "native").unwrap()["address"].as_str().unwrap().to_string();
    // Labelled by host, not address: a reconnect (a new port) keeps the series.
    let native_host = native_addr.parse::<std::net::SocketAddr>().unwrap().ip().to_string();
    let lag = samples(http, "modsynclog_replica_lag_records");
    let native_lag = lag
        .iter()
        .find(|s| s.labels.get("replica") == Some(native_host.as_str()) && s.labels.get("protocol") == Some("native"))
        .expect("a lag sample");
    assert!(value(native_lag) > 0.0, "a stopped replica shows no lag: {lag:?}");
    assert!(value(native_lag) <= many as f64);
    assert_eq!(native_lag.labels.get("protocol"), Some("native"));
    signal(&native, "-CONT");
    until("the native replica's lag back to 0", || {
        let lag = samples(http, "modsynclog_replica_lag_records");
        lag.iter().all(|s| value(s) == 0.0).then_some(())
    });
    until("both replicas hold every record", || {
        (common::stored(&native_dir) == total + many && common::stored(&legacy_dir) == total + many).then_some(())
    });
    assert_eq!(day_tree(&native_dir), day_tree(&data), "the native replica differs");
    assert_eq!(day_tree(&legacy_dir), day_tree(&data), "the legacy replica differs");

    // The other figures, as Prometheus reads them.
    let ingest = samples(http, "modsynclog_ingest_records_total");
    let of_type = |ty: &str| ingest.iter().filter(|s| s.labels.get("type") == Some(ty)).map(value).sum::<f64>();
    assert_eq!((of_type("1"), of_type("2"), of_type("9")), (300.0, 3.0, many as f64));
    assert!(ingest.iter().all(|s| s.labels.get("source") == Some("native")));
    assert_eq!(
        value(
            &samples(http, "modsynclog_replicas_connected")
                .iter()
                .find(|s| s.labels.get("protocol") == Some("legacy"))
                .unwrap()
                .clone()
        ),
        1.0
    );
    assert!(!samples(http, "modsynclog_commit_seconds").is_empty());
    assert!(!samples(http, "process_cpu_seconds_total").is_empty());
    let grpc_conns = samples(http, "modsynclog_connections");
    assert!(
        grpc_conns.iter().any(|s| s.labels.get("port") == Some("legacy_sync") && value(s) == 1.0),
        "{grpc_conns:?}"
    );

    drop(native);
    drop(legacy);
    until("the replicas gone from the list", || replicas(http).is_empty().then_some(()));
    assert!(server.terminate().success());

    // `--log-format json`: one object per line, a line per replica connect and disconnect.
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let count = |message: &str| lines.iter().filter(|l| l["fields"]["message"] == message).count();
    assert_eq!(count("http listening"), 1);
    assert_eq!((count("native replica subscribed"), count("legacy replica connected")), (1, 1));
    let gone =
        |m: &str| lines.iter().filter(|l| l["fields"]["message"].as_str().is_some_and(|s| s.starts_with(m))).count();
    assert_eq!((gone("native replica disconnected"), gone("legacy replica disconnected")), (1, 1));
}
