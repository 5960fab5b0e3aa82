//! Exactly-once native ingest: the last batch stored per producer, kept in a journal.
//!
//! A producer (see [`crate::sdk`]) tags its batches with a random `producer_id` and a
//! growing `batch_seq`, and resends unacknowledged batches after a reconnect with their
//! original seq. The writer remembers, per producer, the last seq it stored and where that
//! batch landed; a batch whose seq is not above it is acknowledged without being stored
//! again.
//!
//! The table survives crashes in `<root>/.modsynclog/ingest.journal`, outside the day
//! folders (readers, replicas and the Go format only look at `YYYYMMDD` folders). Rules:
//!
//! - in every group commit the writer appends the group's entries (one write) **before**
//!   the data and index, and under `Durability::Batch` their sync (on a helper thread,
//!   while the data is written and synced) ends before the first index entry is written,
//!   so a batch that is in the store always has its entry;
//! - an append that fails is undone in the journal too (truncated back, or, if even that
//!   fails, the journal is rewritten from memory before the next write), but only once
//!   the store has cut the failed batch back (the writer's `settle_failed`): until then
//!   the entry stays, and a restart treats it as an entry over a batch not wholly stored;
//! - at start, an entry whose range is not wholly in the store (`count(date) < first_id +
//!   count`: the crash came between the journal write and the index write) is dropped, and
//!   the journal is rewritten at once, so a dropped entry cannot come back to life once
//!   later records fill those ids. An entry therefore never claims a batch that is not
//!   stored.
//!
//! The same file carries the store's index groups (see [`crate::store::index_group`]):
//! under `batch` each group commit writes one with its entries, and the index is synced
//! later. The journal keeps the groups written since the writer last synced the index
//! ([`Journal::index_synced`]) through every rewrite; [`Store::open`](crate::store::Store::open)
//! restores index entries from them before this table is loaded.
//!
//! The journal is bounded: when it grows past [`COMPACT_AT`] (under `batch`, [`CYCLE`];
//! or twice its compacted size) it is rewritten with one entry per producer and the
//! groups still needed, and at most [`MAX_PRODUCERS`] producers are remembered, the least
//! recently seen evicted.
//!
//! A rewrite goes into `ingest.journal.next` (synced), which is then swapped with the
//! journal in one step (`renameat2(RENAME_EXCHANGE)`; a plain rename where the file system
//! has no exchange), and the folder synced. The old journal stays as the next rewrite's
//! file: its blocks are written already, so once the journal has cycled twice, frames
//! overwrite old bytes instead of growing a file, and an `fdatasync` of them needs no
//! file-system journal commit. Each rewrite takes a new *epoch*, which every frame's
//! checksum covers ([`journal_file::MAGIC_V3`]): the old bytes after the frames fail it.
//! Under `batch` small groups also carry their data in their frames
//! ([`Journal::may_carry`], carried groups in [`crate::store::index_group`]), at most
//! [`CARRY_BUDGET`] bytes of them between two syncs of the index.
//!
//! File format: frames as [`crate::store::journal_file`] describes; a producer entry's
//! body is `u64 seq | 8 ASCII bytes YYYYMMDD | u64 first_id | u64 count | producer id
//! bytes`. A torn or corrupt frame ends the journal.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};
use crate::store::io::{StoreFile, Vfs};
use crate::store::journal_file::{self, Frame, Frames, HEADER_V3, put_barrier_at, put_frame_at, put_header_v3};
pub use crate::store::journal_file::{JOURNAL_FILE, STATE_DIR};
use crate::store::sync_thread::SyncThread;
use crate::store::{Appended, Durability, IndexGroup};
/// The file a rewrite goes into, the previous journal once it is done.
const NEXT_FILE: &str = "ingest.journal.next";
/// What earlier versions rewrote through.
const OLD_TEMP_FILE: &str = "ingest.journal.tmp";
/// Bytes of carried groups' frames kept between two syncs of the index, at most (beyond
/// it groups are journaled without their data, and their append syncs the data).
pub const CARRY_BUDGET: usize = 8 << 20;
/// Longest `producer_id` accepted.
pub const MAX_PRODUCER_ID_LEN: usize = 128;
/// The journal is compacted when it grows past this (or twice its size after the last
/// compaction, whichever is larger).
pub const COMPACT_AT: u64 = 1 << 20;
/// [`COMPACT_AT`] under `batch`, where groups may carry their data: the size the two
/// journal files settle at, and one rewrite per this many bytes.
pub const CYCLE: u64 = 8 << 20;
/// Producers remembered at most; the least recently seen are forgotten first.
pub const MAX_PRODUCERS: usize = 10_000;
const BODY_FIXED: usize = 8 + 8 + 8 + 8;

