//! Appending batches of records to one day folder.
//!
//! A [`DayWriter`] owns the open `index` and current data file of one day. Each batch is
//! encoded into two reusable buffers and written with positioned writes: the data (in
//! pieces of about 1 MiB), then the index in one write (per data file the batch touches).
//! Data goes first, so that an index entry a reader can see always points at a whole record.
//!
//! Under `batch` an append syncs the data, then the index; or, when the caller journaled
//! the group's [`IndexGroup`] (the server's writer), the data only: the index is synced
//! later, by [`DayWriter::sync`], and until then the groups are kept here for a repair.
//! A carried group (its data in the journal too) syncs neither: its data's writeback is
//! started, and `sync` syncs the data files and the index side by side.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::durability::{Durability, SyncTargets};
use super::format::{
    INDEX_ENTRY_LEN, INDEX_FILE, IndexEntry, MAX_RECORD_LEN, MAX_RECORDS_PER_DAY, RECORD_HEADER_LEN,
    RECORDS_PER_DATA_FILE, RecordHeader, data_file_index, data_file_path,
};
use super::index_group::IndexGroup;
use super::io::{StoreFile, Vfs};
use super::recovery::{Tail, recover};
use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};

/// A record to append: the payload is borrowed from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewRecord<'a> {
    /// Unix seconds, as the original stores it.
    pub time: i32,
    pub ty: i16,
    pub data: &'a [u8],
}

/// Where a batch landed: records `first_id .. first_id + count` of `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub date: Date,
    pub first_id: u64,
    pub count: u64,
}

/// How an append meets the durability policy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy<'a> {
    pub durability: Durability,
    /// Under `batch`, no sync this time (the next synced append, or a sync, syncs it).
    pub defer_sync: bool,
    /// The group [`plan_group`](DayWriter::plan_group) gave for this append, on the disk
    /// by the time `before_index` returns: under `batch` the data is synced, the index not.
    pub journaled: Option<&'a IndexGroup>,
}

/// Size of the pieces a batch's data is written in.
const WRITE_CHUNK: usize = 1 << 20;

pub(crate) struct DayWriter {
    pub(crate) date: Date,
    dir: PathBuf,
    index: Arc<dyn StoreFile>,
    /// The data file receiving record `tail.count`, opened lazily (the original creates
    /// `data000000` only with the first record).
    pub(super) data: Option<(i16, Arc<dyn StoreFile>)>,
    tail: Tail,
    /// The day has its `finish` marker: appending would put records where replicas and
    /// followers have already stopped looking.
    pub(crate) finished: bool,
    data_buf: Vec<u8>,
    index_buf: Vec<u8>,
    /// Something was written since the last sync (under `never` or `interval`, or by a
    /// deferred append under `batch`).
    dirty: bool,
    /// Data files left behind by a rollover to the next one while dirty: synced with the
    /// next sync, before the index, so that a synced index never points at unsynced data
    /// (under `never`, that sync is the day's `finish`).
    dirty_old: Vec<Arc<dyn StoreFile>>,
    /// Records known to be on the disk: all of them at open (what recovery kept, whatever
    /// crashed before), then as of the last sync that succeeded.
    synced: u64,
    /// Groups appended with their data synced and their index entries not (journaled by
    /// the caller), or neither synced (carried), oldest first; cleared by a sync of the index.
    journaled: Vec<IndexGroup>,
    /// Data of carried groups was written since the last sync: the data files are synced
    /// with the index (a rollover leaves the old file to `dirty_old`).
    carried: bool,
}

