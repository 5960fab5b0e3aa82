//! A group commit: the jobs taken from the queue, filed under their days, deduplicated
//! against the ingest journal, appended with one store call per day, and acknowledged
//! each with its own range.

use std::collections::HashMap;
use std::time::Instant;

use super::{Ack, Job, Writer, gaps};
use crate::date::Date;
use crate::error::{Error, Result};
use crate::metrics::Source;
use crate::server::ack::AckWhen;
use crate::server::dedup::Entry;
use crate::store::{Appended, Durability, NewRecord};

/// What a job of a group comes to.
enum Plan {
    Store(Appended),
    Duplicate(Option<Appended>),
    /// An earlier batch of the same producer failed and was not resent yet, or the batch
    /// came on an older stream than the one that resent it.
    Refused(Error),
}

impl Writer {
    /// The day a batch asking for `day` is filed under: the late day when it asks for
    /// that, else the current day.
    pub(super) fn file_under(&mut self, day: Option<Date>, today: Date) -> Date {
        let newest = [self.open_day, self.late_day].into_iter().flatten().max();
        let current = match newest {
            // The clock went backwards: keep filing under the newest day rather than
            // reopening a day that may already be finished (or creating one replicas passed).
            Some(open) if open > today => {
                if !self.warned_backwards {
                    tracing::warn!(day = %open, %today, "the clock is behind the open day; records go to the open day");
                    self.warned_backwards = true;
                }
                open
            }
            _ => today,
        };
        match day {
            Some(day) if Some(day) == self.late_day && day < current => day,
            _ => current,
        }
    }

    /// Commits the jobs in queue order, one store call per run of jobs filed under the
    /// same day (a producer's batches must stay in order: a later seq stored first would
    /// make the earlier batch look like a resend).
    pub(super) fn commit_all(&mut self, jobs: &mut Vec<Job>, today: Date) {
        let mut run = Vec::with_capacity(jobs.len());
        let mut run_date = None;
        for job in jobs.drain(..) {
            let date = self.file_under(job.day, today);
            if let Some(prev) = run_date.filter(|&d| d != date) {
                self.commit(&mut run, prev);
            }
            run_date = Some(date);
            run.push(job);
        }
        if let Some(date) = run_date {
            self.commit(&mut run, date);
        }
    }

    /// Counts the records of the stored jobs by source and type.
    fn count_stored(&self, jobs: &[Job], plans: &[Plan]) {
        // (source, type) -> (records, bytes). A group holds few sources and types, and runs
        // of one type: the entry of the record before is checked first, so a record in such
        // a run costs a comparison.
        let mut counts: Vec<((Source, i16), u64, u64)> = Vec::new();
        let mut by_key: HashMap<(Source, i16), usize> = HashMap::new();
        let mut at = usize::MAX;
        for (job, _) in jobs.iter().zip(plans).filter(|(_, p)| matches!(p, Plan::Store(_))) {
            let source = job.ack.source;
            for (ty, data) in &job.batch {
                let key = (source, *ty);
                if counts.get(at).is_none_or(|c| c.0 != key) {
                    at = *by_key.entry(key).or_insert_with(|| {
                        counts.push((key, 0, 0));
                        counts.len() - 1
                    });
                }
                counts[at].1 += 1;
                counts[at].2 += data.len() as u64;
            }
        }
        for ((source, ty), records, bytes) in counts {
            self.metrics.stored(source, ty, records, bytes);
        }
    }

