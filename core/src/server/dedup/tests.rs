//! Tests of the ingest journal: round trips, torn tails, failed writes and syncs, compaction.

use super::*;
use crate::store::faults::FaultyVfs;
use crate::store::io::StdVfs;

fn day() -> Date {
    Date::parse("2026-11-21").unwrap()
}

fn entry(p: &str, seq: u64, first_id: u64, count: u64) -> Entry {
    Entry { producer: p.into(), seq, date: day(), first_id, count }
}

fn open(root: &Path, have: u64) -> (Journal, LoadReport) {
    open_as(root, have, Durability::Batch)
}

fn open_as(root: &Path, have: u64, durability: Durability) -> (Journal, LoadReport) {
    Journal::open(Arc::new(StdVfs), root, durability, move |d| Ok(if d == day() { have } else { 0 })).unwrap()
}

#[test]
fn entries_round_trip_and_torn_tails_end_the_journal() {
    let e = entry("abc", 7, 100, 5);
    let mut b = Vec::new();
    e.encode(9, &mut b);
    assert_eq!(Entry::decode(&b, 9), Some((e.clone(), b.len())));
    for cut in 0..b.len() {
        assert_eq!(Entry::decode(&b[..cut], 9), None, "cut at {cut}");
    }
    let mut bad = b.clone();
    bad[10] ^= 1;
    assert_eq!(Entry::decode(&bad, 9), None);
    assert_eq!(Entry::decode(&b, 8), None, "an entry of another epoch");
}

#[test]
fn survives_a_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, report) = open(tmp.path(), 0);
    assert_eq!(report, LoadReport::default());
    let batch = vec![entry("a", 1, 0, 10), entry("b", 1, 10, 5), entry("a", 2, 15, 1)];
    j.write(&batch, None).unwrap();
    j.confirm(batch);
    assert_eq!(j.last("a"), Some((2, Appended { date: day(), first_id: 15, count: 1 })));
    drop(j);
    let (j, report) = open(tmp.path(), 16);
    assert_eq!(report.entries, 3);
    assert_eq!(report.dropped, 0);
    assert_eq!(j.last("a").unwrap().0, 2);
    assert_eq!(j.last("b"), Some((1, Appended { date: day(), first_id: 10, count: 5 })));
    assert_eq!(j.last("c"), None);
    // Reopening rewrote the journal with one entry per producer.
    drop(j);
    let (_, report) = open(tmp.path(), 16);
    assert_eq!(report.entries, 2);
}

#[test]
fn entries_beyond_the_store_are_dropped_for_good() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = open(tmp.path(), 0);
    let stored = vec![entry("a", 1, 0, 10)];
    j.write(&stored, None).unwrap();
    j.confirm(stored);
    // Written to the journal, then the "crash" came before the data append.
    j.write(&[entry("a", 2, 10, 10), entry("b", 1, 20, 1)], None).unwrap();
    drop(j);
    let (j, report) = open(tmp.path(), 15);
    assert_eq!((report.entries, report.dropped), (3, 2));
    assert_eq!(j.last("a").unwrap().0, 1);
    assert_eq!(j.last("b"), None);
    drop(j);
    // Later records fill ids 10..21: the dropped entries must not come back.
    let (j, report) = open(tmp.path(), 100);
    assert_eq!((report.entries, report.dropped), (1, 0));
    assert_eq!(j.last("a").unwrap().0, 1);
    assert_eq!(j.last("b"), None);
}

#[test]
fn a_torn_last_entry_is_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = open(tmp.path(), 0);
    let e = vec![entry("a", 1, 0, 1), entry("a", 2, 1, 1)];
    j.write(&e, None).unwrap();
    j.confirm(e);
    j.write(&[entry("a", 3, 2, 1)], None).unwrap();
    let (path, len) = (j.path().to_path_buf(), j.len());
    drop(j);
    // The last entry's last three bytes never reached the disk.
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &[0; 3], len - 3).unwrap();
    let (j, report) = open(tmp.path(), 3);
    assert_eq!(report.entries, 2, "{report:?}");
    assert_eq!(j.last("a").unwrap().0, 2);
}

#[test]
fn an_aborted_write_is_taken_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = open(tmp.path(), 0);
    let len = j.len();
    j.write(&[entry("a", 1, 0, 4)], None).unwrap();
    assert!(j.len() > len);
    j.abort();
    assert_eq!(j.len(), len);
    assert_eq!(j.last("a"), None);
    drop(j);
    // Even with the ids filled by other records later, "a" 1 was never stored.
    let (j, report) = open(tmp.path(), 50);
    assert_eq!(report.entries, 0);
    assert_eq!(j.last("a"), None);
}

/// A journal under `batch` on a `FaultyVfs` that remembers "a" seq 1 (ids 0..1 of a
/// store of 1000 records).
fn faulty_with_a1(root: &Path) -> (Journal, FaultyVfs) {
    let vfs = FaultyVfs::new();
    let (mut j, _) = Journal::open(Arc::new(vfs.clone()), root, Durability::Batch, |_| Ok(1000)).unwrap();
    let ok = vec![entry("a", 1, 0, 1)];
    j.write(&ok, None).unwrap();
    j.wait_synced().unwrap();
    j.confirm(ok);
    (j, vfs)
}

/// Reopened, the journal at `root` holds "a" seq 1 and "b" seq 1, and nothing else.
fn assert_holds_a1_b1(root: &Path) {
    let (j, report) = Journal::open(Arc::new(StdVfs), root, Durability::Batch, |_| Ok(1000)).unwrap();
    assert_eq!((report.entries, report.torn_bytes), (2, 0));
    assert_eq!(j.last("a").unwrap().0, 1, "the failed batch's entry is gone");
    assert_eq!(j.last("b").unwrap().0, 1);
}

