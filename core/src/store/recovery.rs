//! Finding where a day's log really ends, and cutting off what a crash left behind.
//!
//! A writer that died mid-batch can leave: a partial index entry (the index size is not a
//! multiple of 12), index entries whose data never fully reached the data file, and data
//! bytes after the last indexed record. [`recover`] finds the last index entry whose
//! record is whole, truncates the index there, and truncates the data file at the end of
//! that record. Only the writer calls it; readers never change a file. Every repair is
//! returned so the caller can log it.

use std::path::Path;
use std::sync::Arc;

use super::format::{
    INDEX_ENTRY_LEN, IndexEntry, RECORD_HEADER_LEN, RECORDS_PER_DATA_FILE, RecordHeader, data_file_index,
    data_file_path,
};
use super::io::{StoreFile, Vfs};
use crate::error::{Error, Result};

/// Where the next record of a day goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tail {
    /// Number of whole records, i.e. the next id.
    pub count: u64,
    /// Offset of the next record in data file `data_file_index(count)`.
    pub next_offset: u64,
}

/// Checks the tail of a day whose `index` is open for writing; repairs it in place.
pub(crate) fn recover(vfs: &dyn Vfs, dir: &Path, index: &dyn StoreFile, repairs: &mut Vec<String>) -> Result<Tail> {
    let index_path = dir.join(super::format::INDEX_FILE);
    let index_len = index.len().map_err(|e| Error::io(&index_path, "stat", e))?;
    let mut count = index_len / INDEX_ENTRY_LEN as u64;
    if index_len % INDEX_ENTRY_LEN as u64 != 0 {
        repairs.push(format!(
            "{}: dropped a torn index entry ({} trailing bytes)",
            index_path.display(),
            index_len % INDEX_ENTRY_LEN as u64
        ));
    }

    let mut next_offset = 0;
    let mut open_file: Option<(i16, Arc<dyn StoreFile>, u64)> = None;
    while count > 0 {
        let id = count - 1;
        let mut b = [0u8; INDEX_ENTRY_LEN];
        index.read_exact_at(&mut b, id * INDEX_ENTRY_LEN as u64).map_err(|e| Error::io(&index_path, "read", e))?;
        let entry = IndexEntry::decode(&b);
        match check_entry(vfs, dir, id, &entry, &mut open_file)? {
            Ok(end) => {
                next_offset = end;
                break;
            }
            Err(why) => {
                repairs.push(format!("{}: dropped entry {id}: {why}", index_path.display()));
                count -= 1;
            }
        }
    }
    if count * INDEX_ENTRY_LEN as u64 != index_len {
        index.set_len(count * INDEX_ENTRY_LEN as u64).map_err(|e| Error::io(&index_path, "truncate", e))?;
    }
    if count.is_multiple_of(RECORDS_PER_DATA_FILE) {
        next_offset = 0;
    }
    cut_data_tail(vfs, dir, count, next_offset, repairs)?;
    Ok(Tail { count, next_offset })
}

/// `Ok(Ok(end))` when entry `id` points at a whole record ending at `end`.
pub(super) fn check_entry(
    vfs: &dyn Vfs,
    dir: &Path,
    id: u64,
    entry: &IndexEntry,
    open_file: &mut Option<(i16, Arc<dyn StoreFile>, u64)>,
) -> Result<Result<u64, String>> {
    let expected_file = data_file_index(id);
    if entry.data_file_index != expected_file {
        return Ok(Err(format!("data file index {} (expected {expected_file})", entry.data_file_index)));
    }
    if entry.data_offset < 0 {
        return Ok(Err(format!("negative data offset {}", entry.data_offset)));
    }
    if open_file.as_ref().map(|f| f.0) != Some(expected_file) {
        let path = data_file_path(dir, expected_file);
        match vfs.open_read(&path) {
            Ok(f) => {
                let len = f.len().map_err(|e| Error::io(&path, "stat", e))?;
                *open_file = Some((expected_file, f, len));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Err(format!("{} does not exist", path.display())));
            }
            Err(e) => return Err(Error::io(&path, "open", e)),
        }
    }
    let (_, file, file_len) = open_file.as_ref().expect("opened above");
    let offset = entry.data_offset as u64;
    if offset + RECORD_HEADER_LEN as u64 > *file_len {
        return Ok(Err(format!("offset {offset} is past the end of the data file ({file_len} bytes)")));
    }
    let mut h = [0u8; RECORD_HEADER_LEN];
    let path = data_file_path(dir, expected_file);
    file.read_exact_at(&mut h, offset).map_err(|e| Error::io(&path, "read", e))?;
    let header = RecordHeader::decode(&h);
    Ok(header.check(offset, *file_len).map(|()| header.end(offset)))
}

/// Truncates the data file that receives record `count` at `next_offset`.
fn cut_data_tail(vfs: &dyn Vfs, dir: &Path, count: u64, next_offset: u64, repairs: &mut Vec<String>) -> Result<()> {
    let path = data_file_path(dir, data_file_index(count));
    let Some(len) = vfs.file_len(&path).map_err(|e| Error::io(&path, "stat", e))? else {
        return Ok(());
    };
    if len > next_offset {
        let f = vfs.open_write(&path).map_err(|e| Error::io(&path, "open", e))?;
        f.set_len(next_offset).map_err(|e| Error::io(&path, "truncate", e))?;
        repairs.push(format!(
            "{}: cut {} bytes after the last indexed record (offset {next_offset})",
            path.display(),
            len - next_offset
        ));
    }
    Ok(())
}