    /// Appends every job to `date` with one store call and acknowledges each with its own
    /// range.
    pub(super) fn commit(&mut self, jobs: &mut Vec<Job>, date: Date) {
        if jobs.is_empty() {
            return;
        }
        let now = self.clock.unix_seconds();
        let time = i32::try_from(now).unwrap_or(if now < 0 { i32::MIN } else { i32::MAX });
        // Nothing of the group is stored: each batch fails, and its producer's later
        // batches wait for it to be resent.
        let fail = |jobs: &mut Vec<Job>, gaps: &mut gaps::Gaps, e: &Error| {
            for Job { origin, ack, .. } in jobs.drain(..) {
                if let Some(o) = origin {
                    gaps.failed(&o, e);
                }
                let _ = ack.send(Err(Error::new(e.kind(), e.message().to_string())));
            }
        };
        if let Err(e) = self.settle_failed() {
            tracing::error!(error = %e, "the day is not repaired after a failed append; the group is refused");
            return fail(jobs, &mut self.gaps, &e);
        }

        // Where the day ends now (opening the day runs its recovery, so this is exact).
        let needs_store = jobs.iter().any(|job| match &job.origin {
            None => true,
            Some(o) => self.journal.last(&o.producer).is_none_or(|(seq, _)| o.seq > seq),
        });
        let mut next_id = 0;
        if needs_store {
            match self.store.append(date, &[]) {
                Ok(a) => next_id = a.first_id,
                Err(e) => {
                    tracing::error!(%date, error = %e, "cannot open the day");
                    return fail(jobs, &mut self.gaps, &e);
                }
            }
        }
        let first_id = next_id;

        // Decide, job by job (in queue order), what is stored and what is a resend.
        let mut plans = Vec::with_capacity(jobs.len());
        let mut entries = Vec::new();
        let (mut dup_batches, mut dup_records) = (0u64, 0u64);
        {
            let mut in_group: HashMap<&str, (u64, Appended)> = HashMap::new();
            for Job { batch, origin, .. } in jobs.iter() {
                let count = batch.len() as u64;
                if let Some(o) = origin {
                    if let Err(e) = self.gaps.check(o) {
                        plans.push(Plan::Refused(e));
                        continue;
                    }
                    let last = in_group.get(o.producer.as_str()).copied().or_else(|| self.journal.last(&o.producer));
                    if let Some((seq, ack)) = last
                        && o.seq <= seq
                    {
                        plans.push(Plan::Duplicate((o.seq == seq).then_some(ack)));
                        dup_batches += 1;
                        dup_records += count;
                        continue;
                    }
                    let ack = Appended { date, first_id: next_id, count };
                    in_group.insert(o.producer.as_str(), (o.seq, ack));
                    entries.push(Entry { producer: o.producer.clone(), seq: o.seq, date, first_id: next_id, count });
                }
                plans.push(Plan::Store(Appended { date, first_id: next_id, count }));
                next_id += count;
            }
        }
        if dup_batches > 0 {
            tracing::info!(
                dup_batches,
                dup_records,
                "resent batches were stored before; acknowledged, not stored again"
            );
        }

        let records: Vec<NewRecord<'_>> = jobs
            .iter()
            .zip(&plans)
            .filter(|(_, plan)| matches!(plan, Plan::Store(_)))
            .flat_map(|(Job { batch, .. }, _)| {
                batch.iter().map(|(ty, data)| NewRecord { time, ty: *ty, data: data.as_ref() })
            })
            .collect();
        // A group whose every batch may be answered once written skips the fsync (the
        // next durable group or tick syncs it first).
        let defer =
            self.store.durability() == Durability::Batch && jobs.iter().all(|job| job.ack.when == AckWhen::Written);
        // Under `batch`, the group's index entries, described by the data they point at:
        // with it in the journal the index need not be synced before the acknowledgement.
        // A small group carries its data too (within the journal's budget): it then waits
        // for the journal's sync alone.
        let planned = match defer {
            true => Ok(None),
            false if self.journal.may_carry() => self.store.plan_carried_group(date, &records),
            false => self.store.plan_group(date, &records),
        };
        let group = planned.unwrap_or_else(|e| {
            tracing::warn!(%date, error = %e, "no index group: this group syncs its index");
            None
        });

        // The journal first, then the records. Under `batch` the journal's sync runs on its
        // own thread while the data is written and synced, and ends before the first index
        // entry is written (the commit point): a batch in the store always has its entry,
        // and its index entries can be restored from the group. The group waits for one
        // sync (the journal's and the data's side by side), not three in a row.
        if let Err(e) = self.journal.write(&entries, group.as_ref()) {
            tracing::error!(error = %e, "cannot write the ingest journal");
            drop(records);
            return fail(jobs, &mut self.gaps, &e);
        }
        let started = Instant::now();
        let journal = &mut self.journal;
        let result = match (&group, records.is_empty()) {
            (_, true) => Ok(Appended { date, first_id, count: 0 }),
            (Some(group), false) => self.store.append_journaled(date, &records, group, &mut || journal.wait_synced()),
            (None, false) => self.store.append_ordered(date, first_id, &records, defer, &mut || journal.wait_synced()),
        };
        // Waited for already when records were appended; this covers the other cases.
        let result = result.and_then(|a| self.journal.wait_synced().map(|()| a));
        if !records.is_empty() {
            match (defer, &result) {
                (true, _) => {
                    self.deferred_since.get_or_insert_with(Instant::now);
                }
                // A synced append syncs every deferred record before it.
                (false, Ok(_)) => self.deferred_since = None,
                (false, Err(_)) => {}
            }
        }
        let took = started.elapsed();
        let stored_bytes: usize = records.iter().map(|r| r.data.len()).sum();
        let stored_records = records.len() as u64;
        drop(records);
        // Both appends refuse (writing nothing) a day that does not end at `first_id`, the
        // ids the journal's entries name.
        match result {
            Ok(_) => {
                if needs_store && Some(date) != self.late_day {
                    self.open_day = Some(date);
                }
                if group.is_some() {
                    self.index_waits_since.get_or_insert_with(Instant::now);
                }
                // A compaction would keep the groups: sync the index first, so they go.
                // (The sync that is merely due waits for the writer's loop, after these
                // acknowledgements, which it has no reason to hold back.)
                if self.journal.needs_rewrite() {
                    self.sync_index(true);
                }
                self.journal.confirm(entries);
                if stored_records > 0 {
                    self.metrics.committed(stored_records, stored_bytes as u64, took);
                    self.count_stored(jobs, &plans);
                }
                for (Job { ack, .. }, plan) in jobs.drain(..).zip(plans) {
                    if !matches!(plan, Plan::Refused(_)) {
                        self.metrics.acknowledged(ack.source, ack.arrived.elapsed());
                    }
                    let _ = ack.send(match plan {
                        Plan::Store(a) => Ok(Ack::Stored(a)),
                        Plan::Duplicate(a) => Ok(Ack::Duplicate(a)),
                        Plan::Refused(e) => Err(e),
                    });
                }
            }
            Err(e) => {
                tracing::error!(%date, error = %e, "append failed");
                self.abort_pending = true;
                if let Err(e) = self.settle_failed() {
                    tracing::error!(error = %e, "cannot repair the day after the failed append; its journal entries stay until it is");
                }
                fail(jobs, &mut self.gaps, &e);
            }
        }
    }

    /// After a failed group: the store cuts the group's batches back (the repair the
    /// failure left pending), and only then does the journal take back their entries. In
    /// the other order a crash between the two leaves records in the store that no entry
    /// claims, and the producer's resend stores them a second time; in this order it
    /// leaves an entry over a batch that is not (wholly) stored, which the journal drops
    /// at start (the writer cutting what part of it is there). While the repair fails,
    /// nothing is committed: a resend answered from the journal would claim a batch the
    /// repair may still cut.
    pub(super) fn settle_failed(&mut self) -> Result<()> {
        if !self.abort_pending {
            return Ok(());
        }
        self.store.repair_now()?;
        self.journal.abort();
        self.abort_pending = false;
        Ok(())
    }
}
