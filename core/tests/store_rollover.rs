//! Data files roll at the real default of 1,000,000 records per file, byte for byte.

mod common;

use common::date;
use modsynclog_core::store::format::{IndexEntry, MAGIC, RECORDS_PER_DATA_FILE};
use modsynclog_core::{Durability, NewRecord, Reader, Store, StoreOptions};

#[test]
fn the_millionth_record_starts_data000001_at_offset_0() {
    assert_eq!(RECORDS_PER_DATA_FILE, 1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let d = date("2026-11-21");
    let opts = StoreOptions { durability: Durability::Never, ..Default::default() };
    let mut store = Store::open(tmp.path(), opts.clone()).unwrap();
    let empty = vec![NewRecord { time: 7, ty: 1, data: b"" }; 100_000];
    for _ in 0..9 {
        store.append(d, &empty).unwrap();
    }
    store.append(d, &empty[..99_998]).unwrap();
    // One batch that crosses the boundary: ids 999_998 .. 1_000_001.
    let payloads: [&[u8]; 4] = [b"a", b"bb", b"ccc", b"dddd"];
    let batch: Vec<_> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| NewRecord { time: 100 + i as i32, ty: 5 + i as i16, data: p })
        .collect();
    let a = store.append(d, &batch).unwrap();
    assert_eq!((a.first_id, a.count), (999_998, 4));
    drop(store);

    let day = tmp.path().join("20261121");
    let index = std::fs::read(day.join("index")).unwrap();
    assert_eq!(index.len(), 1_000_002 * 12);
    let entry = |id: usize| IndexEntry::decode(&index[id * 12..]);
    // 999_998 empty records of 10 bytes each come before id 999_998.
    let before = 999_998 * 10;
    assert_eq!(entry(999_998), IndexEntry { data_file_index: 0, data_offset: before, data_type: 5 });
    assert_eq!(entry(999_999), IndexEntry { data_file_index: 0, data_offset: before + 11, data_type: 6 });
    assert_eq!(entry(1_000_000), IndexEntry { data_file_index: 1, data_offset: 0, data_type: 7 });
    assert_eq!(entry(1_000_001), IndexEntry { data_file_index: 1, data_offset: 13, data_type: 8 });

    let data0 = std::fs::read(day.join("data000000")).unwrap();
    assert_eq!(data0.len() as i64, before + 11 + 12);
    let mut tail = Vec::new();
    for (t, p) in [(100i32, &b"a"[..]), (101, b"bb")] {
        tail.extend_from_slice(&MAGIC.to_be_bytes());
        tail.extend_from_slice(&t.to_be_bytes());
        tail.extend_from_slice(&(p.len() as i32).to_be_bytes());
        tail.extend_from_slice(p);
    }
    assert_eq!(&data0[before as usize..], &tail[..]);
    let data1 = std::fs::read(day.join("data000001")).unwrap();
    let want1 =
        [&[0x4b, 0x86, 0, 0, 0, 102, 0, 0, 0, 3][..], b"ccc", &[0x4b, 0x86, 0, 0, 0, 103, 0, 0, 0, 4][..], b"dddd"]
            .concat();
    assert_eq!(data1, want1);

    // Reading across the boundary, and reopening, both see it right.
    let ids: Vec<_> = Reader::open(tmp.path())
        .unwrap()
        .from(d, 999_997)
        .map(|r| {
            let r = r.unwrap();
            (r.id, r.data.to_vec())
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            (999_997, vec![]),
            (999_998, b"a".to_vec()),
            (999_999, b"bb".to_vec()),
            (1_000_000, b"ccc".to_vec()),
            (1_000_001, b"dddd".to_vec())
        ]
    );
    let mut store = Store::open(tmp.path(), opts).unwrap();
    let a = store.append(d, &[NewRecord { time: 1, ty: 1, data: b"e" }]).unwrap();
    assert_eq!(a.first_id, 1_000_002);
    drop(store);
    assert_eq!(std::fs::read(day.join("data000001")).unwrap().len(), want1.len() + 11);
}
