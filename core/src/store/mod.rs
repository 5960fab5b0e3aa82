//! The store: a folder of day folders in the original's format, with one writer.
//!
//! [`Store`] is the writer. It holds an exclusive lock on the root folder (`flock`, so a
//! second writer, in this process or another, gets a `Conflict` error instead of
//! interleaving records), keeps the current day open, appends batches, marks days
//! finished and tells in-process readers about every change through a [`Signal`].
//! Reading needs no `Store`: see [`crate::reader::Reader`].

pub mod cursor;
pub mod day;
pub mod durability;
pub mod faults;
pub mod format;
pub mod index_group;
pub mod io;
pub mod journal_file;
pub mod notify;
#[cfg(feature = "server")]
mod plain_append;
pub mod power_loss;
mod recovery;
mod recovery_mode;
mod repair;
#[cfg(feature = "server")]
pub(crate) mod shared;
#[cfg(feature = "server")]
pub(crate) mod sync_thread;
pub mod verify;
mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use durability::Durability;
pub use index_group::IndexGroup;
pub use notify::{Head, Signal};
pub use recovery_mode::Recovery;
pub use writer::{Appended, NewRecord};

use durability::{IntervalSyncer, SyncTargets};
use format::FINISH_FILE;
use io::{StdVfs, Vfs};
use repair::Repair;
use writer::DayWriter;

use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};

/// How a [`Store`] is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub durability: Durability,
    pub vfs: Arc<dyn Vfs>,
    /// What opening does about damage in unfinished days (see [`Recovery`]).
    pub recovery: Recovery,
    /// Some appends are answered before their fsync ([`Store::append_deferred`]): opening
    /// then checks unfinished days whole under `batch` too, as under `interval`.
    pub deferred_appends: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::default(),
            vfs: Arc::new(StdVfs),
            recovery: Recovery::default(),
            deferred_appends: false,
        }
    }
}

