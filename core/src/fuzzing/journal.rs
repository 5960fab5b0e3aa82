//! Target for the server's ingest journal (`<root>/.modsynclog/ingest.journal`, see
//! [`crate::server::dedup`]), which a crash may leave torn and a disk may damage.
//!
//! The input is `max_producers: u8 | have: u64 BE | the journal file`, where `have` is
//! what the store holds of every day. Opening must succeed whatever the file holds, and
//! remember only batches the store holds, at most `max_producers` (1 for 0) of them. The
//! file it rewrites must load back to the same table with nothing dropped or torn, and an
//! entry written after that must survive a reopen.

use std::path::Path;
use std::sync::Arc;

use crate::date::Date;
use crate::server::dedup::{Entry, JOURNAL_FILE, Journal, STATE_DIR};
use crate::store::Durability;
use crate::store::io::StdVfs;

use super::scratch::Scratch;

const HEADER: usize = 9;

/// `data` is `max_producers: u8 | have: u64 BE | journal file`; see the module docs.
pub fn ingest_journal(data: &[u8]) {
    let Some((head, file)) = data.split_first_chunk::<HEADER>() else { return };
    let max_producers = usize::from(head[0]);
    let have = u64::from_be_bytes(head[1..].try_into().expect("8 bytes"));
    let scratch = Scratch::new();
    let root = scratch.path();
    let path = root.join(STATE_DIR).join(JOURNAL_FILE);
    std::fs::create_dir_all(root.join(STATE_DIR)).expect("create the state folder");
    std::fs::write(&path, file).expect("write the journal");

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
    let date = Date::from_ymd(2026, 11, 21).expect("a calendar date");
    let count = have.min(3);
    let entry = Entry { producer: "fuzz".into(), seq: 7, date, first_id: have - count, count };
    journal.write(std::slice::from_ref(&entry)).expect("write an entry");
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

/// The input of [`ingest_journal`] for a journal holding `entries` (for seeds): written
/// by the journal itself, so the bytes are what a server leaves behind.
pub fn journal_input(max_producers: u8, have: u64, entries: &[Entry]) -> Vec<u8> {
    let scratch = Scratch::new();
    let (mut journal, _) = open(scratch.path(), usize::MAX, u64::MAX);
    journal.write(entries).expect("write entries");
    let path = journal.path().to_path_buf();
    drop(journal);
    let mut out = vec![max_producers];
    out.extend_from_slice(&have.to_be_bytes());
    out.extend_from_slice(&std::fs::read(path).expect("read the journal"));
    out
}
