//! A [`Vfs`] that fails on purpose, for tests of what a crash or an I/O error leaves.
//!
//! [`FaultyVfs`] wraps [`StdVfs`] and counts the bytes written through it. Once the
//! budget set by [`FaultyVfs::fail_after_bytes`] is spent, a write stores only the bytes
//! that still fit (a torn write, as a crash would leave) and returns an error; every later
//! write fails outright. Syncs can be made to fail too.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::io::{StdVfs, StoreFile, Vfs};

#[derive(Debug, Default)]
struct Budget {
    armed: AtomicBool,
    left: AtomicU64,
    fail_sync: AtomicBool,
    /// File syncs that succeeded.
    syncs: AtomicU64,
}

/// The real file system with an adjustable write budget.
#[derive(Debug, Clone, Default)]
pub struct FaultyVfs {
    budget: Arc<Budget>,
}

impl FaultyVfs {
    pub fn new() -> Self {
        Self::default()
    }

    /// After `n` more bytes have been written, tear the write in progress and fail.
    pub fn fail_after_bytes(&self, n: u64) {
        self.budget.left.store(n, Ordering::SeqCst);
        self.budget.armed.store(true, Ordering::SeqCst);
    }

    pub fn fail_syncs(&self, on: bool) {
        self.budget.fail_sync.store(on, Ordering::SeqCst);
    }

    /// How many file syncs (`sync_data`) have succeeded so far.
    pub fn syncs(&self) -> u64 {
        self.budget.syncs.load(Ordering::SeqCst)
    }

    /// Back to a healthy file system.
    pub fn heal(&self) {
        self.budget.armed.store(false, Ordering::SeqCst);
        self.budget.fail_sync.store(false, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct FaultyFile {
    inner: Arc<dyn StoreFile>,
    budget: Arc<Budget>,
}

fn injected() -> io::Error {
    io::Error::other("injected fault")
}

impl StoreFile for FaultyFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        if !self.budget.armed.load(Ordering::SeqCst) {
            return self.inner.write_all_at(buf, offset);
        }
        let left = self.budget.left.load(Ordering::SeqCst);
        if (buf.len() as u64) <= left {
            self.budget.left.fetch_sub(buf.len() as u64, Ordering::SeqCst);
            return self.inner.write_all_at(buf, offset);
        }
        self.budget.left.store(0, Ordering::SeqCst);
        self.inner.write_all_at(&buf[..left as usize], offset)?;
        Err(injected())
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        if self.budget.armed.load(Ordering::SeqCst) && self.budget.left.load(Ordering::SeqCst) == 0 {
            return Err(injected());
        }
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        if self.budget.fail_sync.load(Ordering::SeqCst) {
            return Err(injected());
        }
        self.inner.sync_data()?;
        self.budget.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Vfs for FaultyVfs {
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        StdVfs.open_read(path)
    }
    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        Ok(Arc::new(FaultyFile { inner: StdVfs.open_write(path)?, budget: self.budget.clone() }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        StdVfs.create_dir_all(path)
    }
    fn create_empty(&self, path: &Path) -> io::Result<()> {
        StdVfs.create_empty(path)
    }
    fn file_len(&self, path: &Path) -> io::Result<Option<u64>> {
        StdVfs.file_len(path)
    }
    fn exists(&self, path: &Path) -> bool {
        StdVfs.exists(path)
    }
    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>> {
        StdVfs.list_dirs(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        StdVfs.remove_dir_all(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        if self.budget.fail_sync.load(Ordering::SeqCst) {
            return Err(injected());
        }
        StdVfs.sync_dir(path)
    }
}
