//! The page-cache ceiling: the store's bytes written with nothing but two `pwrite`s a batch.
//!
//! The same day-folder files as a store append of `batch` records, but every batch is
//! encoded once before the clock starts, so what is timed is only the kernel taking the
//! bytes into its page cache. Nothing that writes these files through buffered I/O can go
//! faster; the distance between this row and the store's row is the store's own cost
//! (encoding and bookkeeping), and this row against the baseline is the best ratio any
//! batching writer could show on this machine.
//!
//! `chunk` splits each batch's data write into `pwrite`s of at most that many bytes: on
//! kernels with large page-cache folios a single multi-MiB write is served with 2 MiB
//! folios, which this VM's balloon (free-page reporting at order 9) hands back to the host
//! when free, so every one of them faults on first touch; 1 MiB writes avoid that.
//!
//! Index entries are not rewritten per batch (their offsets are those of the first batch)
//! and the data file never rolls over: the files are not meant to be read back.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{Context, Result};
use modsynclog_core::store::format::{INDEX_FILE, IndexEntry, RecordHeader, data_file_path};

pub struct RawWriter {
    index: File,
    data: File,
    data_buf: Vec<u8>,
    index_buf: Vec<u8>,
    data_offset: u64,
    index_offset: u64,
    /// Largest single data `pwrite`; `usize::MAX` writes each batch at once, as the store does.
    chunk: usize,
}

impl RawWriter {
    /// Opens the day folder's files and encodes one batch of `batch` records.
    pub fn create(day_dir: &Path, time: i32, ty: i16, payload: &[u8], batch: usize, chunk: usize) -> Result<RawWriter> {
        std::fs::create_dir_all(day_dir).with_context(|| format!("create {}", day_dir.display()))?;
        let open = |path: &Path| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .with_context(|| format!("open {}", path.display()))
        };
        let (mut data_buf, mut index_buf) = (Vec::new(), Vec::new());
        for _ in 0..batch {
            let entry = IndexEntry { data_file_index: 0, data_offset: data_buf.len() as i64, data_type: ty };
            index_buf.extend_from_slice(&entry.encode());
            data_buf.extend_from_slice(&RecordHeader::new(time, payload.len()).encode());
            data_buf.extend_from_slice(payload);
        }
        Ok(RawWriter {
            index: open(&day_dir.join(INDEX_FILE))?,
            data: open(&data_file_path(day_dir, 0))?,
            data_buf,
            index_buf,
            data_offset: 0,
            index_offset: 0,
            chunk: chunk.max(1),
        })
    }

    /// Writes one pre-encoded batch: data first, then the index, as the store does.
    pub fn write_batch(&mut self) -> Result<()> {
        let mut at = self.data_offset;
        for piece in self.data_buf.chunks(self.chunk) {
            self.data.write_all_at(piece, at)?;
            at += piece.len() as u64;
        }
        self.index.write_all_at(&self.index_buf, self.index_offset)?;
        self.data_offset += self.data_buf.len() as u64;
        self.index_offset += self.index_buf.len() as u64;
        Ok(())
    }
}
