//! The server's Kafka bridge against a real broker (`scripts/kafka.sh`): one server imports
//! a topic and exports its store into another, is killed with `kill -9` in the middle of
//! the import and again in the middle of the export, and restarted each time. At the end
//! the store holds every message once, the second topic every record once, `status
//! --metrics` shows no lag, and SIGTERM leaves the group's offsets at the end of what is
//! stored. And the broker stopped for a while and started again: the server's import and
//! export go on by themselves. `MSL_SKIP_KAFKA=1` skips these, and says so.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Proc, free_port, wait_for_port};
use modsynclog_core::store::day;
use modsynclog_core::store::io::StdVfs;
use modsynclog_kafka::headers;
use modsynclog_kafka::testing::{Broker, send, skipped};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer};

const TOTAL: u64 = 200_000;
/// The broker-restart test: messages before the outage, and in all.
const BEFORE_OUTAGE: u64 = 20_000;
const WITH_OUTAGE: u64 = 40_000;
const PARTITIONS: i32 = 3;

fn payload(i: u64) -> String {
    format!("m{i} {}", "p".repeat((i % 50) as usize))
}

fn ty(i: u64) -> i16 {
    (i % 5) as i16 - 2
}

/// Messages of partition `p`: message `i` goes to partition `i % PARTITIONS`.
fn in_partition(p: i32) -> u64 {
    (TOTAL + (PARTITIONS - 1 - p) as u64) / PARTITIONS as u64
}

