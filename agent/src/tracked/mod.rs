//! One file being shipped: its open handle, where it is read and acknowledged, its
//! records waiting for a batch, and what happened to it (renamed away, truncated).
//!
//! A file is followed by its open handle, not its name: renamed (a rotation), it is read
//! on to its end under its new name, and deleted, to the end of what it held. Truncated
//! (copy-truncate rotation), the bytes from where it was read to where the copy ends are
//! read from the copy (a file in the same folder whose first bytes are the same, at least
//! as long as what was read), then, once every batch of it is acknowledged, the file
//! starts again from 0 under its next generation (a new producer id: the seqs, its byte
//! offsets, start again).
//!
//! A file may be truncated again before that (the agent is behind, down, or the server
//! away): once a generation is finished from its copy, the copies made after it (see
//! [`copies`](crate::copies)) are shipped as the generations that followed, oldest first,
//! before the file itself.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use modsynclog_core::sdk::sequenced::SeqBatch;

use crate::config::Input;
use crate::identity::{FINGERPRINT_LEN, Fingerprint, Inode, producer_id};
use crate::lines::{Cut, Lines};

mod generations;

/// Bytes read from a file at once, at most.
pub const READ_CHUNK: usize = 256 << 10;
/// Records waiting for a batch, at most, over all files: each file gets its share
/// ([`ready_limit`]), so the memory the agent reads ahead does not grow with the number of
/// files it follows.
pub const READY_TOTAL_BYTES: usize = 8 << 20;
const READY_PER_FILE: std::ops::RangeInclusive<usize> = (16 << 10)..=(2 << 20);

/// The ready bytes each of `files` files may hold.
pub fn ready_limit(files: usize) -> usize {
    (READY_TOTAL_BYTES / files.max(1)).clamp(*READY_PER_FILE.start(), *READY_PER_FILE.end())
}

/// A batch holds at most this many records or payload bytes.
pub const BATCH_RECORDS: usize = 10_000;
pub const BATCH_BYTES: usize = 1 << 20;

#[derive(Debug)]
pub struct Tracked {
    pub input: String,
    pub path: PathBuf,
    pub inode: Inode,
    /// Shared with the read in progress (an `Arc`, not a duplicated descriptor: a file
    /// costs one descriptor, whatever is read).
    file: Arc<File>,
    /// `None` while the file is empty: it is taken with the first bytes.
    pub fingerprint: Option<Fingerprint>,
    pub generation: u32,
    lines: Lines,
    ready: VecDeque<Cut>,
    ready_bytes: usize,
    /// Offset after the last record the server acknowledged.
    pub acked: u64,
    /// Batches handed to the sender and not yet acknowledged.
    pub in_flight: usize,
    /// The file's size when last looked at.
    pub size: u64,
    /// When the file last grew (or was opened).
    pub last_growth: Instant,
    /// No glob path leads to this file any more (renamed away or deleted).
    pub gone: bool,
    /// Truncated: waiting for its batches to be acknowledged before starting again at 0.
    pub restarting: bool,
    /// The last read found nothing more.
    pub eof: bool,
    /// The file that was at this path before (renamed away by a rotation): this one is
    /// read only once that one is read to its end, so a rotated log's lines stay in order.
    pub after: Option<Inode>,
    /// Its first bytes changed: it was truncated and written again (possibly past where
    /// it was read) since it was last looked at; the next read handles it as truncated.
    pub rewritten: bool,
    /// Order of opening (of two files renamed away from one path, the later came later).
    pub opened: u64,
    /// Bytes known to be lost since last taken (truncated, and no copy found).
    pub lost: u64,
    /// The last error reading the file, while it lasts (logged once, not at every try).
    pub read_error: Option<String>,
    /// Truncated: the copy this generation is read from (to its end).
    copy: Option<File>,
    /// When the copy last read from was modified: copies made after it hold the
    /// generations that came after.
    copied_at: Option<SystemTime>,
    /// The copies read from lately (two copies may have the same modification time).
    copies_read: VecDeque<Inode>,
}

/// Copies remembered as read, at most.
const COPIES_READ: usize = 64;