#[test]
fn a_failed_write_or_undo_leaves_no_false_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, vfs) = faulty_with_a1(tmp.path());
    // The write tears and the undo (set_len) fails too: the journal is poisoned.
    vfs.fail_after_bytes(10);
    assert!(j.write(&[entry("a", 2, 1, 1)], None).is_err());
    vfs.heal();
    // The next write rewrites the file from memory first.
    let next = vec![entry("b", 1, 1, 1)];
    j.write(&next, None).unwrap();
    j.confirm(next);
    drop(j);
    assert_holds_a1_b1(tmp.path());
}

#[test]
fn after_a_failed_sync_the_file_is_replaced_not_synced_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, vfs) = faulty_with_a1(tmp.path());
    assert!(!j.needs_rewrite());

    // The sync on the helper thread fails: the entries are taken back, and the file,
    // whose later syncs could report success for writes the kernel dropped, is replaced
    // with the next write (a new file, synced, renamed over it).
    vfs.fail_syncs(true);
    j.write(&[entry("a", 2, 1, 1)], None).unwrap();
    assert!(j.wait_synced().is_err(), "the failed sync is reported");
    j.abort();
    assert!(j.needs_rewrite(), "the file is not trusted again");
    vfs.heal();
    let steps = vfs.steps();
    let next = vec![entry("b", 1, 1, 1)];
    j.write(&next, None).unwrap();
    j.wait_synced().unwrap();
    j.confirm(next);
    let names: Vec<_> = (steps..vfs.steps()).map(|n| vfs.step_name(n)).collect();
    assert!(
        names.iter().any(|n| n.starts_with("exchange") || n.starts_with("rename")),
        "the next write replaced the file: {names:?}"
    );
    drop(j);
    assert_holds_a1_b1(tmp.path());
}

#[test]
fn groups_stay_through_a_rewrite_until_the_index_is_synced() {
    use crate::store::journal_file::read_groups;
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = open(tmp.path(), 100);
    let group =
        |first_id| IndexGroup { date: day(), first_id, first_offset: 0, types: vec![(5, 1)], crc: 1, data: None };
    let groups = || read_groups(&StdVfs, tmp.path()).unwrap();
    let a1 = vec![entry("a", 1, 0, 1)];
    j.write(&a1, Some(&group(0))).unwrap();
    j.confirm(a1);
    j.write(&[], Some(&group(1))).unwrap();
    j.confirm(Vec::new());
    assert_eq!(groups(), vec![group(0), group(1)]);
    // An aborted group goes; a rewrite (here: after a failed undo) keeps the others.
    j.write(&[], Some(&group(2))).unwrap();
    j.abort();
    j.poisoned = true;
    j.write(&[], None).unwrap();
    assert_eq!(groups(), vec![group(0), group(1)], "kept through the rewrite");
    assert_eq!(j.last("a").unwrap().0, 1);
    // Once the index is synced, a barrier ends them; later groups count again.
    j.index_synced();
    assert_eq!(groups(), vec![]);
    j.write(&[], Some(&group(3))).unwrap();
    assert_eq!(groups(), vec![group(3)]);
    j.index_synced();
    j.poisoned = true;
    j.write(&[], None).unwrap();
    assert_eq!(groups(), vec![], "a rewrite after the sync drops them");
    drop(j);
    let (j, report) = open(tmp.path(), 100);
    assert_eq!((report.entries, report.groups), (1, 0));
    assert_eq!(j.last("a").unwrap().0, 1);
}

#[test]
fn compaction_keeps_the_last_entry_per_producer() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = open_as(tmp.path(), u64::MAX, Durability::Never);
    let mut id = 0;
    let mut compacted = false;
    for seq in 0..20_000u64 {
        let e: Vec<Entry> = (0..3).map(|p| entry(&format!("producer-{p}"), seq, id + p, 1)).collect();
        id += 3;
        let before = j.len();
        j.write(&e, None).unwrap();
        j.confirm(e);
        compacted |= j.len() < before;
        assert!(j.len() <= COMPACT_AT + 1000, "the journal stays bounded");
    }
    assert!(compacted);
    drop(j);
    let (j, report) = open(tmp.path(), u64::MAX);
    assert!(report.entries < 60_000 / 2, "{report:?}");
    assert_eq!(report.producers, 3);
    drop(j);
    // Opening compacts too.
    let (j, report) = open(tmp.path(), u64::MAX);
    assert_eq!((report.entries, report.producers), (3, 3));
    for p in 0..3 {
        assert_eq!(j.last(&format!("producer-{p}")).unwrap().0, 19_999);
    }
    let mut names: Vec<_> =
        std::fs::read_dir(tmp.path().join(STATE_DIR)).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    let want: Vec<std::ffi::OsString> = vec![JOURNAL_FILE.into(), NEXT_FILE.into()];
    assert_eq!(names, want, "the journal and the file its next rewrite reuses, nothing else");
}

#[test]
fn least_recent_producers_are_forgotten() {
    let tmp = tempfile::tempdir().unwrap();
    let open =
        |max| Journal::open_with(Arc::new(StdVfs), tmp.path(), Durability::Never, max, |_| Ok(u64::MAX)).unwrap();
    let (mut j, _) = open(10);
    for p in 0..30u64 {
        let e = vec![entry(&format!("p{p}"), 1, p, 1)];
        j.write(&e, None).unwrap();
        j.confirm(e);
    }
    assert!(j.producers() <= 11);
    assert!(j.last("p29").is_some());
    assert!(j.last("p0").is_none());
    drop(j);
    let (j, report) = open(10);
    assert_eq!(report.producers, 10);
    assert!((20..30).all(|p| j.last(&format!("p{p}")).is_some()));
}
