//! `Reader::next_columns`: columnar batches hold exactly the records a record-by-record
//! scan returns, one day per batch, within the limits asked.

mod common;

use std::time::Duration;

use common::date;
use modsynclog_core::{Columns, Durability, Filled, NewRecord, Reader, Store, StoreOptions};
use proptest::prelude::*;

type Row = (String, u64, i32, i16, Vec<u8>);

fn store_with(dir: &std::path::Path, days: &[Vec<(i32, i16, Vec<u8>)>]) -> Store {
    let opts = StoreOptions { durability: Durability::Never, ..Default::default() };
    let mut store = Store::open(dir, opts).unwrap();
    let mut d = date("2026-11-21");
    for records in days {
        let recs: Vec<_> = records.iter().map(|(t, ty, data)| NewRecord { time: *t, ty: *ty, data }).collect();
        if !recs.is_empty() {
            store.append(d, &recs).unwrap();
        }
        d = d.succ();
    }
    store
}

/// Every batch as rows, checking the shape of each on the way.
fn rows_of(batch: &Columns) -> Vec<Row> {
    assert_eq!(batch.types.len(), batch.len());
    assert_eq!(batch.offsets.len(), batch.len() + 1);
    assert_eq!((batch.offsets[0], *batch.offsets.last().unwrap() as usize), (0, batch.data.len()));
    let day = batch.date.expect("a filled batch has its day").to_string();
    (0..batch.len())
        .map(|i| (day.clone(), batch.first_id + i as u64, batch.times[i], batch.types[i], batch.payload(i).to_vec()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn batches_equal_a_record_by_record_scan(
        days in prop::collection::vec(
            prop::collection::vec((any::<i32>(), any::<i16>(), prop::collection::vec(any::<u8>(), 0..200)), 0..60),
            1..4,
        ),
        max_records in 1usize..50,
        max_bytes in 1usize..3000,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        drop(store_with(tmp.path(), &days));
        let want: Vec<Row> = Reader::open(tmp.path()).unwrap()
            .map(|r| { let r = r.unwrap(); (r.date.to_string(), r.id, r.time, r.ty, r.data.to_vec()) })
            .collect();

        let mut reader = Reader::open(tmp.path()).unwrap();
        let mut batch = Columns::default();
        let mut got = Vec::new();
        loop {
            match reader.next_columns(&mut batch, max_records, max_bytes, None).unwrap() {
                Filled::Records => {}
                Filled::End => break,
                Filled::Timeout => panic!("a reader that does not follow timed out"),
            }
            prop_assert!(!batch.is_empty() && batch.len() <= max_records);
            // It stopped taking records once the payloads reached max_bytes, not before.
            let before_last = batch.offsets[batch.len() - 1] as usize;
            prop_assert!(before_last < max_bytes, "{} bytes before the last record, limit {}", before_last, max_bytes);
            got.extend(rows_of(&batch));
        }
        prop_assert!(batch.is_empty() && batch.date.is_none());
        prop_assert_eq!(got, want);
    }
}

#[test]
fn a_batch_ends_at_its_day_and_takes_what_is_ready() {
    let tmp = tempfile::tempdir().unwrap();
    let days = vec![vec![(1, 1, b"a".to_vec()), (2, 1, b"bb".to_vec())], vec![(3, 2, b"ccc".to_vec())]];
    drop(store_with(tmp.path(), &days));
    let mut reader = Reader::open(tmp.path()).unwrap();
    let mut batch = Columns::default();
    assert_eq!(reader.next_columns(&mut batch, 100, 1 << 20, None).unwrap(), Filled::Records);
    assert_eq!(
        rows_of(&batch),
        [("2026-11-21".to_string(), 0, 1, 1, b"a".to_vec()), ("2026-11-21".to_string(), 1, 2, 1, b"bb".to_vec())]
    );
    assert_eq!(reader.next_columns(&mut batch, 100, 1 << 20, None).unwrap(), Filled::Records);
    assert_eq!(rows_of(&batch), [("2026-11-22".to_string(), 0, 3, 2, b"ccc".to_vec())]);
    assert_eq!(reader.next_columns(&mut batch, 100, 1 << 20, None).unwrap(), Filled::End);
}

#[test]
fn a_follower_times_out_then_gets_new_records_and_ends_when_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = store_with(tmp.path(), &[vec![(1, 1, b"a".to_vec())]]);
    let mut reader = Reader::of(&store).follow(true);
    let mut batch = Columns::default();
    assert_eq!(reader.next_columns(&mut batch, 100, 1 << 20, Some(Duration::ZERO)).unwrap(), Filled::Records);
    assert_eq!(batch.len(), 1);
    // Nothing more: a bounded wait times out with an empty batch.
    let got = reader.next_columns(&mut batch, 100, 1 << 20, Some(Duration::from_millis(20))).unwrap();
    assert_eq!((got, batch.len()), (Filled::Timeout, 0));

    let d = date("2026-11-21");
    let more: Vec<_> = (0..5u8).map(|i| vec![i; 3]).collect();
    store.append(d, &more.iter().map(|p| NewRecord { time: 7, ty: 4, data: p }).collect::<Vec<_>>()).unwrap();
    assert_eq!(reader.next_columns(&mut batch, 100, 1 << 20, Some(Duration::ZERO)).unwrap(), Filled::Records);
    assert_eq!((batch.first_id, batch.len()), (1, 5));
    assert_eq!(batch.payload(4), [4, 4, 4]);

    reader.stopper().stop();
    assert_eq!(reader.next_columns(&mut batch, 100, 1 << 20, None).unwrap(), Filled::End);
}
