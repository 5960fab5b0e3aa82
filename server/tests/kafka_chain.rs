//! The whole Kafka chain against a real broker (`scripts/kafka.sh`): records produced into
//! a 3-partition topic are imported by server A; a native replica of A ends byte-identical;
//! A exports into a second topic; server B imports that topic. Every record arrives in B
//! exactly once, with its type and payload, in order within each partition.
//!
//! `MSL_KAFKA_CHAIN_RECORDS` sets the count: 100,000 by default (the README's test
//! command); the 1,000,000 by hand (`MSL_KAFKA_CHAIN_RECORDS=1000000 cargo test
//! -p modsynclog-server --test kafka_chain -- --nocapture`; BENCHMARKS.md has the run).
//! `MSL_SKIP_KAFKA=1` skips it, and says so.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Proc, day_tree, free_port, wait_for_port};
use modsynclog_core::store::day;
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::{Date, Reader};
use modsynclog_kafka::export::partition_of;
use modsynclog_kafka::testing::{Broker, send, skipped};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer};

const PARTITIONS: i32 = 3;

fn records() -> u64 {
    std::env::var("MSL_KAFKA_CHAIN_RECORDS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000)
}

fn ty(i: u64) -> i16 {
    (i % 7) as i16 - 3
}

fn payload(i: u64) -> String {
    format!("c{i} {}", "q".repeat((i % 60) as usize))
}

/// Message `i` into partition `i % 3` of `source`, its type in header `t`.
fn produce(broker: &Broker, n: u64) {
    let producer = broker.producer();
    for i in 0..n {
        let (data, t) = (payload(i), ty(i).to_string());
        let record = BaseRecord::<(), str>::to("source")
            .partition((i % PARTITIONS as u64) as i32)
            .payload(&data)
            .headers(OwnedHeaders::new().insert(Header { key: "t", value: Some(t.as_bytes()) }));
        send(&producer, record);
    }
    producer.flush(Duration::from_secs(120)).unwrap();
}

fn server(dir: &Path, grpc: u16, kafka: &[&str]) -> Proc {
    let mut args = vec!["--data-dir", dir.to_str().unwrap(), "--sync-addr", "off"];
    let addr = format!("127.0.0.1:{grpc}");
    args.extend(["--grpc-addr", &addr]);
    args.extend(kafka);
    let p = Proc::start(env!("CARGO_BIN_EXE_modsynclog-server"), &args);
    wait_for_port(grpc);
    p
}

fn stored(root: &Path) -> u64 {
    let days = day::list_days(&StdVfs, root).unwrap_or_default();
    days.iter().map(|d| day::record_count(&StdVfs, root, *d).unwrap_or(0)).sum()
}

/// The message number and type of each record of `root`, in store order, with its
/// position `(date, id)`.
fn records_of(root: &Path) -> Vec<(u64, i16, (Date, u64))> {
    Reader::open(root)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            let text = std::str::from_utf8(&r.data).unwrap();
            let i: u64 = text[1..text.find(' ').unwrap()].parse().unwrap();
            assert_eq!((r.ty, text), (ty(i), &payload(i)[..]), "record {} {} holds message {i}", r.date, r.id);
            (i, r.ty, (r.date, r.id))
        })
        .collect()
}

#[test]
fn import_replica_export_import_every_record_once_in_order() {
    if skipped("the kafka chain test") {
        return;
    }
    let n = records();
    let broker = Broker::start();
    broker.topic("source", PARTITIONS);
    broker.topic("archive", PARTITIONS);
    let started = Instant::now();
    produce(&broker, n);
    eprintln!("produced {n} messages in {:.1} s", started.elapsed().as_secs_f64());

    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir, r_dir): (PathBuf, PathBuf, PathBuf) =
        (dir.path().join("a"), dir.path().join("b"), dir.path().join("replica"));
    let (a_port, b_port) = (free_port(), free_port());
    let bootstrap = broker.bootstrap().to_string();
    let started = Instant::now();
    let mut a = server(
        &a_dir,
        a_port,
        &[
            "--kafka-brokers",
            &bootstrap,
            "--kafka-import-topics",
            "source",
            "--kafka-import-type",
            "header:t",
            "--kafka-export-topic",
            "archive",
        ],
    );
    let mut b = server(
        &b_dir,
        b_port,
        &[
            "--kafka-brokers",
            &bootstrap,
            "--kafka-import-topics",
            "archive",
            "--kafka-import-group",
            "b",
            "--kafka-import-type",
            "header:msl-type",
        ],
    );
    let mut replica = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-client"),
        &["sync", "--server", &format!("127.0.0.1:{a_port}"), "--dir", r_dir.to_str().unwrap(), "--fsync", "never"],
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (sa, sb, sr) = (stored(&a_dir), stored(&b_dir), stored(&r_dir));
        if sa >= n && sb >= n && sr >= n {
            break;
        }
        for (p, what) in [(&mut a, "server A"), (&mut b, "server B"), (&mut replica, "the replica")] {
            assert!(p.running(), "{what} exited");
        }
        assert!(Instant::now() < deadline, "after 600 s: A {sa}, replica {sr}, B {sb} of {n}");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("A, its replica and B hold {n} records after {:.1} s", started.elapsed().as_secs_f64());
    assert!(replica.terminate().success(), "the replica must stop on SIGTERM with exit 0");
    assert!(a.terminate().success() && b.terminate().success(), "the servers must stop on SIGTERM with exit 0");

    assert_eq!(day_tree(&a_dir), day_tree(&r_dir), "the replica is not byte-identical to A");
    // A: every message once, each source partition's in order.
    let in_a = records_of(&a_dir);
    assert_eq!(in_a.len() as u64, n, "A holds {} records of {n}", in_a.len());
    let mut where_in_a: HashMap<u64, (Date, u64)> = HashMap::with_capacity(in_a.len());
    let mut last = [None::<u64>; PARTITIONS as usize];
    for &(i, _, at) in &in_a {
        assert!(where_in_a.insert(i, at).is_none(), "message {i} twice in A");
        let p = (i % PARTITIONS as u64) as usize;
        assert!(last[p].is_none_or(|l| l < i), "A: source partition {p} has message {i} after {:?}", last[p]);
        last[p] = Some(i);
    }
    // B: every record of A once, each archive partition's in A's order.
    let in_b = records_of(&b_dir);
    assert_eq!(in_b.len() as u64, n, "B holds {} records of {n}", in_b.len());
    let mut seen = vec![false; n as usize];
    let mut last = [None::<(Date, u64)>; PARTITIONS as usize];
    for &(i, ty, _) in &in_b {
        assert!(!std::mem::replace(&mut seen[i as usize], true), "message {i} twice in B");
        let at = where_in_a[&i];
        let p = partition_of(ty, PARTITIONS) as usize;
        assert!(last[p].is_none_or(|l| l < at), "B: archive partition {p} has A's {at:?} after {:?}", last[p]);
        last[p] = Some(at);
    }
}
