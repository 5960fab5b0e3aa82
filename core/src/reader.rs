//! Walking records in order, from `(date, id)` onwards, across days.
//!
//! A [`Reader`] never writes. Without `follow` it ends after the last record present in
//! the folder (every day, finished or not). With `follow` it waits for new records and new
//! days: it stays on a day until that day's `finish` marker appears (as the original
//! does), then moves to the next day that exists. Waiting is event-driven: a reader of an
//! in-process writer's store ([`Reader::of`]) sleeps on the writer's signal with no poll at
//! all; a reader of a folder another process writes ([`Reader::open`]) watches the folder
//! with inotify (the `notify` crate) and polls only as a fallback: every second, or every
//! [`DEFAULT_POLL`] when the folder cannot be watched, or as [`Reader::poll_interval`] says.
//!
//! A reader of an in-process writer's store hands out only what the writer has published
//! (its [`Head`](crate::store::Head)): a batch whose fsync failed sits whole in the files
//! until the writer cuts it, and its ids are later reused by other records.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};
use crate::record::Record;
use crate::store::Store;
use crate::store::cursor::DayCursor;
use crate::store::day;
use crate::store::io::{StdVfs, Vfs};
use crate::store::notify::Signal;

/// How often a follower looks at the files when no in-process writer can wake it.
pub const DEFAULT_POLL: Duration = Duration::from_millis(25);

/// The outcome of [`Reader::next_record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Record(Record),
    /// No more records: the end of the folder (not following), or the reader was stopped.
    End,
    /// Following, and nothing arrived before the timeout.
    Timeout,
}

/// Stops a following reader from another thread; its `next` then returns [`Next::End`].
#[derive(Debug, Clone)]
pub struct Stopper {
    stopped: Arc<AtomicBool>,
    signal: Arc<Signal>,
}

impl Stopper {
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.signal.publish(None);
    }

    /// Whether the reader is asleep right now, waiting for a record (lets a test append
    /// only once the follower really waits).
    pub fn waiting(&self) -> bool {
        self.signal.sleepers() > 0
    }
}

/// The fallback poll of a follower whose folder is watched by inotify: events wake it,
/// the poll only covers a file system that does not deliver them (NFS, say).
const WATCHED_POLL: Duration = Duration::from_secs(1);

/// How long an in-process follower sleeps on the writer's signal between looks at the
/// files: the writer raises the signal on every change, so this is no poll at all.
const SIGNALLED_WAIT: Duration = Duration::from_secs(24 * 3600);

pub struct Reader {
    vfs: Arc<dyn Vfs>,
    root: PathBuf,
    signal: Arc<Signal>,
    follow: bool,
    poll: Duration,
    stopped: Arc<AtomicBool>,
    /// The signal is raised by a writer in this process ([`Reader::of`]); only what it
    /// published is read.
    signalled: bool,
    /// The head's [`cuts`](crate::store::Head::cuts) when the cursor was made.
    cuts: u64,
    /// Records of the current day known published (for a signalled reader).
    published: u64,
    /// Watches the folder for a follower without an in-process writer: every event raises
    /// the signal. `None` before the first wait, or when watching failed (then it polls).
    watcher: Option<notify::RecommendedWatcher>,
    watch_failed: bool,
    /// [`poll_interval`](Reader::poll_interval) was called: the caller's poll stands even
    /// when the folder is watched (a mount that delivers no events, say).
    poll_set: bool,
    /// The next position; `None` until the earliest day is looked up.
    date: Option<Date>,
    id: u64,
    cursor: Option<DayCursor>,
    /// Set by [`next_ready_on_day`](Reader::next_ready_on_day): the end of the current day
    /// ends the step, even where it would move on to the next day.
    hold_day: bool,
}

