//! The importer against a real Kafka broker (`scripts/kafka.sh`, started and stopped by the
//! test), feeding an in-process server's writer: every message stored once, in order
//! within its partition; bad messages in the dead-letter folder; offsets committed to the
//! group; a stop and a restart; a second server joining the group mid-import.
//!
//! `MSL_SKIP_KAFKA=1` skips it, and says so. The `kill -9` cases run the server binary
//! (`server/tests/kafka_import.rs`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use modsynclog_core::clock::{ManualClock, utc_date_of};
use modsynclog_core::server::{self, Limits, RunningServer, ServerConfig};
use modsynclog_core::store::faults::FaultyVfs;
use modsynclog_core::{Date, Reader, Record};
use modsynclog_kafka::import::{self, Figures, FileBy, ImportConfig, ImportHandle, TypeFrom};
use modsynclog_kafka::testing::{Broker, send, skipped};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const GROUP: &str = "importers";
/// The rebalance test: messages there before the second member joins, and in all.
const BACKLOG: u64 = 300_000;
const TOTAL: u64 = 340_000;
/// The server's record limit in these tests: message 500 of every thousand is larger.
const MAX_RECORD: usize = 1024;

/// What message `i` is: `Some(type)` when it is a good record, `None` when it is a dead letter.
fn kind(i: u64) -> Option<i16> {
    match i % 1000 {
        500 | 999 => None,
        _ => Some((i % 5) as i16 - 2),
    }
}

fn payload(i: u64) -> Vec<u8> {
    if i % 1000 == 500 {
        return vec![b'x'; MAX_RECORD + 1];
    }
    format!("m{i} {}", "p".repeat((i % 30) as usize)).into_bytes()
}

/// Produces messages `from..to` into `topic`: message `i` to partition `i % partitions`,
/// its type in header `t` (message 999 of every thousand has none).
fn produce(broker: &Broker, topic: &str, partitions: i32, from: u64, to: u64) {
    produce_with(&broker.producer(), topic, partitions, from, to);
}

fn produce_with(producer: &BaseProducer, topic: &str, partitions: i32, from: u64, to: u64) {
    for i in from..to {
        let data = payload(i);
        let ty = ((i % 5) as i16 - 2).to_string();
        let mut record = BaseRecord::<(), [u8]>::to(topic).partition((i % partitions as u64) as i32).payload(&data[..]);
        if i % 1000 != 999 {
            record = record.headers(OwnedHeaders::new().insert(Header { key: "t", value: Some(ty.as_bytes()) }));
        }
        send(producer, record);
    }
    producer.flush(Duration::from_secs(30)).expect("flushed");
}

async fn start_server(dir: &Path) -> RunningServer {
    start_server_on(dir, FaultyVfs::new()).await
}

