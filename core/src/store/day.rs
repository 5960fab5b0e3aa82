//! Read-only facts about day folders: which days exist, how many records, finished or not.
//!
//! Nothing here creates or changes a file, so any process may call it at any time.

use std::path::{Path, PathBuf};

use super::format::{
    FINISH_FILE, INDEX_ENTRY_LEN, INDEX_FILE, IndexEntry, RECORD_HEADER_LEN, RecordHeader, data_file_index,
    data_file_path,
};
use super::io::Vfs;
use crate::date::Date;
use crate::error::{Error, Result};

pub fn day_dir(root: &Path, date: Date) -> PathBuf {
    root.join(date.folder_name())
}

/// The days present under `root`, oldest first. Folders whose name is not exactly a
/// `YYYYMMDD` calendar date are ignored.
pub fn list_days(vfs: &dyn Vfs, root: &Path) -> Result<Vec<Date>> {
    let names = vfs.list_dirs(root).map_err(|e| Error::io(root, "list", e))?;
    let mut days: Vec<Date> = names.iter().filter_map(|n| Date::from_folder_name(n)).collect();
    days.sort_unstable();
    Ok(days)
}

/// The first day present after `date`.
pub fn next_day(vfs: &dyn Vfs, root: &Path, date: Date) -> Result<Option<Date>> {
    Ok(list_days(vfs, root)?.into_iter().find(|d| *d > date))
}

/// Whole records in a day (`size(index) / 12`); 0 when the day does not exist.
pub fn record_count(vfs: &dyn Vfs, root: &Path, date: Date) -> Result<u64> {
    let path = day_dir(root, date).join(INDEX_FILE);
    let len = vfs.file_len(&path).map_err(|e| Error::io(&path, "stat", e))?;
    Ok(len.unwrap_or(0) / INDEX_ENTRY_LEN as u64)
}

/// Whether the day's `finish` marker exists.
pub fn is_finished(vfs: &dyn Vfs, root: &Path, date: Date) -> bool {
    vfs.exists(&day_dir(root, date).join(FINISH_FILE))
}

pub fn day_exists(vfs: &dyn Vfs, root: &Path, date: Date) -> bool {
    vfs.exists(&day_dir(root, date))
}

/// Bytes of the day's files on disk: its index and data files (0 when it does not exist).
pub fn day_bytes(vfs: &dyn Vfs, root: &Path, date: Date) -> Result<u64> {
    let dir = day_dir(root, date);
    let index = dir.join(INDEX_FILE);
    let Some(index_len) = vfs.file_len(&index).map_err(|e| Error::io(&index, "stat", e))? else {
        return Ok(0);
    };
    let count = index_len / INDEX_ENTRY_LEN as u64;
    let mut total = index_len;
    // A data file per million records; the one after the last may exist, empty or not.
    for file in 0..=data_file_index(count) {
        let path = data_file_path(&dir, file);
        total += vfs.file_len(&path).map_err(|e| Error::io(&path, "stat", e))?.unwrap_or(0);
    }
    Ok(total)
}

/// The time (Unix seconds) record `id` of the day was stored with; `None` when the day
/// has no such record yet.
pub fn record_time(vfs: &dyn Vfs, root: &Path, date: Date, id: u64) -> Result<Option<i32>> {
    let dir = day_dir(root, date);
    let index_path = dir.join(INDEX_FILE);
    if record_count(vfs, root, date)? <= id {
        return Ok(None);
    }
    let mut entry = [0u8; INDEX_ENTRY_LEN];
    let index = vfs.open_read(&index_path).map_err(|e| Error::io(&index_path, "open", e))?;
    index.read_exact_at(&mut entry, id * INDEX_ENTRY_LEN as u64).map_err(|e| Error::io(&index_path, "read", e))?;
    let entry = IndexEntry::decode(&entry);
    let data_path = data_file_path(&dir, entry.data_file_index);
    let data = vfs.open_read(&data_path).map_err(|e| Error::io(&data_path, "open", e))?;
    let mut header = [0u8; RECORD_HEADER_LEN];
    data.read_exact_at(&mut header, entry.data_offset as u64).map_err(|e| Error::io(&data_path, "read", e))?;
    Ok(Some(RecordHeader::decode(&header).time))
}
