//! What restoring index entries from the journal's groups must not do (found by a review
//! of `core/src/store/index_group.rs`): make entries durable over data that is still
//! only in the page cache, restore a group that the exactly-once table does not see
//! (after a hole a lost write left), or refuse to open over a group that points nowhere.

mod common;

use std::path::Path;
use std::sync::Arc;

use modsynclog_core::server::dedup::Journal;
use modsynclog_core::store::format::{INDEX_ENTRY_LEN, IndexEntry, RECORDS_PER_DATA_FILE, RecordHeader};
use modsynclog_core::store::io::{StdVfs, Vfs};
use modsynclog_core::store::journal_file::{Frame, MAGIC_V2, journal_path, put_barrier, put_frame};
use modsynclog_core::store::power_loss::PowerLossVfs;
use modsynclog_core::store::verify::verify_store;
use modsynclog_core::store::{Durability, IndexGroup, StoreOptions};
use modsynclog_core::{Date, NewRecord, Reader, Store};

fn day() -> Date {
    common::date("2026-11-21")
}

fn opts(vfs: Arc<dyn Vfs>) -> StoreOptions {
    StoreOptions { durability: Durability::Batch, vfs, ..Default::default() }
}

/// A producer entry of the exactly-once table: producer "p1", `seq`, 2 records at `first_id`.
fn put_entry(seq: u64, first_id: u64, out: &mut Vec<u8>) {
    let mut body = seq.to_le_bytes().to_vec();
    body.extend_from_slice(day().folder_name().as_bytes());
    body.extend_from_slice(&first_id.to_le_bytes());
    body.extend_from_slice(&2u64.to_le_bytes());
    body.extend_from_slice(b"p1");
    put_frame(Frame::Producer(&body), out);
}

fn put_group(group: &IndexGroup, out: &mut Vec<u8>) {
    let mut body = Vec::new();
    group.encode(&mut body);
    put_frame(Frame::Group(&body), out);
}

fn write_journal(root: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(journal_path(root).parent().unwrap()).unwrap();
    std::fs::write(journal_path(root), bytes).unwrap();
}

fn verify_problem(root: &Path) -> Option<String> {
    verify_store(&StdVfs, root).unwrap().into_iter().find_map(|r| r.problem).map(|p| p.what)
}

/// A kill -9 while the group's data sync ran: the data and the group are in the page
/// cache, the CRC matches, and the restart restores the entries, after which the
/// exactly-once table counts the batch as stored. A power loss after that restart must
/// not take the records: the restore syncs the data (and the folder, for a data file the
/// group created) before it writes the entries.
#[test]
fn a_restore_after_a_kill_survives_a_power_loss() {
    kill_restore_power_loss(3, 0..16, false);
}

/// The same with the group's second record in a data file the group created.
#[test]
fn a_restore_into_a_new_data_file_survives_a_power_loss() {
    kill_restore_power_loss(RECORDS_PER_DATA_FILE - 1, 0..8, false);
}

/// A carried group (its data in the journal; acknowledged before its data and index were
/// synced) after a kill -9: its data and index entries are in the page cache, whole, so
/// nothing is restored; and the reopened journal drops the group. The restart must sync
/// the data before that, or a power loss after it takes acknowledged records.
#[test]
fn a_carried_group_found_whole_after_a_kill_survives_a_power_loss() {
    kill_restore_power_loss(3, 0..16, true);
}

