//! One file sync at a time on a helper thread, so that the caller can do other I/O while
//! it runs.
//!
//! The server's ingest journal must be on the disk before a group's index entries are
//! written, but not before the group's data is: with a [`SyncThread`] the writer starts
//! the journal's `fdatasync`, writes and syncs the data meanwhile, and waits for the
//! journal just before the index. With the group's index entries restorable from the
//! journal (see [`super::index_group`]), a group commit then waits for one round of syncs
//! (the journal's and the data's side by side) instead of three in a row.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::io::StoreFile;

#[derive(Debug, Default)]
struct State {
    /// The file to sync next, set by `start`, taken by the thread.
    job: Option<Arc<dyn StoreFile>>,
    /// A sync was started and `wait` has not taken its outcome yet.
    busy: bool,
    /// The outcome of the last sync, until `wait` takes it.
    done: Option<io::Result<()>>,
    stop: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// The thread waits here for a job (or `stop`).
    work: Condvar,
    /// `wait` waits here for the outcome.
    finished: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A thread that syncs one file at a time for its owner (see the module docs).
#[derive(Debug)]
pub(crate) struct SyncThread {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl SyncThread {
    pub(crate) fn spawn(name: &str) -> io::Result<SyncThread> {
        let shared = Arc::new(Shared::default());
        let theirs = shared.clone();
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            let mut state = theirs.lock();
            loop {
                if let Some(file) = state.job.take() {
                    drop(state);
                    // A panic must not leave the owner waiting for an outcome forever.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| file.sync_data()))
                        .unwrap_or_else(|_| Err(io::Error::other("the sync thread panicked")));
                    state = theirs.lock();
                    state.done = Some(outcome);
                    theirs.finished.notify_all();
                } else if state.stop {
                    return;
                } else {
                    state = theirs.work.wait(state).unwrap_or_else(|p| p.into_inner());
                }
            }
        })?;
        Ok(SyncThread { shared, thread: Some(thread) })
    }

    /// Starts syncing `file`. A sync started before must have been waited for.
    pub(crate) fn start(&self, file: Arc<dyn StoreFile>) {
        let mut state = self.shared.lock();
        assert!(!state.busy, "a sync is already running: wait for it first");
        state.busy = true;
        state.job = Some(file);
        self.shared.work.notify_one();
    }

    /// Whether a sync was started and not waited for.
    #[cfg(test)]
    fn is_busy(&self) -> bool {
        self.shared.lock().busy
    }

    /// Waits for the sync [`start`](SyncThread::start) began and returns its outcome;
    /// `Ok` at once when none is running.
    pub(crate) fn wait(&self) -> io::Result<()> {
        let mut state = self.shared.lock();
        if !state.busy {
            return Ok(());
        }
        loop {
            if let Some(outcome) = state.done.take() {
                state.busy = false;
                return outcome;
            }
            state = self.shared.finished.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for SyncThread {
    /// Lets a running sync end, then stops the thread.
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.work.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::faults::FaultyVfs;
    use crate::store::io::Vfs;

    #[test]
    fn a_sync_runs_on_the_thread_and_its_outcome_is_returned_once() {
        let tmp = tempfile::tempdir().unwrap();
        let vfs = FaultyVfs::new();
        let file = vfs.open_write(&tmp.path().join("f")).unwrap();
        let syncer = SyncThread::spawn("msl-test-sync").unwrap();
        assert!(syncer.wait().is_ok(), "nothing started: nothing to wait for");

        file.write_all_at(b"abc", 0).unwrap();
        syncer.start(file.clone());
        assert!(syncer.is_busy());
        syncer.wait().expect("a healthy disk");
        assert!(!syncer.is_busy());
        assert_eq!(vfs.syncs(), 1, "the file was synced once");

        vfs.fail_syncs(true);
        file.write_all_at(b"def", 3).unwrap();
        syncer.start(file.clone());
        assert!(syncer.wait().is_err(), "the failed sync is reported");
        assert!(syncer.wait().is_ok(), "and only once: nothing runs now");
        assert_eq!(vfs.syncs(), 1);
    }

    #[test]
    fn dropping_lets_a_running_sync_end() {
        let tmp = tempfile::tempdir().unwrap();
        let vfs = FaultyVfs::new();
        vfs.slow_syncs(std::time::Duration::from_millis(50));
        let file = vfs.open_write(&tmp.path().join("f")).unwrap();
        let syncer = SyncThread::spawn("msl-test-sync").unwrap();
        syncer.start(file);
        drop(syncer);
        assert_eq!(vfs.syncs(), 1, "the sync ran to its end before the thread stopped");
    }
}
