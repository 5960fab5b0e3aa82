//! The set of files being shipped: found by the inputs' globs, resumed from checkpoints
//! and the server's table, followed through renames, closed when done, and written back
//! as checkpoints.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use modsynclog_core::Result;
use modsynclog_core::sdk::sequenced::{Delivered, SeqAck};

use crate::checkpoint::{Checkpoints, Entry};
use crate::config::{Input, StartAt};
use crate::discover::{Found, discover, find_in_folder};
use crate::figures::Figures;
use crate::identity::Inode;
use crate::tracked::Tracked;

/// How long a file renamed away or deleted must stay quiet, read to its end, before it is
/// closed (a writer may still append to a renamed file for a moment).
pub const CLOSE_QUIET: Duration = Duration::from_secs(2);

pub struct Files {
    pub agent: String,
    pub inputs: Vec<Input>,
    pub files: BTreeMap<Inode, Tracked>,
    /// Which file a producer id belongs to (acks name the producer).
    producers: HashMap<String, Inode>,
    pub checkpoints: Checkpoints,
    pub dirty: bool,
    pub figures: std::sync::Arc<Figures>,
    opened: u64,
}

impl Files {
    pub fn new(agent: &str, inputs: Vec<Input>, checkpoints: Checkpoints, figures: std::sync::Arc<Figures>) -> Files {
        Files {
            agent: agent.to_string(),
            inputs,
            files: BTreeMap::new(),
            producers: HashMap::new(),
            checkpoints,
            dirty: false,
            figures,
            opened: 0,
        }
    }

    /// Whether `inode`'s file is in the checkpoints as it is now (identity and generation).
    /// A file is shipped only once it is: a crash right after would otherwise leave records
    /// in the server under a producer id the restarted agent knows nothing of (a file
    /// rotated away meanwhile would be lost; a generation would start again and double).
    pub fn registered(&self, inode: Inode) -> bool {
        let Some(t) = self.files.get(&inode) else { return false };
        self.checkpoints
            .files
            .get(&inode)
            .is_some_and(|e| Some(e.fingerprint) == t.fingerprint && e.generation == t.generation)
    }

    /// A file that has bytes and is not registered yet (the checkpoints must be written
    /// before it is shipped).
    pub fn unregistered(&self) -> bool {
        self.files.iter().any(|(i, t)| t.fingerprint.is_some() && !self.registered(*i))
    }

