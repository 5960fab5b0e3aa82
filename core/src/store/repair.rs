//! What the store does after a write or an fsync failed: cut, rewrite, check, sync.
//!
//! A failed `fsync` does not say which pages reached the disk, and on Linux the kernel
//! marks the pages it could not write back as clean: a second `fsync` then succeeds
//! without writing them ("fsyncgate"). So after any failure the store neither answers
//! the batch nor retries the sync. It drops the day's writer and, before its next
//! operation, [`repair`]s the day through freshly opened files:
//!
//! 1. records of the failed batch (never acknowledged) are cut off with [`cut_day`];
//! 2. under `batch`, records written since the last good sync (answered before their
//!    fsync, `--legacy-ack written`) are checked entry by entry; from the first that does
//!    not point at a whole record the day is cut (logged: those writes were lost); the
//!    rest is read back and written again, so that the pages are dirty again, then synced
//!    data first and index last. Only then does the store append again.
//!
//! A repair that fails stays pending and runs again before the next operation.

use std::path::Path;
use std::sync::Arc;

use super::day::{day_dir, record_count};
use super::durability::Durability;
use super::format::{FINISH_FILE, INDEX_ENTRY_LEN, INDEX_FILE, IndexEntry, data_file_index, data_file_path};
use super::index_group::{IndexGroup, Restored, restore};
use super::io::{StoreFile, Vfs};
use super::recovery::check_entry;
use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};

/// A day to repair before the store appends again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repair {
    pub date: Date,
    /// Records known to be on the disk (synced), which need nothing.
    pub synced: u64,
    /// Records to keep: the day ends here (the failed batch started here).
    pub keep: u64,
    /// Groups acknowledged with their index entries not synced (see [`super::index_group`]):
    /// their entries are written again from the data first, whatever the page cache lost.
    pub groups: Vec<IndexGroup>,
}

/// Cuts, checks, rewrites and syncs the day as [`Repair`] says.
pub(crate) fn repair(vfs: &dyn Vfs, root: &Path, durability: Durability, r: Repair) -> Result<()> {
    for g in r.groups.iter().filter(|g| g.date == r.date) {
        match restore(vfs, root, g)? {
            Restored::Whole | Restored::Skipped => {}
            Restored::Rewrote { from, count } => {
                tracing::warn!(date = %r.date, from, count, "repair: index entries the failed sync may have lost, rebuilt from their group");
            }
            Restored::NotOnDisk(why) => {
                tracing::error!(date = %r.date, first_id = g.first_id, %why, "repair: an acknowledged group's data is not on the disk");
            }
            Restored::Gap { have } => {
                tracing::error!(date = %r.date, have, first_id = g.first_id, "repair: the index ends before an acknowledged group");
            }
        }
    }
    let count = record_count(vfs, root, r.date)?;
    let mut keep = r.keep.min(count);
    let dir = day_dir(root, r.date);
    let index_path = dir.join(INDEX_FILE);
    let index = vfs.open_write(&index_path).map_err(|e| Error::io(&index_path, "open", e))?;
    // Under `batch`, what was written after the last good sync must be checked whole.
    let check_from = if durability == Durability::Batch { r.synced.min(keep) } else { keep };
    let mut entries = read_entries(index.as_ref(), &index_path, check_from, keep)?;
    let mut open = None;
    let mut end_of_last = None;
    for (i, entry) in entries.iter().enumerate() {
        let id = check_from + i as u64;
        match check_entry(vfs, &dir, id, entry, &mut open)? {
            Ok(end) => end_of_last = Some(end),
            Err(why) => {
                tracing::error!(date = %r.date, id, lost = keep - id, %why,
                    "repair: records written before a failed fsync did not survive; the day is cut there");
                keep = id;
                break;
            }
        }
    }
    entries.truncate((keep - check_from) as usize);
    if count > keep {
        let cut = cut_day(vfs, root, r.date, keep, durability)?;
        tracing::warn!(date = %r.date, keep, cut, "repair: cut the records of a failed batch");
    }
    rewrite(vfs, &dir, index.as_ref(), &entries, check_from, end_of_last)
}

fn read_entries(index: &dyn StoreFile, path: &Path, from: u64, to: u64) -> Result<Vec<IndexEntry>> {
    let mut bytes = vec![0u8; ((to - from) as usize) * INDEX_ENTRY_LEN];
    index.read_exact_at(&mut bytes, from * INDEX_ENTRY_LEN as u64).map_err(|e| Error::io(path, "read", e))?;
    Ok(bytes.chunks_exact(INDEX_ENTRY_LEN).map(IndexEntry::decode).collect())
}