/// A day of `before` records, then a group of two 5000-byte records written (not synced)
/// as a writer killed in its data sync left them (a carried group: with its index entries,
/// written after the journal's sync); for each seed, a restart on a copy and a power loss
/// after it.
fn kill_restore_power_loss(before: u64, seeds: std::ops::Range<u64>, carried: bool) {
    let records = vec![NewRecord { time: 7, ty: 1, data: &[0xAB; 5000][..] }; 2];
    let template = common::store_of(day(), before);
    let mut store = Store::open(template.path(), opts(Arc::new(StdVfs))).unwrap();
    let group = match carried {
        true => store.plan_carried_group(day(), &records),
        false => store.plan_group(day(), &records),
    };
    let group = group.unwrap().unwrap();
    assert_eq!(group.is_carried(), carried);
    drop(store);
    let mut journal = MAGIC_V2.to_vec();
    put_entry(1, before, &mut journal);
    put_group(&group, &mut journal);
    write_journal(template.path(), &journal);
    for seed in seeds {
        // Beside the template (in /dev/shm when there is one): a copy per seed.
        let tmp = tempfile::tempdir_in(template.path().parent().unwrap()).unwrap();
        let root = tmp.path();
        common::copy_tree(template.path(), root);
        let vfs = PowerLossVfs::new();
        let (mut id, mut at) = (before, group.first_offset);
        for r in &records {
            if id.is_multiple_of(RECORDS_PER_DATA_FILE) {
                at = 0;
            }
            let path = root.join(day().folder_name()).join(format!("data{:06}", id / RECORDS_PER_DATA_FILE));
            let mut bytes = RecordHeader::new(r.time, r.data.len()).encode().to_vec();
            bytes.extend_from_slice(r.data);
            vfs.open_write(&path).unwrap().write_all_at(&bytes, at).unwrap();
            if carried {
                let entry = IndexEntry {
                    data_file_index: (id / RECORDS_PER_DATA_FILE) as i16,
                    data_offset: at as i64,
                    data_type: r.ty,
                };
                let index = root.join(day().folder_name()).join("index");
                vfs.open_write(&index).unwrap().write_all_at(&entry.encode(), id * INDEX_ENTRY_LEN as u64).unwrap();
            }
            (id, at) = (id + 1, at + bytes.len() as u64);
        }

        let store = Store::open(root, opts(Arc::new(vfs.clone()))).unwrap();
        assert_eq!(store.count(day()).unwrap(), before + 2, "seed {seed}: the group is restored");
        let (table, _) = Journal::open(Arc::new(vfs.clone()), root, Durability::Batch, |d| store.count(d)).unwrap();
        assert_eq!(table.last("p1").map(|(seq, _)| seq), Some(1), "seed {seed}: a resend is answered as stored");

        // The power goes while the restarted server runs (its store's final sync is not
        // what saves the records).
        vfs.lose_power_at(vfs.steps(), seed);
        let _ = vfs.open_write(&root.join("the-power-goes"));
        assert!(vfs.is_off());
        drop((table, store));
        // The restart rewrote the journal without the group (synced, renamed into place,
        // the folder synced); the model does not follow renames, so the file is put back
        // as that rewrite left it.
        let mut rewritten = MAGIC_V2.to_vec();
        put_entry(1, before, &mut rewritten);
        write_journal(root, &rewritten);
        let store = Store::open(root, opts(Arc::new(StdVfs))).unwrap();
        assert_eq!(store.count(day()).unwrap(), before + 2, "seed {seed}: records the restart called stored were lost");
        drop(store);
        assert_eq!(verify_problem(root), None, "seed {seed}");
        let tail: Vec<usize> = Reader::open(root).unwrap().from(day(), before).map(|r| r.unwrap().data.len()).collect();
        assert_eq!(tail, vec![5000, 5000], "seed {seed}");
    }
}

/// A barrier was written and not synced, then the next group's frames; the power went
/// during their sync and the disk kept the later write but not the barrier: eight zero
/// bytes, which read as an empty producer entry with a valid checksum. That group was
/// never acknowledged. Neither reader may trust what follows the hole: the store must not
/// restore the group while the exactly-once table drops its entry (a resend would then be
/// stored twice).
#[test]
fn a_hole_where_a_barrier_was_ends_the_journal_for_both_readers() {
    let tmp = common::store_of(day(), 3);
    let root = tmp.path();
    let first = vec![NewRecord { time: 7, ty: 1, data: b"one" }; 2];
    let second = vec![NewRecord { time: 7, ty: 1, data: b"two" }; 2];
    let mut store = Store::open(root, opts(Arc::new(StdVfs))).unwrap();
    let g1 = store.plan_group(day(), &first).unwrap().unwrap();
    store.append_journaled(day(), &first, &g1, &mut || Ok(())).unwrap();
    let g2 = store.plan_group(day(), &second).unwrap().unwrap();
    store.append_journaled(day(), &second, &g2, &mut || Ok(())).unwrap();
    drop(store);
    // The second group's index entries never reached the disk; its data did.
    let index = root.join(day().folder_name()).join("index");
    std::fs::OpenOptions::new().write(true).open(&index).unwrap().set_len(12 * 5).unwrap();

    let mut journal = MAGIC_V2.to_vec();
    put_entry(1, 3, &mut journal);
    put_group(&g1, &mut journal);
    let mut barrier = Vec::new();
    put_barrier(&mut barrier);
    journal.extend(std::iter::repeat_n(0u8, barrier.len()));
    put_entry(2, 5, &mut journal);
    put_group(&g2, &mut journal);
    write_journal(root, &journal);

    let store = Store::open(root, opts(Arc::new(StdVfs))).unwrap();
    let (table, report) = Journal::open(Arc::new(StdVfs), root, Durability::Batch, |d| store.count(d)).unwrap();
    assert!(report.torn_bytes > 0, "the hole ends the table's journal: {report:?}");
    assert_eq!(table.last("p1").map(|(seq, _)| seq), Some(1));
    assert_eq!(store.count(day()).unwrap(), 5, "the group after the hole was restored, its entry dropped");
}

/// A group whose checksum holds but whose first offset is past any file (only someone
/// writing into `.modsynclog` makes one): its data is not on the disk, so it is not
/// restored, and the store opens.
#[test]
fn a_group_that_points_past_any_file_is_not_restored() {
    let tmp = common::store_of(day(), 3);
    let group =
        IndexGroup { date: day(), first_id: 3, first_offset: u64::MAX - 3, types: vec![(1, 1)], crc: 0, data: None };
    let mut journal = MAGIC_V2.to_vec();
    put_group(&group, &mut journal);
    write_journal(tmp.path(), &journal);
    let store = Store::open(tmp.path(), opts(Arc::new(StdVfs))).expect("the store opens");
    assert_eq!(store.count(day()).unwrap(), 3);
}
