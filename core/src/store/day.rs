//! Read-only facts about day folders: which days exist, how many records, finished or not.
//!
//! Nothing here creates or changes a file, so any process may call it at any time.

use std::path::{Path, PathBuf};

use super::format::{FINISH_FILE, INDEX_ENTRY_LEN, INDEX_FILE};
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
