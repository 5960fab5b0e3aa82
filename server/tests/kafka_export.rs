//! `modsynclog-client kafka-export` against a real Kafka broker (`scripts/kafka.sh`): it
//! exports a folder, follows it live, stops on SIGTERM with exit 0 after flushing, and a
//! second run sends only what is new. `MSL_SKIP_KAFKA=1` skips it, and says so.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Proc;
use modsynclog_core::{Date, NewRecord, Store, StoreOptions};
use modsynclog_kafka::testing::{Broker, skipped};
use rdkafka::message::Message;

const TOPIC: &str = "cli";
const PARTITIONS: i32 = 2;

fn append(store: &mut Store, date: Date, n: usize) {
    let payloads: Vec<Vec<u8>> = (0..n).map(|i| format!("record {i}").into_bytes()).collect();
    let records: Vec<NewRecord<'_>> = payloads
        .iter()
        .enumerate()
        .map(|(i, data)| NewRecord { time: 1_764_000_000, ty: (i % 5) as i16, data })
        .collect();
    store.append(date, &records).unwrap();
}

fn held(broker: &Broker) -> i64 {
    broker.held(TOPIC, PARTITIONS)
}

fn wait_held(broker: &Broker, exporter: &mut Proc, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while held(broker) < n {
        assert!(exporter.running(), "the exporter exited before the topic held {n} messages");
        assert!(Instant::now() < deadline, "the topic holds {} of {n} messages after 60 s", held(broker));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A broker with the topic, and an empty store with the day the tests write.
fn setup() -> (Broker, tempfile::TempDir, Store, Date) {
    let broker = Broker::start();
    broker.topic(TOPIC, PARTITIONS);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    (broker, dir, store, Date::parse("2026-11-29").unwrap())
}

fn start_exporter(broker: &Broker, dir: &Path) -> Proc {
    Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-client"),
        &["kafka-export", "--dir", dir.to_str().unwrap(), "--brokers", broker.bootstrap(), "--topic", TOPIC],
    )
}

#[test]
fn kafka_export_follows_stops_on_sigterm_and_resumes_without_doubles() {
    if skipped("the kafka-export CLI test") {
        return;
    }
    let (broker, dir, mut store, today) = setup();
    append(&mut store, today, 1000);

    let mut exporter = start_exporter(&broker, dir.path());
    wait_held(&broker, &mut exporter, 1000);
    append(&mut store, today, 200); // while it follows
    wait_held(&broker, &mut exporter, 1200);
    assert!(exporter.terminate().success(), "SIGTERM must end the export with exit 0");
    assert_eq!(held(&broker), 1200);

    // Restarted: the 1200 are not sent again, the 100 new ones are, once. The exit on
    // SIGTERM comes after the flush, so the count after it is final.
    append(&mut store, today, 100);
    let mut exporter = start_exporter(&broker, dir.path());
    wait_held(&broker, &mut exporter, 1300);
    assert!(exporter.terminate().success());
    assert_eq!(held(&broker), 1300, "records sent twice");
}

/// `kill -9` of the exporter in the middle of a large export, then a restart: every record
/// is in the topic once. A crash can lose what librdkafka held unsent; the restart resends
/// exactly that, from the last message of each partition.
#[test]
fn kafka_export_after_kill_9_mid_export_holds_every_record_once() {
    if skipped("the kafka-export kill -9 test") {
        return;
    }
    let (broker, dir, mut store, today) = setup();
    const TOTAL: i64 = 200_000;
    for _ in 0..(TOTAL / 1000) {
        append(&mut store, today, 1000);
    }

    let mut exporter = start_exporter(&broker, dir.path());
    wait_held(&broker, &mut exporter, TOTAL / 4);
    exporter.kill9();
    let after_kill = held(&broker);
    assert!(after_kill < TOTAL, "the export was over before the kill ({after_kill} messages): no crash point");

    let mut exporter = start_exporter(&broker, dir.path());
    wait_held(&broker, &mut exporter, TOTAL);
    assert!(exporter.terminate().success());
    assert_eq!(held(&broker), TOTAL, "records sent twice after the kill");
    // Not a double and a gap that cancel out: every id is there, once.
    let ids = consumed_ids(&broker, TOTAL as usize);
    assert_eq!(ids.len(), TOTAL as usize, "some records are in the topic twice, others not at all");
    assert_eq!((ids.first(), ids.last()), (Some(&0), Some(&(TOTAL as u64 - 1))));
}

/// The `msl-id` of every message in the topic (exactly `n` are expected), sorted, doubles
/// removed.
fn consumed_ids(broker: &Broker, n: usize) -> Vec<u64> {
    let mut ids: Vec<u64> = broker
        .messages(TOPIC, PARTITIONS, n)
        .iter()
        .map(|m| {
            let pairs = modsynclog_kafka::headers::pairs(m.headers().map(|h| h.as_borrowed()));
            modsynclog_kafka::headers::origin(&pairs).unwrap().id
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