impl DayWriter {
    /// Opens (creating if needed) the day folder and recovers its tail.
    pub(crate) fn open(vfs: &dyn Vfs, root: &Path, date: Date, durability: Durability) -> Result<DayWriter> {
        let dir = root.join(date.folder_name());
        if !vfs.exists(&dir) {
            vfs.create_dir_all(&dir).map_err(|e| Error::io(&dir, "create day folder", e))?;
            if durability != Durability::Never {
                vfs.sync_dir(root).map_err(|e| Error::io(root, "sync", e))?;
            }
        }
        let index_path = dir.join(INDEX_FILE);
        let index = vfs.open_write(&index_path).map_err(|e| Error::io(&index_path, "open", e))?;
        // A finished day takes no more records and is never repaired here: refusing an
        // append must not change it (`verify` reports any damage; nothing cuts it).
        let finished = vfs.exists(&dir.join(super::format::FINISH_FILE));
        let tail = if finished {
            let len = index.len().map_err(|e| Error::io(&index_path, "stat", e))?;
            Tail { count: len / INDEX_ENTRY_LEN as u64, next_offset: 0 }
        } else {
            let mut repairs = Vec::new();
            let tail = recover(vfs, &dir, index.as_ref(), &mut repairs)?;
            for r in &repairs {
                tracing::warn!(day = %date, "recovered: {r}");
            }
            tail
        };
        Ok(DayWriter {
            date,
            dir,
            index,
            data: None,
            tail,
            finished,
            data_buf: Vec::new(),
            index_buf: Vec::new(),
            dirty: false,
            dirty_old: Vec::new(),
            synced: tail.count,
            journaled: Vec::new(),
            carried: false,
        })
    }

    pub(crate) fn count(&self) -> u64 {
        self.tail.count
    }

