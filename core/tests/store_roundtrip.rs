//! Randomized round trips: batches of random sizes and payloads read back exactly.

mod common;

use common::date;
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::store::verify::verify_store;
use modsynclog_core::{Durability, NewRecord, Reader, Store, StoreOptions};
use proptest::prelude::*;

fn batches() -> impl Strategy<Value = Vec<Vec<(i32, i16, Vec<u8>)>>> {
    let record = (any::<i32>(), any::<i16>(), prop::collection::vec(any::<u8>(), 0..300));
    prop::collection::vec(prop::collection::vec(record, 0..40), 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn batches_read_back_exactly(batches in batches(), split_day in 0usize..12) {
        let tmp = tempfile::tempdir().unwrap();
        let opts = StoreOptions { durability: Durability::Never, ..Default::default() };
        let mut store = Store::open(tmp.path(), opts.clone()).unwrap();
        let (d1, d2) = (date("2026-11-21"), date("2026-11-22"));
        let mut want = Vec::new();
        let mut counts = [0u64; 2];
        for (i, batch) in batches.iter().enumerate() {
            let (d, n) = if i < split_day { (d1, 0) } else { (d2, 1) };
            let recs: Vec<_> = batch.iter().map(|(t, ty, data)| NewRecord { time: *t, ty: *ty, data }).collect();
            let a = store.append(d, &recs).unwrap();
            prop_assert_eq!((a.first_id, a.count), (counts[n], recs.len() as u64));
            for (t, ty, data) in batch {
                want.push((d, counts[n], *t, *ty, data.clone()));
                counts[n] += 1;
            }
        }
        drop(store);
        let got: Vec<_> = Reader::open(tmp.path()).unwrap()
            .map(|r| { let r = r.unwrap(); (r.date, r.id, r.time, r.ty, r.data.to_vec()) })
            .collect();
        prop_assert_eq!(got, want);
        for report in verify_store(&StdVfs, tmp.path()).unwrap() {
            prop_assert_eq!(report.problem, None);
        }
        // Reopening finds the same end of every day.
        let store = Store::open(tmp.path(), opts).unwrap();
        prop_assert_eq!(store.count(d1).unwrap(), counts[0]);
        prop_assert_eq!(store.count(d2).unwrap(), counts[1]);
    }
}

#[test]
fn a_batch_larger_than_one_write_chunk_reads_back_exactly() {
    // 3,000 records of 1,000 bytes: the data goes out in several 1 MiB writes.
    let tmp = tempfile::tempdir().unwrap();
    let mut store =
        Store::open(tmp.path(), StoreOptions { durability: Durability::Batch, ..Default::default() }).unwrap();
    let payloads: Vec<Vec<u8>> = (0..3000u32).map(|i| vec![(i % 251) as u8; 1000]).collect();
    let batch: Vec<_> = payloads.iter().map(|p| NewRecord { time: 9, ty: 3, data: p }).collect();
    let d = date("2026-11-21");
    assert_eq!(store.append(d, &batch).unwrap().count, 3000);
    drop(store);
    let data = std::fs::read(tmp.path().join("20261121/data000000")).unwrap();
    assert_eq!(data.len(), 3000 * 1010);
    assert_eq!(&data[1010 * 1234 + 10..1010 * 1235], &payloads[1234][..]);
    let got: Vec<_> = Reader::open(tmp.path()).unwrap().map(|r| r.unwrap().data.to_vec()).collect();
    assert_eq!(got, payloads);
    assert!(verify_store(&StdVfs, tmp.path()).unwrap().iter().all(|r| r.problem.is_none()));
}
