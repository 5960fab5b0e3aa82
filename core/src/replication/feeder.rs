//! What the server sends a replica next: the store side of one 301 request.
//!
//! A [`Feeder`] walks one day from the requested id, in batches, straight from the day's
//! index and data files (the 302 record carries the index entry's file and offset, which
//! the [`Reader`](crate::Reader) does not expose). It never writes: opening a day that does
//! not exist yet creates nothing, unlike the original, which creates the folder on read.
//!
//! Its calls do blocking file I/O; the server runs them on the blocking pool.

use std::path::PathBuf;
use std::sync::Arc;

use crate::date::Date;
use crate::error::Result;
use crate::store::cursor::DayCursor;
use crate::store::day;
use crate::store::io::Vfs;
use crate::store::notify::{Head, Signal};
use crate::wire::{SyncRequest, WireRecord};

/// The original's batch size; its replicas were never sent more records in one 302.
pub const MAX_BATCH_RECORDS: usize = 500;

/// The outcome of one [`Feeder::poll`].
#[derive(Debug)]
pub enum Feed {
    /// Records to send in one 302. `more` says a limit cut the batch, so the next poll
    /// can go at once instead of waiting for the writer.
    Batch { records: Vec<WireRecord>, more: bool },
    /// Every record of a finished day has been handed out: time for the 304.
    DayFinished,
    /// Nothing new yet; wait for the writer.
    Waiting,
}

/// One replica's position in one day, and the open files to read it.
pub struct Feeder {
    root: PathBuf,
    vfs: Arc<dyn Vfs>,
    date: Date,
    next_id: u64,
    cursor: DayCursor,
    max_records: usize,
    max_bytes: usize,
    /// The writer's published head: records past it are not handed out (see
    /// [`with_head`](Feeder::with_head)).
    head: Option<Arc<Signal>>,
    /// The writer's [`Head::cuts`](crate::store::Head::cuts) when the cursor's caches were
    /// last known good.
    cuts: u64,
}

impl std::fmt::Debug for Feeder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feeder").field("date", &self.date).field("next_id", &self.next_id).finish()
    }
}

impl Feeder {
    /// A feeder for `request`, handing out at most `max_records` (clamped to 1..=500)
    /// records and, unless one record alone is bigger, at most `max_bytes` of encoded batch.
    pub fn new(vfs: Arc<dyn Vfs>, root: PathBuf, request: SyncRequest, max_records: usize, max_bytes: usize) -> Feeder {
        Feeder::starting_at(vfs, root, request.date, request.id, max_records.clamp(1, MAX_BATCH_RECORDS), max_bytes)
    }

    /// A feeder of `date` from record `next_id`, without the legacy protocol's 500-record
    /// cap (the native sync sends larger batches). `max_bytes` is measured as for a 302
    /// batch ([`WireRecord::encoded_len`]).
    pub fn starting_at(
        vfs: Arc<dyn Vfs>,
        root: PathBuf,
        date: Date,
        next_id: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Feeder {
        Feeder {
            cursor: DayCursor::new(&root, date),
            root,
            vfs,
            date,
            next_id,
            max_records: max_records.max(1),
            max_bytes: max_bytes.max(1),
            head: None,
            cuts: 0,
        }
    }

    /// Hands out only records the in-process writer has published (its `signal`'s head):
    /// a batch that failed may sit in the files, whole, until the writer cuts it, and a
    /// replica must never copy it. Opening the store publishes what recovery left.
    pub fn with_head(mut self, signal: Arc<Signal>) -> Feeder {
        self.cuts = signal.head().cuts;
        self.head = Some(signal);
        self
    }

    /// Drops the cursor's caches (index entries and data read ahead, possibly of a batch
    /// cut since and rewritten) when the writer has cut files since the last look.
    fn forget_if_cut(&mut self, head: Option<&Head>) {
        if let Some(head) = head
            && head.cuts != self.cuts
        {
            self.cuts = head.cuts;
            self.cursor = DayCursor::new(&self.root, self.date);
        }
    }

    /// `on_disk` records of the day, less any the writer had not published at `head`
    /// (the same snapshot the caches were checked against).
    fn published(&self, on_disk: u64, head: Option<&Head>) -> u64 {
        head.map_or(on_disk, |head| head.published(self.date, on_disk))
    }

    /// Whether the day being fed exists on disk. After [`Feed::DayFinished`] this tells a
    /// day that was finished and fully sent from one that was never written (a later day
    /// exists and this one has no folder).
    pub fn day_exists(&self) -> bool {
        day::day_exists(self.vfs.as_ref(), &self.root, self.date)
    }

    /// The first day on disk after the one being fed, where a replica goes next.
    pub fn next_day(&self) -> Result<Option<Date>> {
        day::next_day(self.vfs.as_ref(), &self.root, self.date)
    }

    /// The day being fed and the next id to send.
    pub fn position(&self) -> (Date, u64) {
        (self.date, self.next_id)
    }

    /// The next batch, the end of the day, or nothing yet.
    pub fn poll(&mut self) -> Result<Feed> {
        let head = self.head.as_ref().map(|s| s.head());
        self.forget_if_cut(head.as_ref());
        let vfs: &dyn Vfs = self.vfs.as_ref();
        // Stat the index only when the count already known is used up: one system call
        // per batch at most while catching up.
        let known = match self.cursor.known() {
            k if self.next_id < k => k,
            _ => self.cursor.refresh(vfs)?,
        };
        let known = self.published(known, head.as_ref());
        if self.next_id < known {
            return self.batch(known);
        }
        if day::is_finished(vfs, &self.root, self.date) {
            // Records may have landed between the count and the marker: count again, all
            // of them (the writer cuts a failed batch before it writes the marker), after
            // dropping caches a cut since the snapshot above made stale.
            let head = self.head.as_ref().map(|s| s.head());
            self.forget_if_cut(head.as_ref());
            let known = self.cursor.refresh(self.vfs.as_ref())?;
            if self.next_id < known {
                return self.batch(known);
            }
            return Ok(Feed::DayFinished);
        }
        if self.abandoned()? {
            return Ok(Feed::DayFinished);
        }
        Ok(Feed::Waiting)
    }

    /// A day with no folder while a later day exists will never be written: the writer
    /// only moves forward. The original would create it empty and call it finished
    /// because it is in the past; this says the same without writing.
    fn abandoned(&self) -> Result<bool> {
        if self.day_exists() {
            return Ok(false);
        }
        Ok(self.next_day()?.is_some())
    }

    fn batch(&mut self, known: u64) -> Result<Feed> {
        let mut records = Vec::new();
        let mut bytes = 0;
        while self.next_id < known && records.len() < self.max_records {
            let located = self.cursor.read(self.vfs.as_ref(), self.next_id)?;
            let record = WireRecord {
                date: self.date,
                time: located.time,
                id: self.next_id,
                data_file_index: located.entry.data_file_index,
                data_offset: located.entry.data_offset,
                ty: located.entry.data_type,
                data: located.data,
            };
            // A record that would overflow the batch waits for the next one (re-reading it
            // then is cheap: the cursor keeps its chunk), unless it would be alone.
            if !records.is_empty() && bytes + record.encoded_len() > self.max_bytes {
                break;
            }
            bytes += record.encoded_len();
            records.push(record);
            self.next_id += 1;
        }
        Ok(Feed::Batch { records, more: self.next_id < known })
    }
}