/// Where a batch of a producer landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub producer: String,
    pub seq: u64,
    pub date: Date,
    pub first_id: u64,
    pub count: u64,
}

impl Entry {
    fn ack(&self) -> Appended {
        Appended { date: self.date, first_id: self.first_id, count: self.count }
    }

    fn encode(&self, epoch: u64, out: &mut Vec<u8>) {
        let mut body = Vec::with_capacity(BODY_FIXED + self.producer.len());
        body.extend_from_slice(&self.seq.to_le_bytes());
        body.extend_from_slice(self.date.folder_name().as_bytes());
        body.extend_from_slice(&self.first_id.to_le_bytes());
        body.extend_from_slice(&self.count.to_le_bytes());
        body.extend_from_slice(self.producer.as_bytes());
        put_frame_at(Frame::Producer(&body), Some(epoch), out);
    }

    /// One entry from the front of `b`: the entry and its encoded length, `None` when `b`
    /// does not start with a whole, valid entry.
    #[cfg(test)]
    fn decode(b: &[u8], epoch: u64) -> Option<(Entry, usize)> {
        match crate::store::journal_file::next_frame_at(b, Some(epoch))? {
            (Frame::Producer(body), used) => Some((Entry::decode_body(body)?, used)),
            (Frame::Group(_), _) => None,
        }
    }

    /// An entry from a producer frame's body.
    fn decode_body(body: &[u8]) -> Option<Entry> {
        if !(BODY_FIXED..=BODY_FIXED + MAX_PRODUCER_ID_LEN).contains(&body.len()) {
            return None;
        }
        let u64_at = |i: usize| u64::from_le_bytes(body[i..i + 8].try_into().expect("8 bytes"));
        let date = Date::from_folder_name(std::str::from_utf8(&body[8..16]).ok()?)?;
        let producer = String::from_utf8(body[BODY_FIXED..].to_vec()).ok()?;
        Some(Entry { producer, seq: u64_at(0), date, first_id: u64_at(16), count: u64_at(24) })
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    ack: Appended,
    /// Recency: larger is more recent.
    used: u64,
}

/// What [`Journal::open`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Valid entries read.
    pub entries: usize,
    /// Entries dropped because their batch is not (wholly) in the store.
    pub dropped: usize,
    /// Bytes after the last valid entry (a torn write), ignored.
    pub torn_bytes: u64,
    /// Producers remembered after loading.
    pub producers: usize,
    /// Index groups passed over (the store restored from them when it opened).
    pub groups: usize,
    /// Batches only partly in the store (a crash tore the index write): `(date, first_id)`.
    /// Never acknowledged, so the writer cuts the day back to `first_id` and the resent
    /// batch is stored whole, once.
    pub partial: Vec<(Date, u64)>,
}

/// The dedup table and its journal. Owned by the writer thread.
#[derive(Debug)]
pub struct Journal {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    path: PathBuf,
    durability: Durability,
    file: Arc<dyn StoreFile>,
    /// Under `Durability::Batch`: syncs what [`write`](Journal::write) wrote while the
    /// writer goes on with the data.
    syncer: Option<SyncThread>,
    len: u64,
    /// Length before the last [`write`](Journal::write), for [`abort`](Journal::abort).
    before_write: u64,
    /// The frames of the index groups written since the index was last synced
    /// ([`index_synced`](Journal::index_synced)): every rewrite keeps them.
    groups: Vec<u8>,
    /// Length of `groups` before the last write.
    groups_before_write: usize,
    /// The file holds group frames after its last barrier.
    groups_in_file: bool,
    /// The file may hold entries that are not true (a failed undo): rewrite it first.
    poisoned: bool,
    compact_at: u64,
    /// The epoch of the file's frames.
    epoch: u64,
    /// The highest epoch either file was seen or written with: the next is above it.
    highest_epoch: u64,
    max_producers: usize,
    table: HashMap<String, Slot>,
    clock: u64,
    unsynced: bool,
    last_sync: Instant,
    buf: Vec<u8>,
}

