//! Reading records of one day by id, in large chunks.
//!
//! A scan must not cost a system call per record. `DayCursor` reads the index 4096
//! entries at a time and the data file in chunks of at least 1 MiB; records are handed
//! out as slices of the chunk (`Bytes`), so payloads are not copied again. Every entry and
//! header is checked, and damage is an error naming the file, the id and the offset;
//! nothing here panics or reads past what a file holds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::format::{
    INDEX_ENTRY_LEN, INDEX_FILE, IndexEntry, RECORD_HEADER_LEN, RecordHeader, data_file_index, data_file_path,
};
use super::io::{StoreFile, Vfs};
use crate::date::Date;
use crate::error::{Error, Result};

const INDEX_CHUNK_ENTRIES: u64 = 4096;
const DATA_CHUNK: usize = 1 << 20;

/// A record located by the index: its entry, its time and its payload.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub entry: IndexEntry,
    pub time: i32,
    pub data: Bytes,
}

pub(crate) struct DayCursor {
    pub(crate) date: Date,
    dir: PathBuf,
    index: Option<Arc<dyn StoreFile>>,
    /// Whole entries known to exist (from the last stat of the index).
    known: u64,
    entries: Vec<u8>,
    entries_first: u64,
    data: Option<(i16, Arc<dyn StoreFile>)>,
    /// A window of data file `chunk_file` starting at `chunk_offset`.
    chunk: Bytes,
    chunk_file: i16,
    chunk_offset: u64,
}

impl DayCursor {
    pub(crate) fn new(root: &Path, date: Date) -> DayCursor {
        DayCursor {
            date,
            dir: super::day::day_dir(root, date),
            index: None,
            known: 0,
            entries: Vec::new(),
            entries_first: 0,
            data: None,
            chunk: Bytes::new(),
            chunk_file: 0,
            chunk_offset: 0,
        }
    }

    /// Re-reads the number of whole records in the day (0 while it does not exist).
    pub(crate) fn refresh(&mut self, vfs: &dyn Vfs) -> Result<u64> {
        let path = self.dir.join(INDEX_FILE);
        if self.index.is_none() {
            match vfs.open_read(&path) {
                Ok(f) => self.index = Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(Error::io(&path, "open", e)),
            }
        }
        let len = self.index.as_ref().expect("opened").len().map_err(|e| Error::io(&path, "stat", e))?;
        self.known = len / INDEX_ENTRY_LEN as u64;
        Ok(self.known)
    }

    pub(crate) fn known(&self) -> u64 {
        self.known
    }

    /// Reads record `id`, which must be below [`known`](Self::known).
    pub(crate) fn read(&mut self, vfs: &dyn Vfs, id: u64) -> Result<Located> {
        let entry = self.entry(id)?;
        let file_index = data_file_index(id);
        if entry.data_file_index != file_index || entry.data_offset < 0 {
            return Err(Error::corrupt(
                &self.dir.join(INDEX_FILE),
                format!("entry {id} points at file {} offset {}", entry.data_file_index, entry.data_offset),
            ));
        }
        let offset = entry.data_offset as u64;
        if !self.chunk_holds(file_index, offset, RECORD_HEADER_LEN) {
            self.load(vfs, file_index, offset, DATA_CHUNK)?;
        }
        let at = (offset - self.chunk_offset) as usize;
        if self.chunk.len() < at + RECORD_HEADER_LEN {
            return Err(
                self.corrupt(file_index, format!("record {id} at offset {offset}: the file ends inside its header"))
            );
        }
        let header = RecordHeader::decode(&self.chunk[at..at + RECORD_HEADER_LEN]);
        header.check(offset, u64::MAX).map_err(|why| self.corrupt(file_index, format!("record {id}: {why}")))?;
        let total = RECORD_HEADER_LEN + header.length as usize;
        if !self.chunk_holds(file_index, offset, total) {
            self.load(vfs, file_index, offset, total.max(DATA_CHUNK))?;
        }
        let at = (offset - self.chunk_offset) as usize;
        if self.chunk.len() < at + total {
            return Err(self.corrupt(
                file_index,
                format!("record {id} at offset {offset} of length {}: the file ends early", header.length),
            ));
        }
        let data = self.chunk.slice(at + RECORD_HEADER_LEN..at + total);
        Ok(Located { entry, time: header.time, data })
    }

    fn corrupt(&self, file_index: i16, detail: String) -> Error {
        Error::corrupt(&data_file_path(&self.dir, file_index), detail)
    }

    fn entry(&mut self, id: u64) -> Result<IndexEntry> {
        let cached = self.entries.len() as u64 / INDEX_ENTRY_LEN as u64;
        if id < self.entries_first || id >= self.entries_first + cached {
            let n = INDEX_CHUNK_ENTRIES.min(self.known.saturating_sub(id));
            let path = self.dir.join(INDEX_FILE);
            let index = self
                .index
                .as_ref()
                .ok_or_else(|| Error::corrupt(&path, format!("entry {id} read before the index was opened")))?;
            self.entries.resize((n as usize) * INDEX_ENTRY_LEN, 0);
            index
                .read_exact_at(&mut self.entries, id * INDEX_ENTRY_LEN as u64)
                .map_err(|e| Error::io(&path, "read", e))?;
            self.entries_first = id;
        }
        let at = ((id - self.entries_first) as usize) * INDEX_ENTRY_LEN;
        Ok(IndexEntry::decode(&self.entries[at..at + INDEX_ENTRY_LEN]))
    }

    fn chunk_holds(&self, file_index: i16, offset: u64, len: usize) -> bool {
        file_index == self.chunk_file
            && offset >= self.chunk_offset
            && offset + len as u64 <= self.chunk_offset + self.chunk.len() as u64
    }

    /// Loads up to `want` bytes of data file `file_index` from `offset` (fewer at its end).
    fn load(&mut self, vfs: &dyn Vfs, file_index: i16, offset: u64, want: usize) -> Result<()> {
        let path = data_file_path(&self.dir, file_index);
        if self.data.as_ref().map(|d| d.0) != Some(file_index) {
            let f = vfs.open_read(&path).map_err(|e| Error::io(&path, "open", e))?;
            self.data = Some((file_index, f));
        }
        let file = &self.data.as_ref().expect("opened").1;
        // Size the buffer by what the file holds: a follower at the live tail must not zero
        // a whole chunk for every small record.
        let len = file.len().map_err(|e| Error::io(&path, "stat", e))?;
        let want = want.min(len.saturating_sub(offset) as usize);
        // Reuse the last chunk's memory when no record handed out still points into it
        // (a binding that copies each payload out): a fresh megabyte per chunk costs a page
        // fault per 4 KiB, more than the reading itself.
        let mut buf = match std::mem::take(&mut self.chunk).try_into_mut() {
            Ok(mut reused) if reused.capacity() >= want => {
                reused.clear();
                reused.resize(want, 0);
                reused
            }
            _ => BytesMut::zeroed(want),
        };
        let mut filled = 0;
        while filled < want {
            match file.read_at(&mut buf[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&path, "read", e)),
            }
        }
        buf.truncate(filled);
        self.chunk = buf.freeze();
        self.chunk_file = file_index;
        self.chunk_offset = offset;
        Ok(())
    }
}
