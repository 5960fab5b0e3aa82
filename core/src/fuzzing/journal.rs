//! Target for the server's ingest journal (`<root>/.modsynclog/ingest.journal`, see
//! [`crate::server::dedup`]), which a crash may leave torn and a disk may damage.
//!
//! The input is `max_producers: u8 | have: u64 BE | the journal file`, where `have` is
//! what the store holds of every day. Opening must succeed whatever the file holds, and
//! remember only batches the store holds, at most `max_producers` (1 for 0) of them. The
//! file it rewrites must load back to the same table with nothing dropped or torn, and an
//! entry written after that must survive a reopen.
//!
//! Before that, as in the server, the store opens on the journal beside a day of
//! [`DAY_RECORDS`] records and restores index entries from the journal's index groups
//! (see [`crate::store::index_group`]): every group must encode back to itself, the open
//! must succeed, and the day must still verify clean and hold its records unchanged (a
//! group restores entries only where the data matches its CRC).

use std::path::Path;
use std::sync::Arc;

use crate::date::Date;
use crate::server::dedup::{Entry, JOURNAL_FILE, Journal, STATE_DIR};
use crate::store::io::StdVfs;
use crate::store::journal_file::{Frame, groups_in, put_frame};
use crate::store::{Durability, IndexGroup, NewRecord, Store, StoreOptions};

use super::scratch::Scratch;

const HEADER: usize = 9;
/// Records of the day the store holds beside the journal.
pub const DAY_RECORDS: u64 = 3;

fn day() -> Date {
    Date::from_ymd(2026, 11, 21).expect("a calendar date")
}

fn day_records() -> Vec<NewRecord<'static>> {
    let data: [&'static [u8]; 3] = [b"fuzz-0", b"fuzz-1", b"fuzz-two"];
    data.iter().enumerate().map(|(i, d)| NewRecord { time: 1, ty: i as i16, data: d }).collect()
}

/// The index group of the day's records, as the writer journals it.
pub fn day_group() -> IndexGroup {
    IndexGroup::plan(day(), 0, 0, &day_records(), false)
}

/// `data` is `max_producers: u8 | have: u64 BE | journal file`; see the module docs.
pub fn ingest_journal(data: &[u8]) {
    let Some((head, file)) = data.split_first_chunk::<HEADER>() else { return };
    let max_producers = usize::from(head[0]);
    let have = u64::from_be_bytes(head[1..].try_into().expect("8 bytes"));
    let scratch = Scratch::new();
    let root = scratch.path();
    let path = root.join(STATE_DIR).join(JOURNAL_FILE);
    let never = StoreOptions { durability: Durability::Never, ..Default::default() };
    let mut store = Store::open(root, never.clone()).expect("open an empty store");
    store.append(day(), &day_records()).expect("append the day's records");
    drop(store);
    std::fs::create_dir_all(root.join(STATE_DIR)).expect("create the state folder");
    std::fs::write(&path, file).expect("write the journal");

    for group in groups_in(file) {
        let mut body = Vec::new();
        group.encode(&mut body);
        assert_eq!(IndexGroup::decode(&body).as_ref(), Some(&group), "an index group does not round-trip");
    }
    let store = Store::open(root, never).unwrap_or_else(|e| panic!("the store does not open: {e}"));
    drop(store);
    for report in crate::store::verify::verify_store(&StdVfs, root).expect("verify") {
        assert_eq!(report.problem, None, "day {} does not verify after the restore", report.date);
    }
    let kept: Vec<_> = crate::Reader::open(root).expect("read").map(|r| r.expect("a record")).collect();
    assert_eq!(kept.len() as u64, DAY_RECORDS, "the day holds its records, no more");
    for (r, want) in kept.iter().zip(day_records()) {
        assert_eq!(&r.data[..], want.data, "record {} changed", r.id);
    }

    let (journal, report) = open(root, max_producers, have);
    let table = journal.remembered();
    assert_eq!(report.producers, table.len());
    assert!(table.len() <= max_producers.max(1), "{} producers remembered, limit {max_producers}", table.len());
    assert!(report.dropped <= report.entries && report.partial.len() <= report.dropped, "{report:?}");
    assert!(report.torn_bytes <= file.len() as u64, "{report:?}");
    for (producer, _, ack) in &table {
        assert!(ack.first_id.saturating_add(ack.count) <= have, "{producer:?} remembers a batch the store lacks");
    }
    assert_eq!(std::fs::metadata(&path).expect("stat the journal").len(), journal.len());
    assert_eq!(journal.is_empty(), table.is_empty());
    drop(journal);

    // The rewritten file is clean, and loads back to the same table.
    let (mut journal, again) = open(root, max_producers, have);
    assert_eq!((again.entries, again.dropped, again.torn_bytes), (table.len(), 0, 0), "{again:?}");
    assert_eq!(journal.remembered(), table, "the table changed across a reopen");

    // An entry written now survives the next reopen.
    let date = day();
    let count = have.min(3);
    let entry = Entry { producer: "fuzz".into(), seq: 7, date, first_id: have - count, count };
    journal.write(std::slice::from_ref(&entry), None).expect("write an entry");
    journal.confirm(vec![entry]);
    drop(journal);
    let (journal, _) = open(root, max_producers, have);
    let (seq, ack) = journal.last("fuzz").expect("the entry written last is remembered");
    assert_eq!((seq, ack.date, ack.first_id, ack.count), (7, date, have - count, count));
}

fn open(root: &Path, max_producers: usize, have: u64) -> (Journal, crate::server::dedup::LoadReport) {
    Journal::open_with(Arc::new(StdVfs), root, Durability::Never, max_producers, move |_| Ok(have))
        .unwrap_or_else(|e| panic!("the journal does not open: {e}"))
}

/// [`journal_input`] with `groups` after the entries (as frames the writer appends).
pub fn journal_input_with(max_producers: u8, have: u64, entries: &[Entry], groups: &[IndexGroup]) -> Vec<u8> {
    let mut out = journal_input(max_producers, have, entries);
    for g in groups {
        let mut body = Vec::new();
        g.encode(&mut body);
        put_frame(Frame::Group(&body), &mut out);
    }
    out
}

/// The input of [`ingest_journal`] for a journal holding `entries` (for seeds): written
/// by the journal itself, so the bytes are what a server leaves behind.
pub fn journal_input(max_producers: u8, have: u64, entries: &[Entry]) -> Vec<u8> {
    let scratch = Scratch::new();
    let (mut journal, _) = open(scratch.path(), usize::MAX, u64::MAX);
    journal.write(entries, None).expect("write entries");
    let path = journal.path().to_path_buf();
    drop(journal);
    let mut out = vec![max_producers];
    out.extend_from_slice(&have.to_be_bytes());
    out.extend_from_slice(&std::fs::read(path).expect("read the journal"));
    out
}