/// The single writer of a store folder.
pub struct Store {
    root: PathBuf,
    opts: StoreOptions,
    current: Option<DayWriter>,
    /// A day whose writer was dropped after a failed write or fsync: repaired (see
    /// [`repair`]) before the store does anything else.
    repair: Option<Repair>,
    signal: Arc<Signal>,
    targets: SyncTargets,
    _syncer: Option<IntervalSyncer>,
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).field("durability", &self.opts.durability).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `root` for writing.
    pub fn open(root: impl AsRef<Path>, opts: StoreOptions) -> Result<Store> {
        let root = root.as_ref().to_path_buf();
        if !opts.vfs.exists(&root) {
            opts.vfs.create_dir_all(&root).map_err(|e| Error::io(&root, "create store folder", e))?;
            // A new folder's entry must be on the disk before the first record relies on it.
            if let Some(parent) = root.parent().filter(|_| opts.durability != Durability::Never) {
                opts.vfs.sync_dir(parent).map_err(|e| Error::io(parent, "sync", e))?;
            }
        }
        let lock = File::open(&root).map_err(|e| Error::io(&root, "open", e))?;
        lock.try_lock().map_err(|e| {
            Error::new(ErrorKind::Conflict, format!("{}: another writer holds this store ({e})", root.display()))
        })?;
        let targets: SyncTargets = Arc::default();
        let syncer = match opts.durability {
            Durability::Interval(every) => Some(
                IntervalSyncer::start(every, targets.clone())
                    .map_err(|e| Error::io(&root, "start fsync thread for", e))?,
            ),
            _ => None,
        };
        let mut store = Store {
            root,
            opts,
            current: None,
            repair: None,
            signal: Arc::default(),
            targets,
            _syncer: syncer,
            _lock: lock,
        };
        // Before any day is recovered: recovery cuts data that no index entry points at.
        store.restore_journaled_groups()?;
        store.recover_open_days()?;
        // What recovery left is published: feeders serve no more than the head, and a
        // first append that fails must not show its records to them.
        let days = store.days()?;
        if let Some(&last) = days.last() {
            let count = store.count(last)?;
            store.signal.publish(Some((last, count)));
        }
        // A day before the last one left open (the writer's finish grace) takes late records.
        if let [.., before, _] = days[..]
            && !store.is_finished(before)
        {
            let count = store.count(before)?;
            store.signal.publish_late(before, count);
        }
        Ok(store)
    }

    /// Puts back, from the index groups in the journal, index entries that were written
    /// but not synced when the power went (see [`index_group`]), and syncs the index of
    /// every day a group names: the writer's journal drops the groups when it reopens.
    fn restore_journaled_groups(&mut self) -> Result<()> {
        let vfs = self.opts.vfs.clone();
        let groups = journal_file::read_groups(vfs.as_ref(), &self.root)?;
        let mut days = std::collections::BTreeSet::new();
        // A carried group's data may be in the page cache only (a kill -9 before the data
        // files' sync): synced below, since the reopened journal drops the groups.
        let mut carried = std::collections::BTreeSet::new();
        for g in &groups {
            if g.is_carried() {
                carried.insert((g.date, format::data_file_index(g.first_id)));
            }
            let (date, first_id, count) = (g.date, g.first_id, g.count());
            match index_group::restore(vfs.as_ref(), &self.root, g)? {
                index_group::Restored::Whole | index_group::Restored::Skipped => {}
                index_group::Restored::Rewrote { from, count } => {
                    tracing::warn!(%date, from, count, "restored from the journal: index entries a crash left unwritten or damaged");
                }
                index_group::Restored::NotOnDisk(why) => {
                    // Its data was not synced, so it was never acknowledged.
                    tracing::info!(%date, first_id, count, %why, "a group the crash interrupted is not restored");
                }
                index_group::Restored::Gap { have } => {
                    let what = format!(
                        "day {date}: the index ends at record {have}, before journaled records {first_id}..{}",
                        first_id + count
                    );
                    if self.opts.recovery == Recovery::Strict {
                        return Err(Error::new(ErrorKind::Corrupt, format!("{what}; not opened (recovery: strict)")));
                    }
                    tracing::error!("{what}: records were lost");
                }
            }
            days.insert(date);
        }
        if self.opts.durability != Durability::Never {
            for (date, file_index) in carried {
                let dir = day::day_dir(&self.root, date);
                let path = format::data_file_path(&dir, file_index);
                if vfs.exists(&path) && !self.is_finished(date) {
                    let data = vfs.open_write(&path).map_err(|e| Error::io(&path, "open", e))?;
                    data.sync_data().map_err(|e| Error::io(&path, "sync", e))?;
                    vfs.sync_dir(&dir).map_err(|e| Error::io(&dir, "sync", e))?;
                }
            }
            for date in days {
                let path = day::day_dir(&self.root, date).join(format::INDEX_FILE);
                if vfs.exists(&path) && !self.is_finished(date) {
                    let index = vfs.open_write(&path).map_err(|e| Error::io(&path, "open", e))?;
                    index.sync_data().map_err(|e| Error::io(&path, "sync", e))?;
                }
            }
        }
        Ok(())
    }

    /// Repairs every day without `finish` now, at open, so that counts are right at once
    /// and repairs are logged at start-up. The latest day stays open for appending.
    fn recover_open_days(&mut self) -> Result<()> {
        for date in self.days()? {
            if !self.is_finished(date) {
                self.check_whole_day(date)?;
                self.current = Some(DayWriter::open(self.opts.vfs.as_ref(), &self.root, date, self.opts.durability)?);
            }
        }
        Ok(())
    }

    /// Under `strict`, and under `never`/`interval` (where a power loss can leave any
    /// unsynced page as zeroes, not only the last), checks every record of an unfinished
    /// day: `strict` refuses any damage; `tail` cuts the day back to its first damaged
    /// record (later records cannot be trusted to be what was written either).
    fn check_whole_day(&mut self, date: Date) -> Result<()> {
        let strict = self.opts.recovery == Recovery::Strict;
        if !strict && self.opts.durability == Durability::Batch && !self.opts.deferred_appends {
            return Ok(());
        }
        let count = day::record_count(self.opts.vfs.as_ref(), &self.root, date)?;
        tracing::info!(%date, records = count, "checking every record of the unfinished day");
        let report = verify::verify_day(self.opts.vfs.as_ref(), &self.root, date)?;
        let Some(problem) = report.problem else { return Ok(()) };
        let at = problem.id.map(|id| format!(", record {id}")).unwrap_or_default();
        if strict {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!(
                    "{}: day {date}{at}: {}; not opened (recovery: strict; `verify` shows the damage, \
                     recovery `tail` repairs it)",
                    self.root.display(),
                    problem.what
                ),
            ));
        }
        if let Some(id) = problem.id.filter(|&id| id < count) {
            let cut = self.cut_back(date, id)?;
            tracing::warn!(%date, id, cut, problem = %problem.what, "recovered: cut the day back to its first damaged record");
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn durability(&self) -> Durability {
        self.opts.durability
    }

    /// The file system the store works through.
    pub fn vfs(&self) -> Arc<dyn Vfs> {
        self.opts.vfs.clone()
    }

    /// Appends a batch to `date`; returns where it landed. An empty batch is a no-op.
    pub fn append(&mut self, date: Date, records: &[NewRecord<'_>]) -> Result<Appended> {
        self.append_checked(date, None, records, false, None, &mut || Ok(()))
    }

    /// [`append`](Store::append), or with `defer_sync` [`append_deferred`](Store::append_deferred),
    /// of a batch that must start at id `first_id` (`Conflict`, nothing written, when the
    /// day does not end there: the caller's journal entries name these ids), calling
    /// `before_index` once the batch's data is written (and synced, if the policy
    /// syncs this append) and before any of its index entries is: what must be on the disk
    /// before the records can count as stored (the server's ingest journal) is waited for
    /// there, while the data is written. An error from it fails the append like an I/O
    /// error. It is not called for an empty batch, nor when the append fails before.
    pub fn append_ordered(
        &mut self,
        date: Date,
        first_id: u64,
        records: &[NewRecord<'_>],
        defer_sync: bool,
        before_index: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Appended> {
        self.append_checked(date, Some(first_id), records, defer_sync, None, before_index)
    }

    /// The [`IndexGroup`] of appending `records` to `date` now, under `batch` (`None`
    /// otherwise, or when the day's index cannot wait: see [`append_journaled`](Store::append_journaled)).
    pub fn plan_group(&mut self, date: Date, records: &[NewRecord<'_>]) -> Result<Option<IndexGroup>> {
        self.plan(date, records, false)
    }

    /// [`plan_group`](Store::plan_group), carrying the records' bytes when the group may
    /// carry them (see [`index_group`]): its append then syncs neither data nor index, and
    /// the caller's journal, synced, is all that holds the group before the next
    /// [`sync`](Store::sync).
    pub fn plan_carried_group(&mut self, date: Date, records: &[NewRecord<'_>]) -> Result<Option<IndexGroup>> {
        self.plan(date, records, true)
    }

    fn plan(&mut self, date: Date, records: &[NewRecord<'_>], carry: bool) -> Result<Option<IndexGroup>> {
        if self.opts.durability != Durability::Batch {
            return Ok(None);
        }
        self.repair_pending()?;
        Ok(self.writer(date)?.plan_group(records, carry))
    }

    /// [`append_ordered`](Store::append_ordered) (not deferred) of the records `group` was
    /// planned for, whose data is synced but whose index entries are not: the caller has
    /// written `group` to the journal (see [`journal_file`]), and it is on the disk by the
    /// time `before_index` returns. After a crash [`Store::open`] restores the entries from
    /// it. The index is synced by the next [`sync`](Store::sync) (or `finish`, or a switch
    /// of day); until then the groups must stay in the journal. The batch must start at
    /// the group's first id (`Conflict`, nothing written, otherwise); the append falls back
    /// to syncing the index when `group` is not the plan for it in other ways.
    pub fn append_journaled(
        &mut self,
        date: Date,
        records: &[NewRecord<'_>],
        group: &IndexGroup,
        before_index: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Appended> {
        self.append_checked(date, Some(group.first_id), records, false, Some(group), before_index)
    }

    /// Whether index entries appended by [`append_journaled`](Store::append_journaled)
    /// wait for a [`sync`](Store::sync).
    pub fn index_waits(&self) -> bool {
        self.repair.is_some() || self.current.as_ref().is_some_and(|w| w.index_waits())
    }

    /// [`append`](Store::append) without waiting for the disk, even under
    /// [`Durability::Batch`]: the records are written (a crash of the process cannot lose
    /// them, a power loss can) and reach the disk with the next `append`, [`sync`](Store::sync)
    /// or the day's end, whichever comes first. Under `batch`, those sync the deferred
    /// records' data before any later index entry, so the store stays consistent.
    pub fn append_deferred(&mut self, date: Date, records: &[NewRecord<'_>]) -> Result<Appended> {
        self.append_checked(date, None, records, true, None, &mut || Ok(()))
    }

    /// Appends a batch that must start at id `first_id` (a replica copying a master).
    pub fn append_at(&mut self, date: Date, first_id: u64, records: &[NewRecord<'_>]) -> Result<Appended> {
        self.append_checked(date, Some(first_id), records, false, None, &mut || Ok(()))
    }

    fn append_checked(
        &mut self,
        date: Date,
        first_id: Option<u64>,
        records: &[NewRecord<'_>],
        defer_sync: bool,
        journaled: Option<&IndexGroup>,
        before_index: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Appended> {
        let (vfs, durability, targets) = (self.opts.vfs.clone(), self.opts.durability, self.targets.clone());
        self.repair_pending()?;
        let writer = self.writer(date)?;
        if writer.finished {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("day {date} is finished; nothing more can be appended"),
            ));
        }
        if let Some(expected) = first_id
            && writer.count() != expected
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "day {date} holds {} records; a batch starting at id {expected} does not follow",
                    writer.count()
                ),
            ));
        }
        if records.is_empty() {
            return Ok(Appended { date, first_id: writer.count(), count: 0 });
        }
        let before = writer.count();
        let policy = writer::Policy { durability, defer_sync, journaled };
        let result = writer.append(vfs.as_ref(), records, policy, &targets, before_index);
        match &result {
            Ok(a) => {
                let bytes = records.iter().map(|r| r.data.len() as u64).sum();
                self.signal.publish_append(date, a.first_id + a.count, a.count, bytes)
            }
            // Part of the batch may be in the files, and after a failed fsync nothing
            // written since the last good one can be trusted: cut it, check, rewrite.
            Err(_) => self.retire_current(Some(before)),
        }
        result
    }

    fn writer(&mut self, date: Date) -> Result<&mut DayWriter> {
        if self.current.as_ref().map(|w| w.date) != Some(date) {
            // Synced under every policy: the day may be finished later without its writer
            // (see `finish`), which must find it whole on the disk. Under `never` this is
            // once a day, or per switch while the writer files late records.
            if let Some(old) = self.current.as_mut()
                && let Err(e) = old.sync()
            {
                self.retire_current(None);
                return Err(e);
            }
            let opened = DayWriter::open(self.opts.vfs.as_ref(), &self.root, date, self.opts.durability)?;
            // Opening ran recovery, which may have cut a torn tail that readers cached.
            self.signal.publish_cut(date, opened.count());
            self.current = Some(opened);
        }
        Ok(self.current.as_mut().expect("set above"))
    }

    /// Cuts `date` back to its first `keep` records: the records of a batch that a crash
    /// left half-indexed, which were never acknowledged (see the ingest journal). The
    /// index and the data are truncated (synced unless `never`), a data file left empty is
    /// removed, and the day is reopened. Returns how many records were cut.
    pub fn cut_back(&mut self, date: Date, keep: u64) -> Result<u64> {
        self.repair_pending()?;
        if self.current.as_ref().is_some_and(|w| w.date == date) {
            self.sync()?;
            self.current = None;
        }
        let cut = repair::cut_day(self.opts.vfs.as_ref(), &self.root, date, keep, self.opts.durability)?;
        self.publish_cut(date);
        Ok(cut)
    }

    /// Records in `date` (0 if the day does not exist). After a failed append the day's
    /// files may hold more than that until the pending repair cuts them back: those
    /// records were never stored, and are not counted.
    pub fn count(&self, date: Date) -> Result<u64> {
        let n = match &self.current {
            Some(w) if w.date == date => w.count(),
            _ => day::record_count(self.opts.vfs.as_ref(), &self.root, date)?,
        };
        Ok(match &self.repair {
            Some(r) if r.date == date => n.min(r.keep),
            _ => n,
        })
    }

    /// Marks `date` finished: nothing more will be appended to it. The day folder (with an
    /// empty index) is created if it did not exist, as the original does.
    ///
    /// The day is synced first and the marker after it, under every policy (`never`
    /// included: once a day): opening a store checks only unfinished days, so a finished
    /// day must be whole on the disk whatever a power loss did.
    pub fn finish(&mut self, date: Date) -> Result<()> {
        let vfs = self.opts.vfs.clone();
        self.repair_pending()?;
        let dir = match &mut self.current {
            Some(w) if w.date == date => {
                if let Err(e) = w.sync() {
                    self.retire_current(None);
                    return Err(e);
                }
                w.dir().to_path_buf()
            }
            _ => {
                // Written by a writer since dropped (synced then, see `writer`); synced again
                // here, which costs nothing when it was, and covers a day written before a crash.
                let mut w = DayWriter::open(vfs.as_ref(), &self.root, date, self.opts.durability)?;
                w.sync()?;
                w.dir().to_path_buf()
            }
        };
        let path = dir.join(FINISH_FILE);
        if !vfs.exists(&path) {
            vfs.create_empty(&path).map_err(|e| Error::io(&path, "create", e))?;
            vfs.sync_dir(&dir).map_err(|e| Error::io(&dir, "sync", e))?;
        }
        if let Some(w) = self.current.as_mut().filter(|w| w.date == date) {
            w.finished = true;
        }
        self.signal.publish_finished(date);
        Ok(())
    }

    /// [`finish`](Store::finish) of a day that must hold exactly `records` (a replica
    /// finishing a day its master finished with that many): `Conflict`, and the day left
    /// open, when it holds another number once any pending repair has run.
    pub fn finish_at(&mut self, date: Date, records: u64) -> Result<()> {
        self.repair_pending()?;
        let have = self.count(date)?;
        if have != records {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("day {date} holds {have} records, not the {records} it is to be finished with"),
            ));
        }
        self.finish(date)
    }

    pub fn is_finished(&self, date: Date) -> bool {
        day::is_finished(self.opts.vfs.as_ref(), &self.root, date)
    }

    /// The days present, oldest first.
    pub fn days(&self) -> Result<Vec<Date>> {
        day::list_days(self.opts.vfs.as_ref(), &self.root)
    }

    /// Deletes a whole day folder (retention). The day being written cannot be removed.
    pub fn remove_day(&mut self, date: Date) -> Result<()> {
        if self.current.as_ref().map(|w| w.date) == Some(date) {
            return Err(Error::new(ErrorKind::Conflict, format!("day {date} is being written")));
        }
        let dir = day::day_dir(&self.root, date);
        self.opts.vfs.remove_dir_all(&dir).map_err(|e| Error::io(&dir, "remove", e))?;
        self.signal.publish(None);
        Ok(())
    }

    /// Flushes the open files to stable storage, whatever the policy.
    ///
    /// A failed sync is never retried on the same files (the kernel may have dropped the
    /// pages it could not write and report the next sync as a success): the day's writer
    /// is dropped and the day repaired before the store does anything else (see
    /// [`repair`]), which rewrites and syncs what was not known to be on the disk.
    pub fn sync(&mut self) -> Result<()> {
        self.repair_pending()?;
        let result = match &mut self.current {
            Some(w) => w.sync(),
            None => Ok(()),
        };
        if result.is_err() {
            self.retire_current(None);
        }
        result
    }

    /// Drops the open day writer after a failure; its day is repaired before the next
    /// operation, keeping `keep` records (all of them when `None`).
    fn retire_current(&mut self, keep: Option<u64>) {
        if let Some(mut w) = self.current.take() {
            let keep = keep.unwrap_or(w.count());
            let groups = w.take_journaled();
            self.repair = Some(Repair { date: w.date, synced: w.synced().min(keep), keep, groups });
        }
    }

    /// Runs the pending repair, if any; it stays pending while it fails.
    fn repair_pending(&mut self) -> Result<()> {
        let Some(r) = self.repair.clone() else { return Ok(()) };
        let date = r.date;
        repair::repair(self.opts.vfs.as_ref(), &self.root, self.opts.durability, r)?;
        self.repair = None;
        self.publish_cut(date);
        Ok(())
    }

    /// Tells readers that `date` was cut back, with the count it holds now (none, should
    /// its index not even be sized: nothing more of it is handed out until the next append
    /// publishes it again).
    fn publish_cut(&self, date: Date) {
        self.signal.publish_cut(date, self.count(date).unwrap_or(0));
    }

    /// Runs now the repair that a failed append or sync left pending (it runs anyway before
    /// the next operation): the day is cut back to its acknowledged records and synced.
    /// `Ok` at once when none is pending; it stays pending while it fails.
    pub fn repair_now(&mut self) -> Result<()> {
        self.repair_pending()
    }

    /// The in-process change signal, for readers and replica feeders.
    pub fn signal(&self) -> Arc<Signal> {
        self.signal.clone()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.opts.durability != Durability::Never
            && let Err(e) = self.sync()
        {
            tracing::error!(error = %e, "final sync failed");
        }
    }
}