fn produce(broker: &Broker, range: std::ops::Range<u64>) {
    let producer = broker.producer();
    for i in range {
        let (data, t) = (payload(i), ty(i).to_string());
        let record = BaseRecord::<(), str>::to("in")
            .partition((i % PARTITIONS as u64) as i32)
            .payload(&data)
            .headers(OwnedHeaders::new().insert(Header { key: "t", value: Some(t.as_bytes()) }));
        send(&producer, record);
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

struct Setup {
    broker: Broker,
    dir: tempfile::TempDir,
    metrics: u16,
    grpc: u16,
}

impl Setup {
    fn store(&self) -> std::path::PathBuf {
        self.dir.path().join("store")
    }

    fn start_server(&self) -> Proc {
        let (grpc, metrics) = (self.grpc.to_string(), self.metrics.to_string());
        let store = self.store();
        let server = Proc::start(
            env!("CARGO_BIN_EXE_modsynclog-server"),
            &[
                "--data-dir",
                store.to_str().unwrap(),
                "--grpc-addr",
                &format!("127.0.0.1:{grpc}"),
                "--sync-addr",
                "off",
                "--metrics-addr",
                &format!("127.0.0.1:{metrics}"),
                "--kafka-brokers",
                self.broker.bootstrap(),
                "--kafka-import-topics",
                "in",
                "--kafka-import-type",
                "header:t",
                "--kafka-export-topic",
                "out",
                // A killed server's member leaves the group after this, not the default 45 s.
                "--kafka-import-config",
                "session.timeout.ms=6000",
                "--kafka-import-config",
                "heartbeat.interval.ms=500",
            ],
        );
        wait_for_port(self.metrics);
        server
    }

    /// Records in the store, all days.
    fn stored(&self) -> u64 {
        let root = self.store();
        let days = day::list_days(&StdVfs, &root).unwrap_or_default();
        days.iter().map(|d| day::record_count(&StdVfs, &root, *d).unwrap_or(0)).sum()
    }

    fn exported(&self) -> i64 {
        self.broker.held("out", PARTITIONS)
    }

    /// Waits until `done` holds, the server still running; panics after 120 s.
    fn wait(&self, server: &mut Proc, what: &str, done: impl Fn(&Setup) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !done(self) {
            assert!(server.running(), "the server exited while waiting for {what}");
            assert!(
                Instant::now() < deadline,
                "no {what} after 120 s: {} stored, {} exported",
                self.stored(),
                self.exported()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn kill_9_mid_import_and_mid_export_then_every_record_once_at_both_ends() {
    if skipped("the server's kafka bridge test") {
        return;
    }
    let broker = Broker::start();
    broker.topic("in", PARTITIONS);
    broker.topic("out", PARTITIONS);
    produce(&broker, 0..TOTAL);
    let setup = Setup { broker, dir: tempfile::tempdir().unwrap(), metrics: free_port(), grpc: free_port() };

    // Killed in the middle of the import.
    let mut server = setup.start_server();
    setup.wait(&mut server, "a quarter imported", |s| s.stored() >= TOTAL / 4);
    server.kill9();
    let at_kill = setup.stored();
    assert!(at_kill < TOTAL, "the import was over before the kill ({at_kill} records): no crash point");

    // Killed in the middle of the export.
    let mut server = setup.start_server();
    setup.wait(&mut server, "half exported", |s| s.exported() >= TOTAL as i64 / 2);
    server.kill9();
    let at_kill = setup.exported();
    assert!(at_kill < TOTAL as i64, "the export was over before the kill ({at_kill} messages): no crash point");

    // Once more, to the end.
    let mut server = setup.start_server();
    setup
        .wait(&mut server, "everything imported and exported", |s| s.stored() >= TOTAL && s.exported() >= TOTAL as i64);
    // The figures catch up within their refresh (a second for watermarks and commits).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, settled) = loop {
        let out =
            common::client().args(["status", "--metrics", &format!("127.0.0.1:{}", setup.metrics)]).output().unwrap();
        assert!(out.status.success(), "status --metrics: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        // Per partition: stored, committed and high watermark at the partition's end, lag 0.
        let settled = (0..PARTITIONS).all(|p| {
            let end = in_partition(p).to_string();
            text.lines().any(|l| l.split_whitespace().eq(["in", &p.to_string(), &end, &end, &end, "0"]))
        }) && text.contains("lag 0 records");
        if settled || Instant::now() > deadline {
            break (text, settled);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(settled, "status --metrics after 30 s:\n{status}");
    assert!(server.terminate().success(), "SIGTERM must stop the server with exit 0");
    let ends: Vec<i64> = (0..PARTITIONS).map(|p| in_partition(p) as i64).collect();
    assert_eq!(setup.broker.committed("modsynclog", "in", PARTITIONS), ends, "the group's offsets after SIGTERM");

    check_store(&setup.store());
    check_topic(&setup.broker);
}

#[test]
fn the_broker_goes_away_and_comes_back_and_import_and_export_go_on() {
    if skipped("the server's kafka bridge broker-restart test") {
        return;
    }
    let broker = Broker::start();
    broker.topic("in", PARTITIONS);
    broker.topic("out", PARTITIONS);
    let setup = Setup { broker, dir: tempfile::tempdir().unwrap(), metrics: free_port(), grpc: free_port() };
    let mut server = setup.start_server();
    produce(&setup.broker, 0..BEFORE_OUTAGE);
    setup.wait(&mut server, "the first messages through", |s| {
        s.stored() >= BEFORE_OUTAGE && s.exported() >= BEFORE_OUTAGE as i64
    });

    // The broker goes away; meanwhile an SDK stores records the export has to send later.
    setup.broker.stop();
    let lines = setup.dir.path().join("lines");
    std::fs::write(&lines, (0..500).map(|i| format!("during the outage {i}\n")).collect::<String>()).unwrap();
    let sent = common::client()
        .args(["send", "--server", &format!("127.0.0.1:{}", setup.grpc), "--type", "9"])
        .arg(&lines)
        .status()
        .unwrap();
    assert!(sent.success(), "send during the outage");
    assert!(server.running(), "the server died with the broker");
    setup.broker.restart();
    produce(&setup.broker, BEFORE_OUTAGE..WITH_OUTAGE);
    let total = WITH_OUTAGE + 500;
    setup.wait(&mut server, "everything through after the restart", |s| {
        s.stored() >= total && s.exported() >= total as i64
    });
    assert!(server.terminate().success(), "SIGTERM must stop the server with exit 0");
    assert_eq!(setup.stored(), total, "records stored twice");
    let mut seen = vec![false; WITH_OUTAGE as usize];
    for r in modsynclog_core::Reader::open(setup.store()).unwrap() {
        let r = r.unwrap();
        if r.ty == 9 {
            continue;
        }
        let text = std::str::from_utf8(&r.data).unwrap();
        let i: u64 = text[1..text.find(' ').unwrap()].parse().unwrap();
        assert!(!std::mem::replace(&mut seen[i as usize], true), "message {i} stored twice");
    }
    assert!(seen.iter().all(|s| *s), "messages missing");
    let mut ids = BTreeSet::new();
    for m in setup.broker.messages("out", PARTITIONS, total as usize) {
        let o = headers::origin(&headers::pairs(rdkafka::Message::headers(&m).map(|h| h.as_borrowed()))).unwrap();
        assert!(ids.insert((o.date, o.id)), "record {} {} exported twice", o.date, o.id);
    }
}

/// Every message once, each partition's in order, with its type and payload.
fn check_store(root: &Path) {
    let mut seen = vec![false; TOTAL as usize];
    let mut last = [None::<u64>; PARTITIONS as usize];
    for r in modsynclog_core::Reader::open(root).unwrap() {
        let r = r.unwrap();
        let text = std::str::from_utf8(&r.data).unwrap();
        let i: u64 = text[1..text.find(' ').unwrap()].parse().unwrap();
        assert_eq!((r.ty, text), (ty(i), &payload(i)[..]), "message {i}");
        assert!(!seen[i as usize], "message {i} stored twice");
        seen[i as usize] = true;
        let p = (i % PARTITIONS as u64) as usize;
        assert!(last[p].is_none_or(|l| l < i), "partition {p}: message {i} after {:?}", last[p]);
        last[p] = Some(i);
    }
    let missing = seen.iter().filter(|s| !**s).count();
    assert_eq!(missing, 0, "{missing} messages never stored");
}

/// Every record of the store in the second topic once.
fn check_topic(broker: &Broker) {
    let mut ids = BTreeSet::new();
    for m in broker.messages("out", PARTITIONS, TOTAL as usize) {
        let o = headers::origin(&headers::pairs(rdkafka::Message::headers(&m).map(|h| h.as_borrowed()))).unwrap();
        assert!(ids.insert((o.date, o.id)), "record {} {} exported twice", o.date, o.id);
    }
    assert_eq!(ids.len() as u64, TOTAL);
}
