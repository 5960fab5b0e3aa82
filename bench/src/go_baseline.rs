//! The original Go store's way of appending, rebuilt with `std::fs::File` as the baseline.
//!
//! go-filelog keeps `index` open with `O_APPEND` and the current data file read-write;
//! for every record it seeks the data file to the record's offset, writes the encoded
//! record (10-byte header and payload) in one `Write`, then seeks the index and writes
//! the 12-byte entry. That is four system calls per record, no batching and no fsync.
//! The bytes are the same as the store's (the encoders are the core's), so the only
//! difference measured is how they reach the kernel.
//!
//! One liberty, in the baseline's favour: the record buffer is reused rather than
//! allocated per record.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use modsynclog_core::store::format::{
    INDEX_ENTRY_LEN, INDEX_FILE, IndexEntry, RECORD_HEADER_LEN, RECORDS_PER_DATA_FILE, RecordHeader, data_file_path,
};

pub struct GoWriter {
    dir: PathBuf,
    index: File,
    data: File,
    file_index: i16,
    /// Next record id of the day, and the offset of that record in the current data file.
    id: u64,
    offset: u64,
    buf: Vec<u8>,
}

impl GoWriter {
    /// Creates the day folder and opens its files, once, before any record is written.
    pub fn create(day_dir: &Path) -> Result<GoWriter> {
        std::fs::create_dir_all(day_dir).with_context(|| format!("create {}", day_dir.display()))?;
        let index_path = day_dir.join(INDEX_FILE);
        let index = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&index_path)
            .with_context(|| format!("open {}", index_path.display()))?;
        let data = open_data(day_dir, 0)?;
        Ok(GoWriter { dir: day_dir.to_path_buf(), index, data, file_index: 0, id: 0, offset: 0, buf: Vec::new() })
    }

    /// Appends one record the original's way: seek + write the record, seek + write the entry.
    pub fn write(&mut self, time: i32, ty: i16, payload: &[u8]) -> Result<()> {
        if self.id > 0 && self.id.is_multiple_of(RECORDS_PER_DATA_FILE) {
            // Rolling over to the next data file, as the original does every million records.
            self.file_index += 1;
            self.data = open_data(&self.dir, self.file_index)?;
            self.offset = 0;
        }
        self.buf.clear();
        self.buf.extend_from_slice(&RecordHeader::new(time, payload.len()).encode());
        self.buf.extend_from_slice(payload);
        self.data.seek(SeekFrom::Start(self.offset))?;
        self.data.write_all(&self.buf)?;

        let entry = IndexEntry { data_file_index: self.file_index, data_offset: self.offset as i64, data_type: ty };
        // With O_APPEND the seek does not choose where the entry lands; the original makes it anyway.
        self.index.seek(SeekFrom::Start(self.id * INDEX_ENTRY_LEN as u64))?;
        self.index.write_all(&entry.encode())?;

        self.offset += (RECORD_HEADER_LEN + payload.len()) as u64;
        self.id += 1;
        Ok(())
    }

    /// Checks that the index holds exactly `records` entries (the run wrote what it counted).
    pub fn check(&self, records: u64) -> Result<()> {
        let len = self.index.metadata()?.len();
        ensure!(len == records * INDEX_ENTRY_LEN as u64, "baseline index is {len} bytes for {records} records");
        Ok(())
    }
}

fn open_data(day_dir: &Path, file_index: i16) -> Result<File> {
    let path = data_file_path(day_dir, file_index);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("open {}", path.display()))
}
