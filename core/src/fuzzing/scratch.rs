//! Throw-away folders for the targets that need files (a day folder, a journal).
//!
//! In `/dev/shm` when there is one: a fuzzer creates and removes a folder per input,
//! thousands of times a second, and a RAM file system keeps that off the disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh, empty folder, removed with everything in it when dropped.
pub(crate) struct Scratch {
    path: PathBuf,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        // The process id and a counter: the stable test runs targets on parallel threads.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("modsynclog-fuzz-{}-{n}", std::process::id()));
        // A folder of the same name can only be left over by a crashed earlier process.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Scratch { path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