/// Writes records `from ..` (`entries`, checked whole, the last ending at `end_of_last`)
/// again, data then index, and syncs each file after it.
fn rewrite(
    vfs: &dyn Vfs,
    dir: &Path,
    index: &dyn StoreFile,
    entries: &[IndexEntry],
    from: u64,
    end_of_last: Option<u64>,
) -> Result<()> {
    let (Some(first), Some(end)) = (entries.first(), end_of_last) else { return Ok(()) };
    let last_id = from + entries.len() as u64 - 1;
    let (first_file, last_file) = (data_file_index(from), data_file_index(last_id));
    for file_index in first_file..=last_file {
        let path = data_file_path(dir, file_index);
        let f = vfs.open_write(&path).map_err(|e| Error::io(&path, "open", e))?;
        let start = if file_index == first_file { first.data_offset as u64 } else { 0 };
        let stop = if file_index == last_file { end } else { f.len().map_err(|e| Error::io(&path, "stat", e))? };
        write_again(f.as_ref(), &path, start, stop)?;
        f.sync_data().map_err(|e| Error::io(&path, "sync", e))?;
    }
    let index_path = dir.join(INDEX_FILE);
    let at = from * INDEX_ENTRY_LEN as u64;
    write_again(index, &index_path, at, at + (entries.len() * INDEX_ENTRY_LEN) as u64)?;
    index.sync_data().map_err(|e| Error::io(&index_path, "sync", e))?;
    vfs.sync_dir(dir).map_err(|e| Error::io(dir, "sync", e))?;
    tracing::info!(dir = %dir.display(), from, records = entries.len(), "repair: rewrote and synced records written before a failed fsync");
    Ok(())
}

/// Reads `start..stop` of a file and writes the same bytes back (in 1 MiB pieces).
fn write_again(f: &dyn StoreFile, path: &Path, start: u64, stop: u64) -> Result<()> {
    let mut buf = vec![0u8; (stop - start).min(1 << 20) as usize];
    let mut at = start;
    while at < stop {
        let n = ((stop - at) as usize).min(buf.len());
        f.read_exact_at(&mut buf[..n], at).map_err(|e| Error::io(path, "read", e))?;
        f.write_all_at(&buf[..n], at).map_err(|e| Error::io(path, "write", e))?;
        at += n as u64;
    }
    Ok(())
}

/// Cuts `date` back to its first `keep` records: the index and the data are truncated
/// (synced unless `never`), data files left empty are removed. Returns how many records
/// were cut. The day must not be open in a writer.
pub(crate) fn cut_day(vfs: &dyn Vfs, root: &Path, date: Date, keep: u64, durability: Durability) -> Result<u64> {
    let dir = day_dir(root, date);
    let count = record_count(vfs, root, date)?;
    if keep >= count {
        return Ok(0);
    }
    if vfs.exists(&dir.join(FINISH_FILE)) {
        return Err(Error::new(ErrorKind::Conflict, format!("day {date} is finished; it is not cut back")));
    }
    let index_path = dir.join(INDEX_FILE);
    let index = vfs.open_write(&index_path).map_err(|e| Error::io(&index_path, "open", e))?;
    // Where the data ends: after the last record kept (entry `keep` itself may be the
    // damage), checked whole; nothing at all when no record is kept.
    let (first_file, first_offset) = if keep == 0 {
        (0, 0)
    } else {
        let last = read_entries(index.as_ref(), &index_path, keep - 1, keep)?[0];
        // The same check recovery makes of a tail entry: a whole record, where it belongs.
        match check_entry(vfs, &dir, keep - 1, &last, &mut None)? {
            Ok(end) => (data_file_index(keep - 1), end),
            Err(why) => {
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    format!("day {date}: record {} (the last to keep): {why}; not cut back", keep - 1),
                ));
            }
        }
    };
    // Data files from the one holding the cut on: cut there, and drop the later ones
    // (a batch can straddle a data-file boundary).
    let last_file = data_file_index(count - 1);
    for file_index in (first_file..=last_file).rev() {
        let path = data_file_path(&dir, file_index);
        let offset = if file_index == first_file { first_offset } else { 0 };
        if offset == 0 {
            if vfs.exists(&path) {
                vfs.remove_file(&path).map_err(|e| Error::io(&path, "remove", e))?;
            }
            continue;
        }
        let f: Arc<dyn StoreFile> = vfs.open_write(&path).map_err(|e| Error::io(&path, "open", e))?;
        f.set_len(offset).map_err(|e| Error::io(&path, "truncate", e))?;
        if durability != Durability::Never {
            f.sync_data().map_err(|e| Error::io(&path, "sync", e))?;
        }
    }
    index.set_len(keep * INDEX_ENTRY_LEN as u64).map_err(|e| Error::io(&index_path, "truncate", e))?;
    if durability != Durability::Never {
        index.sync_data().map_err(|e| Error::io(&index_path, "sync", e))?;
        vfs.sync_dir(&dir).map_err(|e| Error::io(&dir, "sync", e))?;
    }
    Ok(count - keep)
}