/// A server whose store goes through `vfs` (to slow or fail its disk).
async fn start_server_on(dir: &Path, vfs: FaultyVfs) -> RunningServer {
    server::start(ServerConfig {
        data_dir: dir.to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        limits: Limits { max_record_len: MAX_RECORD, ..Limits::default() },
        vfs: Arc::new(vfs),
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

fn start_import(broker: &Broker, topic: &str, server: &RunningServer, dead: &Path) -> ImportHandle {
    let mut config =
        ImportConfig::new("test", broker.bootstrap(), vec![topic.into()], GROUP, TypeFrom::Header("t".into()), dead);
    // Members learn of a rebalance at their next heartbeat: soon, so it comes mid-import.
    config.consumer.push(("heartbeat.interval.ms".into(), "100".into()));
    import::start(config, server.writer(), tokio::runtime::Handle::current()).unwrap()
}

async fn stop_import(handle: ImportHandle) {
    handle.stop();
    tokio::task::spawn_blocking(move || handle.join()).await.unwrap().unwrap();
}

/// Waits until the imports together stored `records` records (and no more come within a
/// moment, when `settle`); panics after 90 s.
async fn wait_stored(figures: &[&Figures], records: u64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let total = || figures.iter().map(|f| f.records.load(Ordering::SeqCst)).sum::<u64>();
    while total() < records {
        assert!(Instant::now() < deadline, "{} of {records} records stored after 90 s", total());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(total(), records, "more records stored than produced");
}

fn good(from: u64, to: u64) -> u64 {
    (from..to).filter(|i| kind(*i).is_some()).count() as u64
}

fn records(dir: &Path) -> Vec<Record> {
    Reader::open(dir).unwrap().collect::<modsynclog_core::Result<Vec<_>>>().unwrap()
}

/// Message numbers in the order the store holds them, checking each record's type.
fn numbers(dir: &Path) -> Vec<u64> {
    records(dir)
        .iter()
        .map(|r| {
            let text = std::str::from_utf8(&r.data).unwrap();
            let i: u64 = text[1..text.find(' ').unwrap()].parse().unwrap();
            assert_eq!(Some(r.ty), kind(i), "type of message {i}");
            assert_eq!(&r.data[..], &payload(i)[..], "payload of message {i}");
            i
        })
        .collect()
}

/// Every good message of `0..n` exactly once across `stores`, and each store's messages
/// of a partition in order.
fn check_exactly_once(stores: &[Vec<u64>], n: u64, partitions: u64) {
    let mut seen = BTreeMap::new();
    for numbers in stores {
        let mut last: BTreeMap<u64, u64> = BTreeMap::new();
        for &i in numbers {
            *seen.entry(i).or_insert(0) += 1;
            if let Some(prev) = last.insert(i % partitions, i) {
                assert!(prev < i, "partition {}: message {i} after {prev}", i % partitions);
            }
        }
    }
    let doubled: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).map(|(i, _)| *i).collect();
    assert!(doubled.is_empty(), "stored more than once: {:?}", &doubled[..doubled.len().min(20)]);
    let missing: Vec<u64> = (0..n).filter(|i| kind(*i).is_some() && !seen.contains_key(i)).collect();
    assert!(missing.is_empty(), "never stored: {:?}", &missing[..missing.len().min(20)]);
    assert_eq!(seen.len() as u64, good(0, n));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_once_bad_ones_in_the_dead_letter_folder_offsets_committed() {
    if skipped("every_message_once_bad_ones_in_the_dead_letter_folder_offsets_committed") {
        return;
    }
    let broker = Broker::start();
    broker.topic("incoming", 3);
    produce(&broker, "incoming", 3, 0, 6000);
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead");
    let server = start_server(&dir.path().join("store")).await;

    let handle = start_import(&broker, "incoming", &server, &dead);
    let figures = handle.figures();
    wait_stored(&[&figures], good(0, 6000)).await;
    assert_eq!(figures.dead_letters.load(Ordering::SeqCst), 12);
    stop_import(handle).await;
    // A graceful stop leaves the group's offsets at the end of what is stored.
    assert_eq!(broker.committed(GROUP, "incoming", 3), [2000, 2000, 2000]);

    // The dead letters: one line each, with the reason.
    let mut reasons = BTreeMap::new();
    for p in 0..3 {
        let text = std::fs::read_to_string(dead.join(format!("incoming.{p}.jsonl"))).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let offset = v["offset"].as_i64().unwrap() as u64;
            reasons.insert(offset * 3 + p, v["reason"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(reasons.len(), 12, "{reasons:?}");
    for (i, reason) in &reasons {
        match i % 1000 {
            500 => assert!(reason.contains("exceeds the limit of 1024"), "{i}: {reason}"),
            999 => assert_eq!(reason, "no t header", "{i}"),
            _ => panic!("message {i} is no dead letter: {reason}"),
        }
    }

    // Started again, it goes on from where the store is (its journal), even when the
    // group's offsets were reset behind it: nothing twice, nothing skipped.
    broker.commit(GROUP, "incoming", &[0, 500, 1500]);
    produce(&broker, "incoming", 3, 6000, 9000);
    let handle = start_import(&broker, "incoming", &server, &dead);
    wait_stored(&[&handle.figures()], good(6000, 9000)).await;
    stop_import(handle).await;
    server.shutdown().await.unwrap();
    check_exactly_once(&[numbers(&dir.path().join("store"))], 9000, 3);
    let dead_lines: usize = (0..3)
        .map(|p| std::fs::read_to_string(dead.join(format!("incoming.{p}.jsonl"))).unwrap().lines().count())
        .sum();
    assert_eq!(dead_lines, 18);

    // On the same broker (one start per test binary saves CI time): filing by timestamp,
    // and a topic created again.
    files_each_message_under_its_timestamps_day_while_that_day_is_open(&broker).await;
    a_topic_created_again_sets_aside_the_messages_below_the_stored_offset(&broker).await;
}

/// A topic deleted and created again starts its offsets over, below the offset the store
/// holds for its partition. Those messages are dead letters in a file of their own (they
/// once piled up in one batch without bound, and were then stored as a resend's records,
/// or refused with the whole import); messages past that offset are stored.
async fn a_topic_created_again_sets_aside_the_messages_below_the_stored_offset(broker: &Broker) {
    let dir = tempfile::tempdir().unwrap();
    let (store, dead) = (dir.path().join("store"), dir.path().join("dead"));
    let server = start_server(&store).await;
    broker.topic("again", 1);
    produce(broker, "again", 1, 0, 300);
    let handle = start_import(broker, "again", &server, &dead);
    wait_stored(&[&handle.figures()], 300).await;
    stop_import(handle).await;

    broker.delete_topic("again").await;
    broker.topic("again", 1);
    // Fewer messages than the store holds: the import's start offset (300) is past the new
    // topic's end, so the consumer starts over from its beginning.
    produce(broker, "again", 1, 1000, 1100);
    let handle = start_import(broker, "again", &server, &dead);
    let figures = handle.figures();
    let deadline = Instant::now() + Duration::from_secs(90);
    while figures.dead_letters.load(Ordering::SeqCst) < 100 {
        assert!(Instant::now() < deadline, "{:?} dead letters after 90 s", figures.dead_letters);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    produce(broker, "again", 1, 1100, 1500);
    wait_stored(&[&figures], 200).await;
    assert_eq!(figures.dead_letters.load(Ordering::SeqCst), 300);
    stop_import(handle).await;
    server.shutdown().await.unwrap();

    let want: Vec<u64> = (0..300).chain(1300..1500).collect();
    assert_eq!(numbers(&store), want);
    let text = std::fs::read_to_string(dead.join("again.0.below-300.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 300);
    for (offset, v) in lines.iter().enumerate() {
        assert_eq!(v["offset"], offset as i64);
        assert!(v["reason"].as_str().unwrap().contains("below 300"), "{v}");
    }
    assert!(!dead.join("again.0.jsonl").exists(), "no other dead letter");
}

/// A server whose clock stands 30 s after a midnight, with the previous day still open
/// (its finish grace): messages stamped that day go there, those of the new day to it,
/// and those of a finished or future day to the day they arrive, counted.
async fn files_each_message_under_its_timestamps_day_while_that_day_is_open(broker: &Broker) {
    const DAY: i64 = 86_400;
    // Three days back in real time: the broker keeps message timestamps of the past (its
    // retention is 7 days) but refuses any more than an hour in the future.
    let real_now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let midnight = real_now - real_now % DAY - 2 * DAY; // the start of "today" (UTC)
    let clock = ManualClock::new(midnight - 10);
    let dir = tempfile::tempdir().unwrap();
    let server = server::start(ServerConfig {
        data_dir: dir.path().join("store"),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        clock: clock.clone(),
        finish_grace: Duration::from_secs(300),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    server.writer().append(vec![(1, "before midnight".into())]).await.unwrap();
    clock.advance(40);

    broker.topic("stamped", 1);
    let producer = broker.producer();
    let stamped = [
        ("late", midnight - 2),
        ("today", midnight + 10),
        ("late, out of order", midnight - 1),
        ("an earlier day", midnight - DAY - 3600),
        ("future day", midnight + DAY + 60),
    ];
    for (text, secs) in stamped {
        send(&producer, BaseRecord::<(), str>::to("stamped").partition(0).payload(text).timestamp(secs * 1000));
    }
    producer.flush(Duration::from_secs(30)).expect("flushed");
    let mut config = ImportConfig::new(
        "stamped",
        broker.bootstrap(),
        vec!["stamped".into()],
        "stamped",
        TypeFrom::Fixed(5),
        dir.path().join("dead"),
    );
    config.day = FileBy::Timestamp;
    let handle = import::start(config, server.writer(), tokio::runtime::Handle::current()).unwrap();
    let figures = handle.figures();
    wait_stored(&[&figures], stamped.len() as u64).await;
    assert_eq!(figures.filed_on_arrival.load(Ordering::SeqCst), 2);
    stop_import(handle).await;
    server.shutdown().await.unwrap();

    let got: Vec<(Date, String)> = records(&dir.path().join("store"))
        .into_iter()
        .map(|r| (r.date, String::from_utf8(r.data.to_vec()).unwrap()))
        .collect();
    let (yesterday, today) = (utc_date_of(midnight - 1), utc_date_of(midnight));
    let want: Vec<(Date, String)> = [
        (yesterday, "before midnight"),
        (yesterday, "late"),
        (yesterday, "late, out of order"),
        (today, "today"),
        (today, "an earlier day"),
        (today, "future day"),
    ]
    .into_iter()
    .map(|(d, t)| (d, t.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_member_joins_mid_import_and_nothing_is_lost_or_doubled() {
    if skipped("a_second_member_joins_mid_import_and_nothing_is_lost_or_doubled") {
        return;
    }
    let broker = Arc::new(Broker::start());
    broker.topic("shared", 4);
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    // The first member's disk is slow, so it has batches in flight when it hands over.
    let slow = FaultyVfs::new();
    slow.slow_syncs(Duration::from_millis(3));
    let (a, b) = (start_server_on(&a_dir, slow).await, start_server(&b_dir).await);

    // A backlog, then messages keep coming, a thousand at a time.
    produce(&broker, "shared", 4, 0, BACKLOG);
    let producing = tokio::task::spawn_blocking({
        let broker = broker.clone();
        move || {
            let producer = broker.producer();
            for from in (BACKLOG..TOTAL).step_by(1000) {
                produce_with(&producer, "shared", 4, from, from + 1000);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
    let first = start_import(&broker, "shared", &a, &dir.path().join("dead-a"));
    let a_figures = first.figures();
    let deadline = Instant::now() + Duration::from_secs(60);
    while a_figures.records.load(Ordering::SeqCst) < 5_000 {
        assert!(Instant::now() < deadline, "the first member stored too little in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The second member joins while the first is deep in the backlog, and takes
    // partitions over: the first hands them over with batches in flight.
    let second = start_import(&broker, "shared", &b, &dir.path().join("dead-b"));
    let b_figures = second.figures();
    while b_figures.partitions().is_empty() {
        assert!(Instant::now() < deadline, "the second member got no partition in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let a_at_handover = a_figures.records.load(Ordering::SeqCst);
    assert!(a_at_handover < good(0, BACKLOG), "the first member was through the backlog before the rebalance");
    producing.await.unwrap();
    wait_stored(&[&a_figures, &b_figures], good(0, TOTAL)).await;
    let b_stored = b_figures.records.load(Ordering::SeqCst);
    assert!(b_stored > 0, "the second member never got a partition");
    stop_import(first).await;
    stop_import(second).await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    check_exactly_once(&[numbers(&a_dir), numbers(&b_dir)], TOTAL, 4);
    eprintln!(
        "first member stored {} ({a_at_handover} before the handover), second {b_stored}",
        a_figures.records.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_the_disk_refuses_are_read_again_and_stored_once() {
    if skipped("batches_the_disk_refuses_are_read_again_and_stored_once") {
        return;
    }
    let broker = Arc::new(Broker::start());
    broker.topic("flaky", 3);
    let dir = tempfile::tempdir().unwrap();
    let vfs = FaultyVfs::new();
    vfs.slow_syncs(Duration::from_millis(2));
    let server = start_server_on(&dir.path().join("store"), vfs.clone()).await;
    // Messages trickle in, so batches are small; after a failure the import finds a
    // backlog and its next batch would end past the failed one (which the writer refuses
    // until the failed range is sent again).
    let producing = tokio::task::spawn_blocking({
        let broker = broker.clone();
        move || {
            let producer = broker.producer();
            for from in (0..15_000).step_by(150) {
                produce_with(&producer, "flaky", 3, from, from + 150);
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
    let handle = start_import(&broker, "flaky", &server, &dir.path().join("dead"));
    let figures = handle.figures();
    let deadline = Instant::now() + Duration::from_secs(60);
    while figures.records.load(Ordering::SeqCst) < 2_000 {
        assert!(Instant::now() < deadline, "nothing stored in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The disk fails every sync for a while: batches fail, the import reads them again.
    vfs.fail_syncs(true);
    while figures.failed_batches.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "no batch failed in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!producing.is_finished(), "the messages ran out before the disk failed; make the stream longer");
    vfs.heal();
    producing.await.unwrap();
    wait_stored(&[&figures], good(0, 15_000)).await;
    stop_import(handle).await;
    server.shutdown().await.unwrap();
    check_exactly_once(&[numbers(&dir.path().join("store"))], 15_000, 3);
}