impl Tracked {
    /// Opens `path` to ship from `offset` (a record boundary) under `generation`.
    pub fn open(
        path: &Path,
        input: &Input,
        offset: u64,
        fingerprint: Option<Fingerprint>,
        generation: u32,
    ) -> std::io::Result<Tracked> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let fingerprint = match fingerprint {
            Some(fp) => Some(fp),
            None if meta.len() > 0 => Some(Fingerprint::read(&file, FINGERPRINT_LEN)?),
            None => None,
        };
        file.seek(SeekFrom::Start(offset))?;
        Ok(Tracked {
            input: input.name.clone(),
            path: path.to_path_buf(),
            inode: Inode::of(&meta),
            file: Arc::new(file),
            fingerprint,
            generation,
            lines: Lines::new(offset, input.max_record_bytes, input.multiline.clone()),
            ready: VecDeque::new(),
            ready_bytes: 0,
            acked: offset,
            in_flight: 0,
            size: meta.len(),
            last_growth: Instant::now(),
            gone: false,
            restarting: false,
            eof: false,
            after: None,
            rewritten: false,
            opened: 0,
            lost: 0,
            read_error: None,
            copy: None,
            copied_at: None,
            copies_read: VecDeque::new(),
        })
    }

    /// Whether the file's first bytes are `fp`'s, read through the open file.
    pub fn starts_with(&mut self, fp: Fingerprint) -> std::io::Result<bool> {
        Ok(Fingerprint::read(&self.file, fp.len)? == fp)
    }

    /// When the file was last written.
    pub fn modified(&self) -> Option<SystemTime> {
        self.file.metadata().and_then(|m| m.modified()).ok()
    }

    /// This file's producer id (`None` before it has bytes).
    pub fn producer(&self, agent: &str) -> Option<String> {
        Some(producer_id(agent, self.inode, self.fingerprint?, self.generation))
    }

    /// Records cut to the maximum since the file was opened.
    pub fn truncated_records(&self) -> u64 {
        self.lines.truncated
    }

    /// Notices a truncation (see the module docs). Returns the file's size.
    fn watch(&mut self) -> std::io::Result<u64> {
        let size = self.file.metadata()?.len();
        if self.restarting || self.copy.is_some() {
            // Already truncated: the next generation starts from 0 anyway.
            return Ok(size);
        }
        // Truncated and written again past where it was read since the last read: the size
        // alone cannot tell, its first bytes can (read through the open handle).
        if size != self.size
            && let Some(fp) = self.fingerprint
            && !self.starts_with(fp)?
        {
            self.rewritten = true;
        }
        if size < self.lines.offset() || std::mem::take(&mut self.rewritten) {
            self.truncated_to(size)?;
        }
        Ok(size)
    }

    /// Reads what the file has now (or the copy of a truncated generation) into ready
    /// records, until they hold `ready_limit` bytes, through `buf`. Returns the bytes read.
    pub fn read(&mut self, ready_limit: usize, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.watch()?;
        if self.restarting {
            return Ok(0);
        }
        if let Some(copy) = self.copy.take() {
            let (n, eof) = self.fill(&copy, ready_limit, buf)?;
            if eof {
                // This generation is read out: the next starts once it is acknowledged.
                self.end_partial_line();
                self.restarting = true;
            } else {
                self.copy = Some(copy);
            }
            return Ok(n);
        }
        if size > self.size {
            self.last_growth = Instant::now();
        }
        self.size = size;
        self.take_fingerprint()?;
        if self.copy.is_some() {
            // A generation before this one, read from its copy first.
            return self.read(ready_limit, buf);
        }
        let file = self.file.clone();
        let (n, eof) = self.fill(&file, ready_limit, buf)?;
        self.eof = eof;
        Ok(n)
    }

    /// Reads `from` into ready records until they hold `ready_limit` bytes or it ends.
    /// Returns the bytes read and whether it ended.
    fn fill(&mut self, mut from: &File, ready_limit: usize, buf: &mut [u8]) -> std::io::Result<(usize, bool)> {
        let mut total = 0;
        while self.ready_bytes < ready_limit {
            let room = buf.len().min(ready_limit - self.ready_bytes);
            let n = from.read(&mut buf[..room])?;
            if n == 0 {
                return Ok((total, true));
            }
            total += n;
            self.feed(&buf[..n]);
        }
        Ok((total, false))
    }

    fn feed(&mut self, bytes: &[u8]) {
        let mut cuts = Vec::new();
        self.lines.feed(bytes, &mut cuts);
        self.take(cuts);
    }

    fn take(&mut self, cuts: Vec<Cut>) {
        for c in cuts {
            self.ready_bytes += c.data.len();
            self.ready.push_back(c);
        }
    }

    /// The last line of a file that will not grow any more (renamed away or deleted, and
    /// quiet; or read to its end by `--once`) is a record even without its newline. It
    /// ends at the file's size: no newline is counted that the file does not hold.
    pub fn end_partial_line(&mut self) {
        let mut cuts = Vec::new();
        self.lines.end_line(&mut cuts);
        self.take(cuts);
        self.flush_pending();
    }

    /// A multi-line record waiting for more lines goes as it is (the file went quiet).
    pub fn flush_pending(&mut self) {
        let mut cuts = Vec::new();
        self.lines.flush_pending(&mut cuts);
        self.take(cuts);
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Whether a multi-line record is waiting for more lines.
    pub fn has_partial(&self) -> bool {
        self.lines.has_partial()
    }

    /// Takes the file's fingerprint once it has bytes (its identity, and its producer id's).
    ///
    /// A generation after a truncation looks for copies made since the one before first:
    /// the file may have been truncated again before anything of it was read, and what it
    /// held then is in such a copy. (Its own first bytes are taken before: a copy is made
    /// before its truncation, so every copy of what came before is there by then.)
    pub fn take_fingerprint(&mut self) -> std::io::Result<()> {
        if self.fingerprint.is_none() && self.copy.is_none() && self.file.metadata()?.len() > 0 {
            self.fingerprint = Some(Fingerprint::read(&self.file, FINGERPRINT_LEN)?);
            if !self.switch_to_later_copy()? {
                self.copied_at = None;
            }
        }
        Ok(())
    }

    /// The sizes of the records ready, in order.
    pub fn ready_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.ready.iter().map(|c| c.data.len())
    }

    /// Bytes and records of the next batch (at most `max_records`), without taking it.
    pub fn peek(&self, max_records: usize) -> (usize, usize) {
        let (mut records, mut bytes) = (0, 0);
        for c in self.ready.iter().take(max_records.min(BATCH_RECORDS)) {
            if records > 0 && bytes + c.data.len() > BATCH_BYTES {
                break;
            }
            records += 1;
            bytes += c.data.len();
        }
        (records, bytes)
    }

    /// Takes the next `records` ready records as a batch of `producer`, its seq the offset
    /// after the last one.
    pub fn batch(&mut self, producer: String, ty: i16, records: usize) -> Option<SeqBatch> {
        let cuts: Vec<Cut> = self.ready.drain(..records.min(self.ready.len())).collect();
        let end = cuts.last()?.end;
        self.ready_bytes -= cuts.iter().map(|c| c.data.len()).sum::<usize>();
        self.in_flight += 1;
        Some(SeqBatch { producer, seq: end, records: cuts.into_iter().map(|c| (ty, c.data)).collect() })
    }

    /// Read to its end, every record handed out, and quiet for `quiet`: the file that
    /// took its place may be read now.
    pub fn read_out(&self, quiet: std::time::Duration) -> bool {
        self.eof && self.ready.is_empty() && !self.lines.has_partial() && self.last_growth.elapsed() >= quiet
    }

    /// Read to its end, every record acknowledged, and quiet for a while: a file renamed
    /// away or deleted can be closed.
    pub fn finished(&self, quiet: std::time::Duration) -> bool {
        self.gone
            && self.eof
            && !self.restarting
            && self.copy.is_none()
            && self.in_flight == 0
            && self.ready.is_empty()
            && !self.lines.has_partial()
            && self.last_growth.elapsed() >= quiet
            // Read to the end of what it holds now (not only of what it held when last read:
            // a file waiting behind another is not read at all).
            && self.file.metadata().is_ok_and(|m| m.len() <= self.lines.offset())
    }
}
