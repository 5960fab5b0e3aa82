//! Following readers: a writer appends across a day change while readers follow it.

mod common;

use std::time::Duration;

use common::date;
use modsynclog_core::{Durability, NewRecord, Next, Reader, Store, StoreOptions};

const PER_DAY: u64 = 3000;

fn payload(day: u64, id: u64) -> Vec<u8> {
    format!("day {day} record {id}").into_bytes()
}

/// Appends PER_DAY records to each of two days in uneven batches, finishing the first.
fn write_two_days(mut store: Store) {
    let days = [date("2026-11-21"), date("2026-11-22")];
    for (n, d) in days.iter().enumerate() {
        let mut id = 0;
        let mut size = 1;
        while id < PER_DAY {
            let k = size.min(PER_DAY - id);
            let data: Vec<_> = (id..id + k).map(|i| payload(n as u64, i)).collect();
            let batch: Vec<_> = data.iter().map(|p| NewRecord { time: id as i32, ty: n as i16, data: p }).collect();
            store.append(*d, &batch).unwrap();
            id += k;
            size = size % 97 + 13;
            if id % 7 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if n == 0 {
            store.finish(*d).unwrap();
        }
    }
}

/// Reads until 2 * PER_DAY records arrived, checking each is the next one expected.
fn read_all(mut reader: Reader) -> Reader {
    let days = [date("2026-11-21"), date("2026-11-22")];
    for n in 0..2u64 {
        for id in 0..PER_DAY {
            let r = match reader.next_record(Some(Duration::from_secs(60))).unwrap() {
                Next::Record(r) => r,
                other => panic!("expected day {n} record {id}, got {other:?}"),
            };
            assert_eq!((r.date, r.id), (days[n as usize], id));
            assert_eq!(r.data.to_vec(), payload(n, id));
        }
    }
    reader
}

#[test]
fn in_process_follower_sees_every_record_once_in_order_across_days() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), StoreOptions { durability: Durability::Never, ..Default::default() }).unwrap();
    let reader = Reader::of(&store).from(date("2026-11-21"), 0).follow(true);
    let t = std::thread::spawn(move || read_all(reader));
    write_two_days(store);
    let mut reader = t.join().unwrap();
    // Nothing more: a short wait times out, and a stop ends the follow.
    assert_eq!(reader.next_record(Some(Duration::from_millis(30))).unwrap(), Next::Timeout);
    let stopper = reader.stopper();
    let t = std::thread::spawn(move || reader.next_record(None).unwrap());
    std::thread::sleep(Duration::from_millis(20));
    stopper.stop();
    assert_eq!(t.join().unwrap(), Next::End);
}

#[test]
fn polling_follower_sees_every_record_once_in_order_across_days() {
    let tmp = tempfile::tempdir().unwrap();
    // Opened before any day exists: the follower waits for the first day to appear.
    let reader = Reader::open(tmp.path()).unwrap().follow(true).poll_interval(Duration::from_millis(5));
    let t = std::thread::spawn(move || read_all(reader));
    let store = Store::open(tmp.path(), StoreOptions { durability: Durability::Never, ..Default::default() }).unwrap();
    write_two_days(store);
    t.join().unwrap();
}

#[test]
fn follower_waits_on_an_unfinished_day_but_a_scan_moves_on() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store =
        Store::open(tmp.path(), StoreOptions { durability: Durability::Never, ..Default::default() }).unwrap();
    let (d1, d2) = (date("2026-11-21"), date("2026-11-22"));
    store.append(d1, &[NewRecord { time: 0, ty: 0, data: b"one" }]).unwrap();
    store.append(d2, &[NewRecord { time: 0, ty: 0, data: b"two" }]).unwrap();
    let scan: Vec<_> = Reader::open(tmp.path()).unwrap().map(|r| r.unwrap().date).collect();
    assert_eq!(scan, vec![d1, d2]);

    let mut follower = Reader::of(&store).follow(true);
    assert!(matches!(follower.next_record(Some(Duration::ZERO)).unwrap(), Next::Record(r) if r.date == d1));
    assert_eq!(follower.next_record(Some(Duration::from_millis(20))).unwrap(), Next::Timeout);
    store.finish(d1).unwrap();
    assert!(matches!(follower.next_record(Some(Duration::from_secs(5))).unwrap(), Next::Record(r) if r.date == d2));
}
