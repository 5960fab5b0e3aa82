//! Checking a store folder without changing it (`modsynclog-client verify`).
//!
//! For each day: the index size is a whole number of entries; every entry names the right
//! data file and the offset right after the previous record; every record header has the
//! magic and a length that fits in its file; no bytes follow the last record, nor lie in
//! a data file that no record is indexed in yet (recovery would cut both); `finish` is an
//! empty file. The first problem of a day is reported with its id.

use std::path::Path;

use super::cursor::DayCursor;
use super::day::{day_dir, list_days};
use super::format::{FINISH_FILE, INDEX_ENTRY_LEN, INDEX_FILE, RECORD_HEADER_LEN, data_file_index, data_file_path};
use super::io::Vfs;
use crate::date::Date;
use crate::error::{Error, Result};

/// What `verify` found in one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayReport {
    pub date: Date,
    /// Records whose entry and header checked out.
    pub count: u64,
    pub finished: bool,
    pub problem: Option<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The record id the problem is at, when it concerns one record.
    pub id: Option<u64>,
    pub what: String,
}

/// Verifies every day under `root`, oldest first.
pub fn verify_store(vfs: &dyn Vfs, root: &Path) -> Result<Vec<DayReport>> {
    list_days(vfs, root)?.into_iter().map(|d| verify_day(vfs, root, d)).collect()
}

/// Verifies one day. I/O failures are errors; damage is a [`Problem`] in the report.
pub fn verify_day(vfs: &dyn Vfs, root: &Path, date: Date) -> Result<DayReport> {
    let dir = day_dir(root, date);
    let finish_path = dir.join(FINISH_FILE);
    let finished = vfs.exists(&finish_path);
    let mut report = DayReport { date, count: 0, finished, problem: None };
    let problem = |id: Option<u64>, what: String| Some(Problem { id, what });

    let index_path = dir.join(INDEX_FILE);
    let Some(index_len) = vfs.file_len(&index_path).map_err(|e| Error::io(&index_path, "stat", e))? else {
        report.problem = problem(None, format!("{} is missing", index_path.display()));
        return Ok(report);
    };
    let entries = index_len / INDEX_ENTRY_LEN as u64;

    let mut cursor = DayCursor::new(root, date);
    cursor.refresh(vfs)?;
    let mut expected_offset = 0u64;
    for id in 0..entries {
        if id > 0 && data_file_index(id) != data_file_index(id - 1) {
            if let Some(p) = trailing_bytes(vfs, &dir, data_file_index(id - 1), expected_offset, id)? {
                report.problem = Some(p);
                return Ok(report);
            }
            expected_offset = 0;
        }
        let loc = match cursor.read(vfs, id) {
            Ok(loc) => loc,
            // A failing disk is not damage to report (or to cut away in recovery).
            Err(e) if e.kind() == crate::error::ErrorKind::Io => return Err(e),
            Err(e) => {
                report.problem = problem(Some(id), e.message().to_string());
                return Ok(report);
            }
        };
        if loc.entry.data_offset as u64 != expected_offset {
            report.problem = problem(
                Some(id),
                format!(
                    "{}: entry {id} says offset {}, but the previous record ends at {expected_offset}",
                    index_path.display(),
                    loc.entry.data_offset
                ),
            );
            return Ok(report);
        }
        expected_offset += (RECORD_HEADER_LEN + loc.data.len()) as u64;
        report.count = id + 1;
    }
    if index_len % INDEX_ENTRY_LEN as u64 != 0 {
        report.problem = problem(
            Some(entries),
            format!("{}: {} trailing bytes are a torn entry", index_path.display(), index_len % INDEX_ENTRY_LEN as u64),
        );
        return Ok(report);
    }
    if entries > 0
        && let Some(p) = trailing_bytes(vfs, &dir, data_file_index(entries - 1), expected_offset, entries)?
    {
        report.problem = Some(p);
        return Ok(report);
    }
    // Bytes in the data file that receives the next record, when no record of it is
    // indexed (an empty index, or the last record ends a data file): a torn first append
    // there, which recovery cuts, so `strict` must not find the day clean.
    if (entries == 0 || data_file_index(entries) != data_file_index(entries - 1))
        && let Some(p) = trailing_bytes(vfs, &dir, data_file_index(entries), 0, entries)?
    {
        report.problem = Some(p);
        return Ok(report);
    }
    if finished && vfs.file_len(&finish_path).map_err(|e| Error::io(&finish_path, "stat", e))? != Some(0) {
        report.problem = problem(None, format!("{} is not an empty file", finish_path.display()));
    }
    Ok(report)
}

/// Bytes of data file `file` past `end`, where record `next_id` would begin.
fn trailing_bytes(vfs: &dyn Vfs, dir: &Path, file: i16, end: u64, next_id: u64) -> Result<Option<Problem>> {
    let path = data_file_path(dir, file);
    let len = vfs.file_len(&path).map_err(|e| Error::io(&path, "stat", e))?.unwrap_or(0);
    Ok((len > end).then(|| Problem {
        id: Some(next_id),
        what: if end == 0 {
            format!("{}: {len} bytes where no record is indexed", path.display())
        } else {
            format!("{}: {} bytes after the last record (which ends at offset {end})", path.display(), len - end)
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::io::StdVfs;

    #[test]
    fn data_bytes_under_an_empty_index_are_a_problem() {
        // A crash between the first record's data write and its index write.
        let tmp = tempfile::tempdir().unwrap();
        let date = Date::parse("2026-11-21").unwrap();
        let dir = day_dir(tmp.path(), date);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(INDEX_FILE), b"").unwrap();
        assert_eq!(verify_day(&StdVfs, tmp.path(), date).unwrap().problem, None, "an empty day is clean");
        std::fs::write(data_file_path(&dir, 0), b"\x4b\x86torn").unwrap();
        let problem = verify_day(&StdVfs, tmp.path(), date).unwrap().problem.expect("a problem");
        assert_eq!(problem.id, Some(0), "{}", problem.what);
    }
}
