//! The journal's two files: a rewrite goes into the file the previous one left and is
//! swapped in; the old bytes after the new frames belong to an older epoch and are never
//! read as entries.

use super::*;
use crate::store::io::StdVfs;
use crate::store::journal_file::{MAGIC_V3, put_header_v3};

fn day() -> Date {
    Date::parse("2026-11-21").unwrap()
}

fn open(root: &Path) -> (Journal, LoadReport) {
    Journal::open(Arc::new(StdVfs), root, Durability::Batch, |_| Ok(u64::MAX)).unwrap()
}

fn entry(producer: &str, seq: u64) -> Entry {
    Entry { producer: producer.into(), seq, date: day(), first_id: seq, count: 1 }
}

/// A carried group of 100 KB of data (nothing restores it here).
fn group(first_id: u64) -> IndexGroup {
    IndexGroup { date: day(), first_id, first_offset: 0, types: vec![(1, 1)], crc: 0, data: Some(vec![7; 100_000]) }
}

/// One group commit as the writer makes it, the index synced before a rewrite.
fn commit(j: &mut Journal, seq: u64) {
    let e = vec![entry("p", seq)];
    j.write(&e, Some(&group(seq))).unwrap();
    j.wait_synced().unwrap();
    if j.needs_rewrite() {
        j.index_synced();
    }
    j.confirm(e);
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn the_second_rewrite_reuses_the_file_the_first_left() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = open(tmp.path());
    let next = j.dir.join(NEXT_FILE);
    assert!(j.may_carry());
    let mut seq = 0;
    let mut rewrites = 0;
    while rewrites < 2 {
        seq += 1;
        let before = j.len();
        commit(&mut j, seq);
        if j.len() < before {
            rewrites += 1;
            assert!(file_len(&next) > CYCLE, "the old journal is kept for the next rewrite");
        }
    }
    // The journal now lives in the file of the first cycle: larger than its frames.
    assert!(file_len(j.path()) > CYCLE && j.len() < 1000, "{} bytes in a file of {}", j.len(), file_len(j.path()));
    commit(&mut j, seq + 1);
    drop(j);

    let (j, report) = open(tmp.path());
    assert_eq!((report.entries, report.dropped, report.producers), (2, 0, 1), "the snapshot and one entry: {report:?}");
    assert_eq!(j.last("p").unwrap().0, seq + 1);
}

/// A crash after a rewrite wrote the next file and before the swap: that file holds
/// frames of an epoch above the journal's. The next rewrite goes into it under a higher
/// epoch still, so the frames it does not overwrite stay unread.
#[test]
fn frames_a_crashed_rewrite_left_are_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = open(tmp.path());
    commit(&mut j, 1);
    drop(j);
    let ghost_epoch = u64::MAX - 10;
    let mut bytes = Vec::new();
    put_header_v3(ghost_epoch, &mut bytes);
    // Long enough to reach past the next snapshot.
    for seq in 0..50 {
        entry(&format!("ghost-{seq}"), seq).encode(ghost_epoch, &mut bytes);
    }
    std::fs::write(tmp.path().join(STATE_DIR).join(NEXT_FILE), &bytes).unwrap();

    let (j, report) = open(tmp.path());
    assert_eq!((report.producers, j.last("p").unwrap().0), (1, 1), "{report:?}");
    let journal = std::fs::read(j.path()).unwrap();
    assert!(journal.starts_with(MAGIC_V3));
    assert!(journal_file::file_epoch(&journal).unwrap() > ghost_epoch, "the new epoch is above every one seen");
    assert!(journal.len() >= bytes.len(), "the next file was reused, its old bytes after the snapshot");
    drop(j);
    for _ in 0..2 {
        let (j, report) = open(tmp.path());
        assert_eq!(report.producers, 1, "no ghost: {report:?}");
        assert!(j.last("ghost-49").is_none());
    }
}