impl Journal {
    /// Loads `<root>/.modsynclog/ingest.journal` (creating it if missing), keeps the
    /// entries whose range `count` (records per day in the store) confirms, and rewrites
    /// the file with them.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        root: &Path,
        durability: Durability,
        count: impl Fn(Date) -> Result<u64>,
    ) -> Result<(Journal, LoadReport)> {
        Self::open_with(vfs, root, durability, MAX_PRODUCERS, count)
    }

    /// [`open`](Journal::open) with a different producer limit (tests).
    pub fn open_with(
        vfs: Arc<dyn Vfs>,
        root: &Path,
        durability: Durability,
        max_producers: usize,
        count: impl Fn(Date) -> Result<u64>,
    ) -> Result<(Journal, LoadReport)> {
        let dir = root.join(STATE_DIR);
        let path = dir.join(JOURNAL_FILE);
        if !vfs.exists(&dir) {
            vfs.create_dir_all(&dir).map_err(|e| Error::io(&dir, "create", e))?;
            if durability != Durability::Never {
                vfs.sync_dir(root).map_err(|e| Error::io(root, "sync", e))?;
            }
        }
        let mut report = LoadReport::default();
        let mut table = HashMap::new();
        let mut clock = 0;
        let mut journal_epoch = None;
        if let Some(bytes) = journal_file::read(vfs.as_ref(), &path)? {
            let len = bytes.len() as u64;
            let mut at = 0;
            journal_epoch = journal_file::file_epoch(&bytes);
            if let Some(mut frames) = Frames::new(&bytes) {
                let mut counts: HashMap<Date, u64> = HashMap::new();
                // The same walk as the store's restore: both stop where the frames end.
                for frame in frames.by_ref() {
                    let entry = match frame {
                        Frame::Producer(body) => match Entry::decode_body(body) {
                            Some(entry) => entry,
                            None => {
                                // Its checksum holds, so no torn write made it: skipped
                                // like a group that does not decode, not an end.
                                tracing::warn!("ingest journal: a producer entry that does not decode; skipped");
                                continue;
                            }
                        },
                        Frame::Group(_) => {
                            report.groups += 1;
                            continue;
                        }
                    };
                    report.entries += 1;
                    let have = match counts.get(&entry.date) {
                        Some(n) => *n,
                        None => *counts.entry(entry.date).or_insert(count(entry.date)?),
                    };
                    if have < entry.first_id.saturating_add(entry.count) {
                        report.dropped += 1;
                        if entry.first_id < have {
                            report.partial.push((entry.date, entry.first_id));
                        }
                        continue;
                    }
                    clock += 1;
                    table.insert(entry.producer.clone(), Slot { seq: entry.seq, ack: entry.ack(), used: clock });
                }
                at = frames.end();
            } else if !bytes.is_empty() {
                tracing::warn!(file = %path.display(), "not an ingest journal; starting with an empty one");
            }
            // What follows the frames of a reused file is its older use's: not torn bytes,
            // and not told apart from them.
            report.torn_bytes = if journal_epoch.is_some() { 0 } else { len - at as u64 };
        }
        let syncer = match durability {
            Durability::Batch => Some(
                SyncThread::spawn("msl-journal-sync").map_err(|e| Error::io(&path, "start a sync thread for", e))?,
            ),
            Durability::Never | Durability::Interval(_) => None,
        };
        // Every epoch either file holds frames of is below the next one.
        let next_epoch = read_epoch(vfs.as_ref(), &dir.join(NEXT_FILE))?;
        let old_temp = dir.join(OLD_TEMP_FILE);
        if vfs.exists(&old_temp) {
            // Left by a version that rewrote through a temporary file.
            vfs.remove_file(&old_temp).map_err(|e| Error::io(&old_temp, "remove", e))?;
        }
        let highest_epoch = journal_epoch.max(next_epoch).unwrap_or(0);
        let mut journal = Journal {
            file: vfs.open_write(&path).map_err(|e| Error::io(&path, "open", e))?,
            syncer,
            vfs,
            dir,
            path,
            durability,
            len: 0,
            before_write: 0,
            groups: Vec::new(),
            groups_before_write: 0,
            groups_in_file: false,
            poisoned: false,
            compact_at: COMPACT_AT,
            epoch: 0,
            highest_epoch,
            max_producers: max_producers.max(1),
            table,
            clock,
            unsynced: false,
            last_sync: Instant::now(),
            buf: Vec::new(),
        };
        journal.evict();
        journal.rewrite()?;
        report.producers = journal.table.len();
        if report.dropped > 0 || report.torn_bytes > 0 {
            tracing::warn!(
                dropped = report.dropped,
                torn_bytes = report.torn_bytes,
                "ingest journal: dropped entries of batches that never reached the store"
            );
        }
        Ok((journal, report))
    }

    /// The last batch stored for `producer`: its seq and where it landed.
    pub fn last(&self, producer: &str) -> Option<(u64, Appended)> {
        self.table.get(producer).map(|s| (s.seq, s.ack))
    }

    pub fn producers(&self) -> usize {
        self.table.len()
    }

    /// Every remembered producer with its last seq and batch, least recently seen first
    /// (the fuzz targets compare the table across a reopen; see [`crate::fuzzing`]).
    pub(crate) fn remembered(&self) -> Vec<(String, u64, Appended)> {
        let mut slots: Vec<(&String, &Slot)> = self.table.iter().collect();
        slots.sort_unstable_by_key(|(_, s)| s.used);
        slots.into_iter().map(|(p, s)| (p.clone(), s.seq, s.ack)).collect()
    }

    /// Current size of the journal file.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len <= HEADER_V3 as u64
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entries` and the store's `group`, if any (one write), before their batches
    /// are appended to the store; under `Durability::Batch` it starts their sync, which
    /// [`wait_synced`](Journal::wait_synced) waits for. Follow with `wait_synced` and
    /// [`confirm`](Journal::confirm), or with [`abort`](Journal::abort).
    pub fn write(&mut self, entries: &[Entry], group: Option<&IndexGroup>) -> Result<()> {
        if self.poisoned {
            self.rewrite()?;
        }
        self.before_write = self.len;
        self.groups_before_write = self.groups.len();
        if entries.is_empty() && group.is_none() {
            return Ok(());
        }
        self.buf.clear();
        for e in entries {
            e.encode(self.epoch, &mut self.buf);
        }
        if let Some(group) = group {
            let mut body = Vec::new();
            group.encode(&mut body);
            let start = self.buf.len();
            put_frame_at(Frame::Group(&body), Some(self.epoch), &mut self.buf);
            self.groups.extend_from_slice(&self.buf[start..]);
            self.groups_in_file = true;
        }
        let result = self.file.write_all_at(&self.buf, self.len).map_err(|e| Error::io(&self.path, "write", e));
        match result {
            Ok(()) => {
                self.len += self.buf.len() as u64;
                match &self.syncer {
                    Some(syncer) => syncer.start(self.file.clone()),
                    None => self.unsynced = true,
                }
                Ok(())
            }
            Err(e) => {
                // Part of the write may be there: cut it (or rewrite before the next one).
                self.len += self.buf.len() as u64;
                self.abort();
                Err(e)
            }
        }
    }

    /// Waits for the sync that [`write`](Journal::write) started (under `Durability::Batch`):
    /// the entries are on the disk when it returns `Ok`. At once when none runs. After a
    /// failed sync the file is not trusted again (a later sync of it may report success
    /// for writes the kernel dropped): the next write replaces it.
    pub fn wait_synced(&mut self) -> Result<()> {
        let Some(syncer) = &self.syncer else { return Ok(()) };
        syncer.wait().map_err(|e| {
            self.poisoned = true;
            Error::io(&self.path, "sync", e)
        })
    }

    /// Whether the next write or confirm rewrites the file (a compaction, or repairing a
    /// failed write), which syncs.
    pub(crate) fn needs_rewrite(&self) -> bool {
        self.poisoned || self.len > self.compact_at
    }

    /// Whether a group may carry its data in the journal now (see the module docs): under
    /// `batch`, within [`CARRY_BUDGET`].
    pub fn may_carry(&self) -> bool {
        self.durability == Durability::Batch && self.groups.len() < CARRY_BUDGET
    }

    /// The batches of the last [`write`](Journal::write) are in the store: remember them.
    /// Its sync must have been waited for ([`wait_synced`](Journal::wait_synced)).
    pub fn confirm(&mut self, entries: Vec<Entry>) {
        // Not reached from the writer, which waits first. Still, should the sync have
        // failed, no entry stands on it: the file is poisoned and rewritten below.
        let _ = self.wait_synced();
        for e in entries {
            self.clock += 1;
            let slot = Slot { seq: e.seq, ack: e.ack(), used: self.clock };
            self.table.insert(e.producer, slot);
        }
        if self.table.len() > self.max_producers + self.max_producers / 10 {
            self.evict();
            self.poisoned = true; // not wrong, but the file should shrink with the table
        }
        if self.needs_rewrite()
            && let Err(e) = self.rewrite()
        {
            tracing::error!(error = %e, "cannot compact the ingest journal; it keeps growing");
            self.compact_at = self.len.saturating_mul(2);
        }
    }

    /// The store synced its index: the groups written so far are no longer needed. They
    /// leave the file with its next rewrite; until then a barrier after them (written,
    /// synced with the next entries) spares a restart walking their data again.
    pub fn index_synced(&mut self) {
        self.groups.clear();
        self.groups_before_write = 0;
        if !std::mem::take(&mut self.groups_in_file) {
            return;
        }
        self.buf.clear();
        put_barrier_at(self.epoch, &mut self.buf);
        match self.file.write_all_at(&self.buf, self.len) {
            Ok(()) => {
                self.len += self.buf.len() as u64;
                self.before_write = self.len;
            }
            // Harmless to restore from, but the file may now end in a torn frame.
            Err(e) => {
                tracing::warn!(error = %e, file = %self.path.display(), "cannot mark the journal's groups done; it will be rewritten");
                self.poisoned = true;
            }
        }
    }

    /// The store append of the last [`write`](Journal::write) failed: take the entries back.
    pub fn abort(&mut self) {
        // The entries are taken back whatever their sync says; it must end before the cut.
        let _ = self.wait_synced();
        self.groups.truncate(self.groups_before_write);
        if self.len == self.before_write {
            return;
        }
        // Zeroes over what was written, the file's size kept (a reused file's blocks are
        // what makes its syncs cheap): a zero word ends the frames.
        let zeroes = vec![0u8; (self.len - self.before_write) as usize];
        let undo = self
            .file
            .write_all_at(&zeroes, self.before_write)
            .and_then(|()| if self.durability == Durability::Batch { self.file.sync_data() } else { Ok(()) });
        match undo {
            Ok(()) => self.len = self.before_write,
            Err(e) => {
                tracing::error!(error = %e, file = %self.path.display(), "cannot undo the ingest journal; it will be rewritten");
                self.poisoned = true;
            }
        }
    }

    /// Syncs the journal if it has unsynced entries and `Durability::Interval` says so
    /// (`force`: whatever the interval).
    pub fn sync_if_due(&mut self, force: bool) -> Result<()> {
        let due = match self.durability {
            Durability::Interval(every) => force || self.last_sync.elapsed() >= every,
            Durability::Batch => force,
            Durability::Never => false,
        };
        if self.unsynced && due {
            self.file.sync_data().map_err(|e| Error::io(&self.path, "sync", e))?;
            self.unsynced = false;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Forgets the least recently seen producers beyond the limit.
    fn evict(&mut self) {
        if self.table.len() <= self.max_producers {
            return;
        }
        let mut used: Vec<u64> = self.table.values().map(|s| s.used).collect();
        used.sort_unstable();
        let cutoff = used[used.len() - self.max_producers];
        let before = self.table.len();
        self.table.retain(|_, s| s.used >= cutoff);
        tracing::info!(forgotten = before - self.table.len(), "ingest journal: forgot the least recent producers");
    }

    /// Replaces the file with one entry per remembered producer (oldest first) and the
    /// groups still needed, under a new epoch, atomically (see the module docs).
    fn rewrite(&mut self) -> Result<()> {
        let epoch = self.highest_epoch.saturating_add(1).max(unix_nanos());
        let mut slots: Vec<(&String, &Slot)> = self.table.iter().collect();
        slots.sort_unstable_by_key(|(_, s)| s.used);
        self.buf.clear();
        put_header_v3(epoch, &mut self.buf);
        for (producer, s) in slots {
            let entry = Entry {
                producer: producer.clone(),
                seq: s.seq,
                date: s.ack.date,
                first_id: s.ack.first_id,
                count: s.ack.count,
            };
            entry.encode(epoch, &mut self.buf);
        }
        // The groups' frames, checksummed again under the new epoch.
        let mut groups = Vec::with_capacity(self.groups.len());
        let mut at = 0;
        while let Some((frame, used)) = journal_file::next_frame_at(&self.groups[at..], Some(self.epoch)) {
            put_frame_at(frame, Some(epoch), &mut groups);
            at += used;
        }
        debug_assert_eq!(at, self.groups.len(), "the groups' frames are whole");
        self.buf.extend_from_slice(&groups);
        let sync = self.durability != Durability::Never;
        let next = self.dir.join(NEXT_FILE);
        // Overwritten from its start, not truncated: its written blocks are the point.
        let file = self.vfs.open_write(&next).map_err(|e| Error::io(&next, "open", e))?;
        self.highest_epoch = epoch;
        file.write_all_at(&self.buf, 0).map_err(|e| Error::io(&next, "write", e))?;
        if sync {
            file.sync_data().map_err(|e| Error::io(&next, "sync", e))?;
        }
        drop(file);
        let exchanged = match self.vfs.exists(&self.path) {
            true => self.vfs.exchange(&next, &self.path),
            false => Err(std::io::ErrorKind::NotFound.into()),
        };
        match exchanged {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::Unsupported) => {
                self.vfs.rename(&next, &self.path).map_err(|e| Error::io(&self.path, "replace", e))?;
            }
            Err(e) => return Err(Error::io(&self.path, "swap with its next file", e)),
        }
        if sync {
            self.vfs.sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, "sync", e))?;
        }
        self.file = self.vfs.open_write(&self.path).map_err(|e| Error::io(&self.path, "open", e))?;
        self.epoch = epoch;
        self.groups_in_file = !groups.is_empty();
        self.groups = groups;
        self.len = self.buf.len() as u64;
        self.before_write = self.len;
        self.poisoned = false;
        self.unsynced = false;
        // The threshold of a compaction, before the snapshot's own size counts.
        let cycle = if self.durability == Durability::Batch { CYCLE } else { COMPACT_AT };
        self.compact_at = cycle.max(self.len.saturating_mul(2));
        Ok(())
    }
}

/// Nanoseconds since the Unix epoch: a rewrite's epoch is never below it, so that bytes a
/// crash left under an epoch no file's header names any more still fail the checksums.
fn unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The epoch in the header of the journal file at `path`, if it is one of [`MAGIC_V3`](journal_file::MAGIC_V3).
fn read_epoch(vfs: &dyn Vfs, path: &Path) -> Result<Option<u64>> {
    if !vfs.exists(path) {
        return Ok(None);
    }
    let f = vfs.open_read(path).map_err(|e| Error::io(path, "open", e))?;
    let mut header = [0u8; HEADER_V3];
    match f.read_exact_at(&mut header, 0) {
        Ok(()) => Ok(journal_file::file_epoch(&header)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(Error::io(path, "read", e)),
    }
}

/// Checks a wire `producer_id` (empty means none): at most [`MAX_PRODUCER_ID_LEN`] bytes.
pub fn check_producer_id(id: &str) -> Result<()> {
    if id.len() > MAX_PRODUCER_ID_LEN {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("producer_id of {} bytes exceeds {MAX_PRODUCER_ID_LEN}", id.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod cycle_tests;
#[cfg(test)]
mod tests;
