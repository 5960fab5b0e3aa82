//! The exporter against a real Kafka broker (`scripts/kafka.sh`, started and stopped by
//! the test): a store exported, stopped, resumed and followed live; every record arrives
//! exactly once, in order within its partition, with its type, time and payload.
//!
//! Needs Java 17 and Maven (or jars already fetched); `MSL_SKIP_KAFKA=1` skips it, and says
//! so.

use std::collections::BTreeMap;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use modsynclog_core::{Date, NewRecord, Store, StoreOptions};
use modsynclog_kafka::export::{ExportConfig, ExportStats, Exporter, partition_of};
use modsynclog_kafka::headers;
use modsynclog_kafka::testing::{Broker, skipped};
use rdkafka::config::ClientConfig;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const TOPIC: &str = "records";
const PARTITIONS: i32 = 3;

fn day(s: &str) -> Date {
    Date::parse(s).unwrap()
}

/// Appends `n` records to `date`: types cycle over seven (two negative), payloads name
/// their position.
fn append(store: &mut Store, date: Date, n: usize) {
    let first = store.count(date).unwrap();
    let payloads: Vec<Vec<u8>> = (0..n as u64)
        .map(|i| format!("{date} {} {}", first + i, "p".repeat(((first + i) % 40) as usize)).into_bytes())
        .collect();
    let records: Vec<NewRecord<'_>> = payloads
        .iter()
        .enumerate()
        .map(|(i, data)| NewRecord { time: 1_764_000_000 + i as i32, ty: ty_of(first + i as u64), data })
        .collect();
    store.append(date, &records).unwrap();
}

fn ty_of(id: u64) -> i16 {
    [1201, 1202, 1203, 7, -1, -2, 0][(id % 7) as usize]
}

/// Runs an exporter in a thread until the topic holds `total` messages and the exporter
/// has read the whole folder (it waits for more), then stops it.
fn export_until(broker: &Broker, dir: &Path, total: i64) -> ExportStats {
    let exporter = Exporter::new(ExportConfig::new(broker.bootstrap(), TOPIC), dir).unwrap();
    let stopper = exporter.stopper();
    let run = thread::spawn(move || exporter.run());
    let deadline = Instant::now() + Duration::from_secs(60);
    while held(broker) < total || !stopper.idle() {
        assert!(!run.is_finished(), "the exporter ended early: {:?}", run.join().unwrap());
        assert!(Instant::now() < deadline, "the topic holds {} of {total} messages after 60 s", held(broker));
        thread::sleep(Duration::from_millis(50));
    }
    stopper.stop();
    run.join().unwrap().unwrap()
}

/// Messages in the topic.
fn held(broker: &Broker) -> i64 {
    broker.held(TOPIC, PARTITIONS)
}

/// Every message, per partition in offset order: `(date, id, type, time, payload)`.
type Seen = BTreeMap<i32, Vec<(Date, u64, i16, String, Vec<u8>)>>;

fn consume_all(broker: &Broker, total: usize) -> Seen {
    let mut seen = Seen::new();
    for m in broker.messages(TOPIC, PARTITIONS, total) {
        let origin = headers::origin(&headers::pairs(m.headers().map(|h| h.as_borrowed()))).unwrap();
        let time = m.headers().unwrap().iter().find(|h| h.key == headers::TIME).unwrap().value.unwrap();
        let entry = (
            origin.date,
            origin.id,
            origin.ty,
            String::from_utf8(time.to_vec()).unwrap(),
            m.payload().unwrap().to_vec(),
        );
        seen.entry(m.partition()).or_default().push(entry);
    }
    seen
}

