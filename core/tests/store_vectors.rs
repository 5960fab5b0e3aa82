//! The store against files written by the original Go code (`shared/vectors/store`).

mod common;

use common::{date, manifest, vectors};
use modsynclog_core::store::day;
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::store::verify::verify_store;
use modsynclog_core::{Durability, NewRecord, Reader, Store, StoreOptions};

#[test]
fn every_vector_record_reads_back_exactly() {
    let (days, records) = manifest();
    let root = vectors().join("store");
    // Reading never writes: the vectors folder is read-only, so any write would fail here.
    let got: Vec<_> = Reader::open(&root).unwrap().map(|r| r.unwrap()).collect();
    // Days in date order: 2026-11-20 first, then 2026-11-21.
    let mut want = records.clone();
    want.sort_by_key(|r| (r.date, r.id));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((g.date, g.id, g.time, g.ty), (w.date, w.id, w.time, w.ty));
        assert_eq!(&g.data[..], &w.data[..], "payload of {} #{}", w.date, w.id);
    }
    let vfs = StdVfs;
    assert_eq!(day::list_days(&vfs, &root).unwrap(), vec![date("2026-11-20"), date("2026-11-21")]);
    for d in &days {
        assert_eq!(day::record_count(&vfs, &root, d.date).unwrap(), d.records, "{}", d.date);
        assert_eq!(day::is_finished(&vfs, &root, d.date), d.finished, "{}", d.date);
    }
}

#[test]
fn reading_from_a_position_starts_there() {
    let root = vectors().join("store");
    let got: Vec<_> = Reader::open(&root).unwrap().from(date("2026-11-21"), 17).map(|r| r.unwrap().id).collect();
    assert_eq!(got, vec![17, 18, 19]);
    // A day before all others leads to the first existing one.
    let first = Reader::open(&root).unwrap().from(date("2026-01-01"), 0).next().unwrap().unwrap();
    assert_eq!((first.date, first.id), (date("2026-11-20"), 0));
}

#[test]
fn appending_the_manifest_gives_byte_identical_files() {
    let (days, records) = manifest();
    let tmp = tempfile::tempdir().unwrap();
    let mut store =
        Store::open(tmp.path(), StoreOptions { durability: Durability::Never, ..Default::default() }).unwrap();
    for d in &days {
        let batch: Vec<NewRecord> = records
            .iter()
            .filter(|r| r.date == d.date)
            .map(|r| NewRecord { time: r.time, ty: r.ty, data: &r.data })
            .collect();
        // Half one record at a time, half as one batch: both must give the same bytes.
        let (one_by_one, rest) = batch.split_at(batch.len() / 2);
        for r in one_by_one {
            store.append(d.date, std::slice::from_ref(r)).unwrap();
        }
        let a = store.append(d.date, rest).unwrap();
        assert_eq!((a.first_id, a.count), (one_by_one.len() as u64, rest.len() as u64));
        if d.finished {
            store.finish(d.date).unwrap();
        }
    }
    drop(store);
    for d in &days {
        let folder = d.date.folder_name();
        let want_dir = vectors().join("store").join(&folder);
        let got_dir = tmp.path().join(&folder);
        let mut names: Vec<_> = std::fs::read_dir(&want_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        let mut got_names: Vec<_> = std::fs::read_dir(&got_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        got_names.sort();
        assert_eq!(got_names, names, "files of {folder}");
        for n in names {
            let want = std::fs::read(want_dir.join(&n)).unwrap();
            let got = std::fs::read(got_dir.join(&n)).unwrap();
            assert!(want == got, "{folder}/{} differs ({} vs {} bytes)", n.to_string_lossy(), got.len(), want.len());
        }
    }
}

#[test]
fn index_entries_match_the_manifest_offsets() {
    let (_, records) = manifest();
    let root = vectors().join("store");
    for r in &records {
        let index = std::fs::read(root.join(r.date.folder_name()).join("index")).unwrap();
        let e = modsynclog_core::store::format::IndexEntry::decode(&index[r.id as usize * 12..]);
        assert_eq!((e.data_file_index, e.data_offset, e.data_type), (r.data_file_index, r.data_offset, r.ty));
    }
}

#[test]
fn verify_accepts_the_vectors() {
    let reports = verify_store(&StdVfs, &vectors().join("store")).unwrap();
    let summary: Vec<_> = reports.iter().map(|r| (r.date, r.count, r.finished, r.problem.is_none())).collect();
    assert_eq!(summary, vec![(date("2026-11-20"), 3, false, true), (date("2026-11-21"), 20, true, true)]);
}