    /// The [`IndexGroup`] that appending `records` now would write, or `None` when the
    /// index could not wait for its sync: records written before and not synced (deferred
    /// appends) have no group to restore their entries from.
    /// Carried (see [`IndexGroup::plan`]) when `carry` asks for it.
    pub(crate) fn plan_group(&self, records: &[NewRecord<'_>], carry: bool) -> Option<IndexGroup> {
        (!self.dirty && !self.finished && !records.is_empty())
            .then(|| IndexGroup::plan(self.date, self.tail.count, self.tail.next_offset, records, carry))
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `records` and applies the `policy` (see [`Policy`]). `before_index` runs
    /// once, before the first index entry is written (see
    /// [`Store::append_ordered`](super::Store::append_ordered)). On error the writer must
    /// be dropped and reopened: the files may hold a torn tail that only recovery removes.
    pub(crate) fn append(
        &mut self,
        vfs: &dyn Vfs,
        records: &[NewRecord<'_>],
        policy: Policy<'_>,
        targets: &SyncTargets,
        before_index: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Appended> {
        let first_id = self.tail.count;
        // A group planned for other records, or with unsynced records before it, would not
        // restore these entries: sync the index as usual.
        let journaled = policy.journaled.filter(|g| {
            !self.dirty
                && g.date == self.date
                && g.first_id == first_id
                && g.first_offset == self.tail.next_offset
                && g.count() == records.len() as u64
        });
        let policy = Policy { journaled, ..policy };
        if let Some(r) = records.iter().find(|r| r.data.len() > MAX_RECORD_LEN) {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("record of {} bytes exceeds the format's limit", r.data.len()),
            ));
        }
        if first_id + records.len() as u64 > MAX_RECORDS_PER_DAY {
            return Err(Error::new(ErrorKind::TooLarge, format!("day {} is full", self.date)));
        }
        let mut before_index = Some(before_index);
        let mut rest = records;
        while !rest.is_empty() {
            // Records up to the next data-file boundary go in one write.
            let id = self.tail.count;
            let room = RECORDS_PER_DATA_FILE - id % RECORDS_PER_DATA_FILE;
            let n = rest.len().min(room as usize);
            let last = n == rest.len();
            self.append_run(vfs, &rest[..n], policy, targets, last, &mut before_index)?;
            rest = &rest[n..];
        }
        if let Some(group) = journaled
            && policy.durability == Durability::Batch
            && !policy.defer_sync
        {
            self.journaled.push(group.clone());
        }
        Ok(Appended { date: self.date, first_id, count: records.len() as u64 })
    }

    fn append_run(
        &mut self,
        vfs: &dyn Vfs,
        run: &[NewRecord<'_>],
        policy: Policy<'_>,
        targets: &SyncTargets,
        last: bool,
        before_index: &mut Option<&mut dyn FnMut() -> Result<()>>,
    ) -> Result<()> {
        let sync_now = policy.durability == Durability::Batch && !policy.defer_sync;
        // A carried group restores its data too: it waits as well (it is one run).
        let carried = sync_now && policy.journaled.is_some_and(IndexGroup::is_carried);
        // The journaled group restores these entries after a crash: the index waits. But a
        // group is restored whole or not at all, so the entries of a run before its last
        // (a group spanning two data files) are synced before the next run's data is
        // written: a crash there leaves the group unrestorable, and its first entries must
        // not be left as the disk happened to keep them.
        let sync_index = sync_now && (policy.journaled.is_none() || !last);
        let id = self.tail.count;
        let file_index = data_file_index(id);
        let data = self.data_file(vfs, file_index, policy.durability, targets)?;

        let dir = self.dir.clone();
        let data_path = || data_file_path(&dir, file_index);
        let index_path = || dir.join(INDEX_FILE);
        self.data_buf.clear();
        self.index_buf.clear();
        let mut offset = self.tail.next_offset;
        // Data is written in pieces of about WRITE_CHUNK: one multi-MiB write is several
        // times slower than a few 1 MiB ones (the page cache then works in huge pages), and
        // the buffer stays small. The index is still written once, after all of the data.
        let mut written = self.tail.next_offset;
        for r in run {
            self.index_buf.extend_from_slice(
                &IndexEntry { data_file_index: file_index, data_offset: offset as i64, data_type: r.ty }.encode(),
            );
            self.data_buf.extend_from_slice(&RecordHeader::new(r.time, r.data.len()).encode());
            self.data_buf.extend_from_slice(r.data);
            offset += (RECORD_HEADER_LEN + r.data.len()) as u64;
            if self.data_buf.len() >= WRITE_CHUNK {
                data.write_all_at(&self.data_buf, written).map_err(|e| Error::io(&data_path(), "write", e))?;
                written += self.data_buf.len() as u64;
                self.data_buf.clear();
            }
        }
        if !self.data_buf.is_empty() {
            data.write_all_at(&self.data_buf, written).map_err(|e| Error::io(&data_path(), "write", e))?;
        }
        if carried {
            // Written back now, a little at a time, the second's sync finds little to do.
            let start = self.tail.next_offset;
            if let Err(e) = data.start_writeback(start, offset - start) {
                tracing::debug!(error = %e, "sync_file_range failed (a hint only)");
            }
            self.carried = true;
        } else if sync_now {
            // Deferred appends' data in this file is synced with it; a file they left
            // behind by rolling over is synced here, before any index entry after it.
            self.sync_left_behind()?;
            data.sync_data().map_err(|e| Error::io(&data_path(), "sync", e))?;
        }
        if let Some(before_index) = before_index.take() {
            before_index()?;
        }
        self.index
            .write_all_at(&self.index_buf, id * INDEX_ENTRY_LEN as u64)
            .map_err(|e| Error::io(&index_path(), "write", e))?;
        if sync_index {
            self.index.sync_data().map_err(|e| Error::io(&index_path(), "sync", e))?;
        }
        // The data is synced, or carried (what waits is restored from the journal).
        self.dirty = !sync_now;
        self.tail.count += run.len() as u64;
        self.tail.next_offset = if self.tail.count.is_multiple_of(RECORDS_PER_DATA_FILE) { 0 } else { offset };
        if sync_index {
            self.synced = self.tail.count;
        }
        Ok(())
    }

    /// The data file for `file_index`, opening (and creating) it on first use.
    fn data_file(
        &mut self,
        vfs: &dyn Vfs,
        file_index: i16,
        durability: Durability,
        targets: &SyncTargets,
    ) -> Result<Arc<dyn StoreFile>> {
        if let Some((i, f)) = &self.data
            && *i == file_index
        {
            return Ok(f.clone());
        }
        if (self.dirty || self.carried)
            && let Some((i, old)) = self.data.take()
        {
            if let Durability::Interval(_) = durability {
                // The interval syncer moves on to the new file: the old one's last writes
                // are synced now, or they would never be.
                old.sync_data().map_err(|e| Error::io(&data_file_path(&self.dir, i), "sync", e))?;
            } else {
                self.dirty_old.push(old);
            }
        }
        let path = data_file_path(&self.dir, file_index);
        let created = !vfs.exists(&path);
        let f = vfs.open_write(&path).map_err(|e| Error::io(&path, "open", e))?;
        // Recovery cut the file that receives the next record; a later file can only hold
        // garbage from a crash during a previous rollover.
        let len = f.len().map_err(|e| Error::io(&path, "stat", e))?;
        if len > self.tail.next_offset {
            tracing::warn!(file = %path.display(), bytes = len - self.tail.next_offset, "cut stale bytes before the first append");
            f.set_len(self.tail.next_offset).map_err(|e| Error::io(&path, "truncate", e))?;
        }
        if created && durability != Durability::Never {
            vfs.sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, "sync", e))?;
        }
        self.data = Some((file_index, f.clone()));
        *targets.lock().unwrap_or_else(|p| p.into_inner()) = vec![f.clone(), self.index.clone()];
        Ok(f)
    }

    /// Syncs the files written since the last sync (data first, the index last).
    pub(crate) fn sync(&mut self) -> Result<()> {
        self.sync_left_behind()?;
        let index_path = self.dir.join(INDEX_FILE);
        match &self.data {
            // Everything unsynced is journaled (no deferred append wrote without a group):
            // the index may reach the disk before the data, which a restore puts back, so
            // both are synced side by side, in the time of one.
            Some((i, f)) if !self.dirty && !self.journaled.is_empty() => {
                let index = self.index.clone();
                let (data, index) = std::thread::scope(|s| {
                    let index = s.spawn(move || index.sync_data());
                    (f.sync_data(), index.join().unwrap_or_else(|_| Err(std::io::Error::other("index sync panicked"))))
                });
                data.map_err(|e| Error::io(&data_file_path(&self.dir, *i), "sync", e))?;
                index.map_err(|e| Error::io(&index_path, "sync", e))?;
            }
            Some((i, f)) => {
                f.sync_data().map_err(|e| Error::io(&data_file_path(&self.dir, *i), "sync", e))?;
                self.index.sync_data().map_err(|e| Error::io(&index_path, "sync", e))?;
            }
            None => self.index.sync_data().map_err(|e| Error::io(&index_path, "sync", e))?,
        }
        self.dirty = false;
        self.carried = false;
        self.synced = self.tail.count;
        self.journaled.clear();
        Ok(())
    }

    /// Records known to be on the disk, index entries included (see [`repair`](super::repair)).
    pub(crate) fn synced(&self) -> u64 {
        self.synced
    }

    /// The groups whose index entries wait for a sync, for a repair (see
    /// [`journaled`](DayWriter::append)).
    pub(crate) fn take_journaled(&mut self) -> Vec<IndexGroup> {
        std::mem::take(&mut self.journaled)
    }

    /// Whether index entries wait for a sync.
    pub(crate) fn index_waits(&self) -> bool {
        !self.journaled.is_empty()
    }

    fn sync_left_behind(&mut self) -> Result<()> {
        for f in &self.dirty_old {
            f.sync_data().map_err(|e| Error::io(&self.dir, "sync a data file of", e))?;
        }
        self.dirty_old.clear();
        Ok(())
    }
}