#[test]
fn a_store_is_exported_exactly_once_across_a_stop_and_live() {
    if skipped("the Kafka export test") {
        return;
    }
    let broker = Broker::start();
    broker.topic(TOPIC, PARTITIONS);
    let store_dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(store_dir.path(), StoreOptions::default()).unwrap();
    let (d1, d2) = (day("2026-11-01"), day("2026-11-02"));

    // A finished day and the start of the next, exported; then stopped.
    append(&mut store, d1, 3000);
    store.finish(d1).unwrap();
    append(&mut store, d2, 500);
    let first = export_until(&broker, store_dir.path(), 3500);
    assert_eq!(first, ExportStats { sent: 3500, skipped: 0 });

    // More records while stopped; a new exporter resumes where each partition stands
    // and then follows the folder live.
    append(&mut store, d2, 1000);
    let exporter = Exporter::new(ExportConfig::new(broker.bootstrap(), TOPIC), store_dir.path()).unwrap();
    let stopper = exporter.stopper();
    let run = thread::spawn(move || exporter.run());
    let deadline = Instant::now() + Duration::from_secs(60);
    while held(&broker) < 4500 {
        assert!(Instant::now() < deadline && !run.is_finished(), "the resumed export did not catch up");
        thread::sleep(Duration::from_millis(50));
    }
    append(&mut store, d2, 700); // live
    while held(&broker) < 5200 {
        assert!(Instant::now() < deadline && !run.is_finished(), "the live records were not exported");
        thread::sleep(Duration::from_millis(50));
    }
    stopper.stop();
    let second = run.join().unwrap().unwrap();
    assert_eq!(second.sent, 1700);
    // It started at the earliest last message of a partition (within the last few
    // records of day 2's first 500), so it skipped at most a handful.
    assert!(second.skipped < 7, "{second:?}");

    // Everything is there: a third run finds nothing to send.
    let third = export_until(&broker, store_dir.path(), 5200);
    assert_eq!(third.sent, 0, "{third:?}");

    let seen = consume_all(&broker, 5200);
    let mut all = Vec::new();
    for (partition, messages) in &seen {
        let keys: Vec<(Date, u64)> = messages.iter().map(|m| (m.0, m.1)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "partition {partition} out of order");
        for (date, id, ty, time, payload) in messages {
            assert_eq!(*ty, ty_of(*id));
            assert_eq!(partition_of(*ty, PARTITIONS), *partition);
            let record = store_record(store_dir.path(), *date, *id);
            assert_eq!((record.0, &record.1, &record.2), (*ty, time, payload));
            all.push((*date, *id));
        }
    }
    all.sort();
    let expected: Vec<(Date, u64)> = (0..3000).map(|i| (d1, i)).chain((0..2200).map(|i| (d2, i))).collect();
    assert_eq!(all, expected, "every record exactly once");

    // A topic whose partition count changed under an export: partition 0 ends with a record
    // of type 1, which maps to partition 1 of 3. Resuming would double and skip records:
    // the exporter refuses to start.
    broker.topic("moved", PARTITIONS);
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", broker.bootstrap()).create().unwrap();
    let record = modsynclog_core::Record { date: d1, id: 9, time: 0, ty: 1, data: bytes::Bytes::new() };
    producer
        .send(BaseRecord::<(), [u8]>::to("moved").partition(0).payload(&[][..]).headers(headers::of(&record)))
        .unwrap();
    producer.flush(Duration::from_secs(30)).unwrap();
    let err =
        Exporter::new(ExportConfig::new(broker.bootstrap(), "moved"), store_dir.path()).unwrap().run().unwrap_err();
    assert_eq!(err.kind(), modsynclog_core::ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("partition count changed"), "{err}");
}

/// The stored type, time (as text) and payload of one record.
fn store_record(dir: &Path, date: Date, id: u64) -> (i16, String, Vec<u8>) {
    let mut reader = modsynclog_core::Reader::open(dir).unwrap().from(date, id);
    match reader.next_record(None).unwrap() {
        modsynclog_core::Next::Record(r) => {
            assert_eq!((r.date, r.id), (date, id));
            (r.ty, r.time.to_string(), r.data.to_vec())
        }
        other => panic!("no record {date} {id}: {other:?}"),
    }
}