impl Reader {
    /// A reader of the store folder `dir`, starting at its earliest day. The folder must exist.
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader> {
        let root = dir.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(Error::new(ErrorKind::NotFound, format!("{}: no such store folder", root.display())));
        }
        Ok(Reader::with_parts(Arc::new(StdVfs), root, Arc::default()))
    }

    /// A reader of the store an in-process writer holds: it reads through the store's
    /// [`Vfs`] and wakes as soon as a record is appended.
    pub fn of(store: &Store) -> Reader {
        Reader::signalled(store.vfs(), store.root().to_path_buf(), store.signal())
    }

    /// A reader woken by (and capped at) the in-process writer's `signal`.
    pub(crate) fn signalled(vfs: Arc<dyn Vfs>, root: PathBuf, signal: Arc<Signal>) -> Reader {
        Reader { signalled: true, cuts: signal.head().cuts, ..Reader::with_parts(vfs, root, signal) }
    }

    pub(crate) fn with_parts(vfs: Arc<dyn Vfs>, root: PathBuf, signal: Arc<Signal>) -> Reader {
        Reader {
            vfs,
            root,
            signal,
            follow: false,
            poll: DEFAULT_POLL,
            stopped: Arc::default(),
            signalled: false,
            cuts: 0,
            published: 0,
            watcher: None,
            watch_failed: false,
            poll_set: false,
            date: None,
            id: 0,
            cursor: None,
            hold_day: false,
        }
    }

    /// Starts at record `id` of `date` (or the first existing day after it).
    pub fn from(mut self, date: Date, id: u64) -> Reader {
        self.date = Some(date);
        self.id = id;
        self.cursor = None;
        self
    }

    /// Starts at record `id` of the earliest day.
    pub fn from_id(mut self, id: u64) -> Reader {
        self.id = id;
        self
    }

    pub fn follow(mut self, follow: bool) -> Reader {
        self.follow = follow;
        self
    }

    /// How often a follower looks at the files when nothing woke it: by default every
    /// second when the folder is watched, every [`DEFAULT_POLL`] when it cannot be.
    pub fn poll_interval(mut self, every: Duration) -> Reader {
        self.poll = every.max(Duration::from_millis(1));
        self.poll_set = true;
        self
    }

    pub fn stopper(&self) -> Stopper {
        Stopper { stopped: self.stopped.clone(), signal: self.signal.clone() }
    }

    /// The position of the next record to read (`None` before the earliest day is known).
    pub fn position(&self) -> (Option<Date>, u64) {
        (self.date, self.id)
    }

    /// The next record; waits up to `timeout` (forever with `None`) when following.
    pub fn next_record(&mut self, timeout: Option<Duration>) -> Result<Next> {
        // The clock is read only once there is nothing to return: a reader polled with a
        // zero timeout (the bindings' "what is ready now") pays no clock read per record.
        let mut deadline = None;
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                return Ok(Next::End);
            }
            if self.follow {
                self.watch();
            }
            // Read the sequence before looking at the files: a change after this point
            // makes the wait below return at once.
            let seq = self.signal.head().seq;
            if let Some(record) = self.step()? {
                return Ok(Next::Record(record));
            }
            if !self.follow {
                return Ok(Next::End);
            }
            let mut wait = match (self.signalled, &self.watcher) {
                (true, _) => SIGNALLED_WAIT,
                (false, Some(_)) if !self.poll_set => WATCHED_POLL,
                (false, _) => self.poll,
            };
            if let Some(timeout) = timeout {
                let now = Instant::now();
                let deadline = *deadline.get_or_insert(now + timeout);
                if now >= deadline {
                    return Ok(Next::Timeout);
                }
                wait = wait.min(deadline - now);
            }
            self.signal.wait_past(seq, wait);
        }
    }

    /// The next record if it is already there and of the day of the last one returned
    /// (`None` otherwise); never waits, never moves to another day. For
    /// [`next_columns`](Reader::next_columns), whose batches are of one day.
    pub(crate) fn next_ready_on_day(&mut self) -> Result<Option<Record>> {
        if self.stopped.load(Ordering::SeqCst) {
            return Ok(None);
        }
        self.hold_day = true;
        let next = self.step();
        self.hold_day = false;
        next
    }

    /// A follower without an in-process writer watches the folder (inotify, through the
    /// `notify` crate) before it first looks at the files, so no change is missed between
    /// its look and its wait; if watching fails it polls, and says so once.
    fn watch(&mut self) {
        if self.signalled || self.watcher.is_some() || self.watch_failed {
            return;
        }
        let signal = self.signal.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Reads (the reader's own listing of the folder opens it) must not wake it, or
            // it would look again, open again, and spin. An error (a watch lost, a queue
            // overflow) may hide a change: look.
            if !matches!(&event, Ok(e) if matches!(e.kind, notify::EventKind::Access(_))) {
                signal.publish(None);
            }
        })
        .and_then(|mut w| notify::Watcher::watch(&mut w, &self.root, notify::RecursiveMode::Recursive).map(|()| w));
        match watcher {
            Ok(w) => self.watcher = Some(w),
            Err(e) => {
                tracing::info!(root = %self.root.display(), error = %e, "cannot watch the store folder; polling it");
                self.watch_failed = true;
            }
        }
    }

    /// One attempt to produce the next record, moving across days as far as allowed.
    fn step(&mut self) -> Result<Option<Record>> {
        loop {
            let vfs = self.vfs.as_ref();
            let date = match self.date {
                Some(d) => d,
                None => match day::list_days(vfs, &self.root)?.first() {
                    Some(&d) => {
                        self.date = Some(d);
                        d
                    }
                    None => return Ok(None),
                },
            };
            let fresh = !matches!(&self.cursor, Some(c) if c.date == date);
            let fast = !fresh && self.id < self.published.min(self.cursor.as_ref().map_or(0, DayCursor::known));
            let head = (self.signalled && !fast).then(|| self.signal.head());
            // Cached index entries and data past a cut may be gone or rewritten.
            if fresh || head.is_some_and(|h| h.cuts != self.cuts) {
                self.cuts = head.map_or(self.cuts, |h| h.cuts);
                self.cursor = Some(DayCursor::new(&self.root, date));
            }
            let cursor = self.cursor.as_mut().expect("made above");
            let available = match (fast, head) {
                (true, _) => self.published,
                (false, head) => {
                    let on_disk = if self.id < cursor.known() { cursor.known() } else { cursor.refresh(vfs)? };
                    self.published = head.map_or(on_disk, |h| h.published(date, on_disk));
                    self.published
                }
            };
            if self.id < available {
                let loc = cursor.read(vfs, self.id)?;
                let record = Record { date, id: self.id, time: loc.time, ty: loc.entry.data_type, data: loc.data };
                self.id += 1;
                return Ok(Some(record));
            }
            // At the end of the day's records. A finished day is complete once its marker is
            // seen (re-count after seeing it: records may have landed just before it).
            let finished = day::is_finished(vfs, &self.root, date);
            if finished {
                // Whole: the writer cuts a failed batch before it writes the marker.
                let on_disk = cursor.refresh(vfs)?;
                if self.id < on_disk {
                    self.published = on_disk;
                    continue;
                }
            }
            let may_leave = finished || !self.follow || !day::day_exists(vfs, &self.root, date);
            if !may_leave || self.hold_day {
                return Ok(None);
            }
            match day::next_day(vfs, &self.root, date)? {
                Some(next) => {
                    self.date = Some(next);
                    self.id = 0;
                }
                None => return Ok(None),
            }
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        match self.next_record(None) {
            Ok(Next::Record(r)) => Some(Ok(r)),
            Ok(Next::End | Next::Timeout) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
