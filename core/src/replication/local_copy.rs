//! A replica's local store, the copy both sync protocols write into, and how a copied
//! batch reaches the disk.
//!
//! Under `batch` a copied batch is made durable as the server makes a group commit
//! durable (see [`crate::store::index_group`]): its index entries, and the batch's bytes
//! when it is small enough to be carried (up to 256 KiB within one data file), go into a
//! frame of the store's journal, `.modsynclog/ingest.journal` (the server's file and
//! format, with no producer entries), and the append returns once that frame alone is
//! synced. Once the journal has cycled that sync overwrites blocks the file already has,
//! so it needs no file-system journal commit, where a plain append needs two in a row
//! (data, then index, on files that grow). The data and index are synced within a second
//! ([`sync_index`](LocalCopy::sync_index), which [`with_index_sync`] calls), and after
//! a power loss opening the store restores from the journal what they had not kept. Other
//! policies append as before, without the journal.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::date::Date;
use crate::error::Result;
use crate::server::dedup::Journal;
use crate::store::shared::with_store;
use crate::store::{Appended, Durability, NewRecord, Store, StoreOptions};

/// How long index entries (and carried data) may wait in the journal for their sync.
pub(crate) const INDEX_SYNC_AFTER: Duration = Duration::from_secs(1);

/// The local store of a replica and, under `batch`, its journal.
#[derive(Debug)]
pub(crate) struct LocalCopy {
    store: Store,
    /// Under `batch` only.
    journal: Option<Journal>,
    /// Since when appended index entries wait in the journal for their sync.
    index_waits_since: Option<Instant>,
    /// A failed append left its frame in the journal: taken back once the store has cut
    /// the batch back (in the other order a crash between the two would restore it).
    abort_pending: bool,
}

impl LocalCopy {
    /// Opens the store at `dir` (restoring from its journal what a power loss took) and,
    /// under `batch`, its journal.
    pub(crate) fn open(dir: &std::path::Path, opts: StoreOptions) -> Result<LocalCopy> {
        let durability = opts.durability;
        let store = Store::open(dir, opts)?;
        let journal = match durability {
            Durability::Batch => Some(Journal::open(store.vfs(), dir, durability, |d| store.count(d))?.0),
            Durability::Never | Durability::Interval(_) => None,
        };
        Ok(LocalCopy { store, journal, index_waits_since: None, abort_pending: false })
    }

    /// The store, for what is not an append (counts, `finish_at`, retention).
    pub(crate) fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Appends a batch copied from the master, which must start at `first_id`
    /// ([`Store::append_at`]); durable when it returns, under `batch`, through the journal.
    pub(crate) fn append_at(&mut self, date: Date, first_id: u64, records: &[NewRecord<'_>]) -> Result<Appended> {
        self.settle_failed()?;
        let Some(journal) = self.journal.as_mut() else {
            return self.store.append_at(date, first_id, records);
        };
        let planned = match journal.may_carry() {
            true => self.store.plan_carried_group(date, records)?,
            false => self.store.plan_group(date, records)?,
        };
        // No plan (an empty batch, a day that cannot wait), or one at another id (the
        // append refuses it, naming the ids): the append of its own.
        let Some(group) = planned.filter(|g| g.first_id == first_id && !records.is_empty()) else {
            return self.store.append_at(date, first_id, records);
        };
        // On an error the journal has taken the frame back itself.
        journal.write(&[], Some(&group))?;
        let result = self
            .store
            .append_journaled(date, records, &group, &mut || journal.wait_synced())
            .and_then(|a| journal.wait_synced().map(|()| a));
        match result {
            Ok(appended) => {
                self.index_waits_since.get_or_insert_with(Instant::now);
                // A compaction keeps the groups still waiting: sync them first, so they go.
                // (The batch is on the disk whatever this sync does.)
                if journal.needs_rewrite()
                    && let Err(e) = self.sync_index(true)
                {
                    tracing::error!(error = %e, "replica: index sync failed; the day is repaired from the journal's groups");
                }
                if let Some(journal) = self.journal.as_mut() {
                    journal.confirm(Vec::new());
                }
                Ok(appended)
            }
            Err(e) => {
                self.abort_pending = true;
                if let Err(repair) = self.settle_failed() {
                    tracing::error!(error = %repair, "cannot repair the day after a failed append; retried before the next");
                }
                Err(e)
            }
        }
    }

    /// Syncs the index entries (and carried data) waiting in the journal once they waited
    /// [`INDEX_SYNC_AFTER`] (`force`: now); the journal then marks their groups done. A
    /// failed sync keeps them: the store repairs the day from its copy of the groups
    /// before it appends again, and the next call syncs.
    pub(crate) fn sync_index(&mut self, force: bool) -> Result<()> {
        let Some(since) = self.index_waits_since else { return Ok(()) };
        if !force && since.elapsed() < INDEX_SYNC_AFTER {
            return Ok(());
        }
        // A failed group's frame leaves the journal first: the barrier would keep it.
        self.settle_failed()?;
        // A finish or a switch of day may have synced the index already.
        if self.store.index_waits() {
            self.store.sync()?;
        }
        self.index_waits_since = None;
        if let Some(journal) = self.journal.as_mut() {
            journal.index_synced();
        }
        Ok(())
    }

    fn settle_failed(&mut self) -> Result<()> {
        if !self.abort_pending {
            return Ok(());
        }
        self.store.repair_now()?;
        if let Some(journal) = self.journal.as_mut() {
            journal.abort();
        }
        self.abort_pending = false;
        Ok(())
    }
}

/// Runs `work` (a replica's connections) while calling [`LocalCopy::sync_index`] on `copy`
/// every [`INDEX_SYNC_AFTER`], so that a replica gone quiet syncs what it appended last;
/// once `work` returns, syncs what still waits. Both run in the caller's task, so nothing
/// holds the store once this returns: the caller may reopen it at once.
pub(crate) async fn with_index_sync<T>(
    copy: &Arc<Mutex<LocalCopy>>,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let mut work = std::pin::pin!(work);
    let mut every = tokio::time::interval(INDEX_SYNC_AFTER);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = every.tick() => {
                if let Err(e) = with_store(copy, |copy| copy.sync_index(false)).await {
                    tracing::error!(error = %e, "replica: index sync failed; retried");
                }
            }
        }
    };
    if let Err(e) = with_store(copy, |copy| copy.sync_index(true)).await {
        tracing::error!(error = %e, "replica: index sync failed; the journal restores it at the next open");
    }
    result
}

#[cfg(test)]
mod tests;