    pub fn input(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// Files the globs match that are not followed yet: from their beginning (or their end,
    /// for inputs starting for the first time with `start_at = "end"`), or from their
    /// checkpoint, kept while their input was removed.
    pub(crate) fn open_new(&mut self, found: &BTreeMap<Inode, Found>) {
        let first_start: Vec<String> = self
            .inputs
            .iter()
            .filter(|i| !self.checkpoints.started_inputs.contains(&i.name))
            .map(|i| i.name.clone())
            .collect();
        for (inode, f) in found {
            if let Some(t) = self.files.get_mut(inode) {
                if t.path != f.path {
                    tracing::info!(ino = inode.ino, from = %t.path.display(), to = %f.path.display(), "a followed file is at another path");
                }
                t.gone = false;
                continue;
            }
            let Some(input) = self.input(&f.input).cloned() else { continue };
            let at_end = input.start_at == StartAt::End && first_start.contains(&input.name);
            let offset = if at_end { f.size } else { 0 };
            // The file renamed away from this path (a rotation) goes first.
            let before = self
                .files
                .iter()
                .filter(|(i, t)| t.gone && t.path == f.path && *i != inode)
                .max_by_key(|(_, t)| t.opened)
                .map(|(i, _)| *i);
            // Renamed away since the scan (a rotation): opened where it went, all the same;
            // the file now at its path is found by the next scan.
            let path = match std::fs::metadata(&f.path) {
                Ok(m) if Inode::of(&m) == *inode => Some(f.path.clone()),
                _ => find_in_folder(&f.path, *inode),
            };
            let Some(path) = path else { continue }; // deleted already
            let before = before.map(|b| self.missed_rotations(&f.path, b, *inode, &input)).filter(|b| b != inode);
            let open = |(offset, fp, generation)| Tracked::open(&path, &input, offset, fp, generation);
            let kept = self.checkpoints.files.get(inode).filter(|e| e.input == input.name).cloned();
            let mut opened =
                open(kept.as_ref().map_or((offset, None, 0), |e| (e.acked, Some(e.fingerprint), e.generation)));
            if let (Ok(t), Some(e)) = (&mut opened, &kept)
                && !t.starts_with(e.fingerprint).unwrap_or(false)
            {
                opened = open((offset, None, 0)); // another file took the inode of one that went
            }
            match opened {
                Ok(mut t) if t.inode == *inode => {
                    tracing::info!(path = %path.display(), ino = inode.ino, input = %input.name, offset, after = ?before.map(|i| i.ino), "following a file");
                    t.path = f.path.clone();
                    t.gone = path != f.path;
                    t.after = before;
                    self.add(*inode, t);
                }
                Ok(_) => {} // replaced again in between: the next scan sees it
                Err(e) => tracing::debug!(path = %f.path.display(), error = %e, "cannot open"),
            }
        }
        if !first_start.is_empty() {
            self.checkpoints.started_inputs.extend(first_start);
            self.dirty = true;
        }
    }

    /// Files renamed away from `at` that the agent never saw there: created and renamed
    /// away again between two looks (while it started, or was busy). They are named after
    /// it and were written after `before`, the last file followed at `at`; they are
    /// followed now, oldest first, each after the one before. Returns the last (or
    /// `before`): the file now at `at` comes after it.
    fn missed_rotations(&mut self, at: &Path, before: Inode, new: Inode, input: &Input) -> Inode {
        let Some(since) = self.files.get(&before).and_then(|t| t.modified()) else { return before };
        // `new` is the file found at `at`, about to be followed (it may have been renamed
        // away itself since).
        let known = |i: Inode| i == new || self.files.contains_key(&i) || self.checkpoints.files.contains_key(&i);
        let missed = crate::copies::later_copies(at, known, since);
        let mut last = before;
        for m in missed {
            match Tracked::open(&m.path, input, 0, None, 0) {
                Ok(mut t) if t.inode == m.inode => {
                    tracing::info!(path = %m.path.display(), ino = m.inode.ino, after = last.ino, "a file rotated away before the agent saw it at its path: following it");
                    (t.path, t.gone, t.after) = (at.to_path_buf(), true, Some(last));
                    self.add(m.inode, t);
                    last = m.inode;
                }
                _ => {}
            }
        }
        last
    }

    pub(crate) fn add(&mut self, inode: Inode, mut t: Tracked) {
        self.opened += 1;
        t.opened = self.opened;
        self.files.insert(inode, t);
        self.dirty = true;
    }

    /// Looks at the globs again: new files are followed, files no path leads to are
    /// marked gone (read on to their end, then closed).
    pub fn scan(&mut self) {
        let found = discover(&self.inputs);
        for (inode, t) in &mut self.files {
            let there = found.get(inode);
            t.gone = there.is_none();
            if let Some(f) = there {
                t.path = f.path.clone();
            }
        }
        self.open_new(&found);
        self.figures.files.store(self.files.len() as u64, Relaxed);
    }

    /// The producer id of `inode`'s file, registered for its acks.
    pub fn producer(&mut self, inode: Inode) -> Option<String> {
        let id = self.files.get(&inode)?.producer(&self.agent)?;
        self.producers.entry(id.clone()).or_insert(inode);
        Some(id)
    }

    /// An acknowledgement: the file's acked offset moves on. `Err` ends the agent (the
    /// server refused its credentials).
    pub fn acked(&mut self, ack: SeqAck) -> Result<()> {
        let Some(&inode) = self.producers.get(&ack.producer) else { return Ok(()) };
        let Some(t) = self.files.get_mut(&inode) else { return Ok(()) };
        t.in_flight = t.in_flight.saturating_sub(1);
        match ack.result {
            Ok(delivered) => {
                let records = ack.records as u64;
                self.figures.records.fetch_add(records, Relaxed);
                let mut per_input = self.figures.input_records.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(n) = per_input.get_mut(&t.input) {
                    *n += records;
                } else {
                    per_input.insert(t.input.clone(), records);
                }
                if delivered == Delivered::Duplicate {
                    self.figures.duplicates.fetch_add(records, Relaxed);
                }
            }
            Err(e) if e.is_auth() => return Err(e),
            Err(e) => {
                tracing::error!(path = %t.path.display(), seq = ack.seq, records = ack.records, error = %e, "the server refused a batch: its records are lost");
                self.figures.refused_records.fetch_add(ack.records as u64, Relaxed);
            }
        }
        t.acked = t.acked.max(ack.seq);
        self.dirty = true;
        Ok(())
    }

    /// Closes files that are done, restarts truncated ones whose batches are all
    /// acknowledged, and writes the checkpoints if anything moved.
    pub fn settle(&mut self, state_dir: &Path) -> std::io::Result<()> {
        let mut closed = Vec::new();
        for (inode, t) in &mut self.files {
            let Some(input) = self.inputs.iter().find(|i| i.name == t.input) else {
                if t.in_flight == 0 {
                    closed.push(*inode);
                }
                continue;
            };
            if t.restart_if_settled(input)? {
                tracing::info!(path = %t.path.display(), generation = t.generation, "shipping the truncated file from its start");
                self.dirty = true;
            }
            if t.finished(CLOSE_QUIET) {
                tracing::info!(path = %t.path.display(), ino = inode.ino, offset = t.acked, "file done");
                closed.push(*inode);
            }
        }
        for inode in closed {
            if let Some(t) = self.files.remove(&inode) {
                self.producers.retain(|_, i| *i != inode);
                // A file of a removed input keeps its checkpoint, for when the input returns,
                // with what was acknowledged since the last save (else the input's return
                // would resume before it, and a batch straddling it be stored again).
                if self.input(&t.input).is_some() {
                    self.checkpoints.files.remove(&inode);
                } else if let Some(entry) = entry(&t) {
                    self.checkpoints.files.insert(inode, entry);
                }
                self.dirty = true;
            }
        }
        if !self.dirty {
            return Ok(());
        }
        for (inode, t) in &self.files {
            if let Some(entry) = entry(t) {
                self.checkpoints.files.insert(*inode, entry);
            }
        }
        self.checkpoints.save(state_dir)?;
        self.dirty = false;
        let per_file: Vec<(String, String, u64, u64)> = self
            .files
            .iter()
            .map(|(i, t)| (t.input.clone(), t.path.display().to_string(), i.ino, t.size.saturating_sub(t.acked)))
            .collect();
        self.figures.behind_bytes.store(per_file.iter().map(|f| f.3).sum(), Relaxed);
        *self.figures.behind_files.lock().unwrap_or_else(|e| e.into_inner()) = per_file;
        Ok(())
    }

    /// Every file read to its end and every batch acknowledged (`--once`).
    pub fn drained(&self) -> bool {
        self.files.values().all(|t| t.eof && t.in_flight == 0 && !t.has_ready() && !t.restarting)
    }

    pub fn in_flight(&self) -> usize {
        self.files.values().map(|t| t.in_flight).sum()
    }
}

/// `t`'s checkpoint entry (none before its first bytes: no identity yet).
fn entry(t: &Tracked) -> Option<Entry> {
    Some(Entry {
        path: t.path.clone(),
        input: t.input.clone(),
        fingerprint: t.fingerprint?,
        generation: t.generation,
        acked: t.acked,
        size: t.size.max(t.acked),
    })
}
