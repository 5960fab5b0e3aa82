//! When appended records reach stable storage.
//!
//! | policy | an append returns after... | a crash (power loss) can lose |
//! |---|---|---|
//! | `batch` (default) | the data file, then the index, are `fdatasync`ed | nothing that was returned |
//! | `interval:N` | the write; a background thread syncs every N ms | up to N ms of returned records |
//! | `never` | the write (page cache); the OS flushes when it likes | whatever the OS had not flushed |
//!
//! A crash of the process alone (not the machine) loses nothing under any policy: the
//! page cache survives it. Under `batch` the data is synced *before* the index is
//! written, so a durable index entry always points at durable data.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::io::StoreFile;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Never sync explicitly.
    Never,
    /// Sync data then index before every append returns (group commit makes this cheap).
    #[default]
    Batch,
    /// Sync in the background at this interval.
    Interval(Duration),
}

impl FromStr for Durability {
    type Err = Error;
    /// `never`, `batch`, or `interval:MILLIS` (also `interval` alone, 100 ms).
    fn from_str(s: &str) -> Result<Durability> {
        match s {
            "never" => Ok(Durability::Never),
            "batch" => Ok(Durability::Batch),
            "interval" => Ok(Durability::Interval(Duration::from_millis(100))),
            _ => s
                .strip_prefix("interval:")
                .and_then(|ms| ms.parse::<u64>().ok())
                .filter(|&ms| ms > 0)
                .map(|ms| Durability::Interval(Duration::from_millis(ms)))
                .ok_or_else(|| Error::invalid(format!("durability {s:?}: expected never, batch or interval:MILLIS"))),
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Durability::Never => f.write_str("never"),
            Durability::Batch => f.write_str("batch"),
            Durability::Interval(d) => write!(f, "interval:{}", d.as_millis()),
        }
    }
}

/// The files an interval sync must flush: the current data file, then the index.
pub(crate) type SyncTargets = Arc<Mutex<Vec<Arc<dyn StoreFile>>>>;

/// A background thread that syncs [`SyncTargets`] every interval until dropped.
pub(crate) struct IntervalSyncer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl IntervalSyncer {
    pub(crate) fn start(every: Duration, targets: SyncTargets) -> std::io::Result<IntervalSyncer> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new().name("msl-fsync".into()).spawn(move || {
            let (lock, cv) = &*stop2;
            let mut stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                let (guard, _) = cv.wait_timeout(stopped, every).unwrap_or_else(|p| p.into_inner());
                stopped = guard;
                let files = targets.lock().unwrap_or_else(|p| p.into_inner()).clone();
                for f in files {
                    if let Err(e) = f.sync_data() {
                        tracing::error!(error = %e, "background fsync failed");
                    }
                }
                if *stopped {
                    return;
                }
            }
        })?;
        Ok(IntervalSyncer { stop, thread: Some(thread) })
    }
}

impl Drop for IntervalSyncer {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in ["never", "batch", "interval:250"] {
            assert_eq!(s.parse::<Durability>().unwrap().to_string(), s);
        }
        assert_eq!("interval".parse::<Durability>().unwrap(), Durability::Interval(Duration::from_millis(100)));
        for s in ["", "always", "interval:", "interval:0", "interval:x"] {
            assert!(s.parse::<Durability>().is_err(), "{s}");
        }
    }
}
