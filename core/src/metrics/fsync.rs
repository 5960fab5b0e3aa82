//! A [`Vfs`] decorator that times every fsync of the store (`modsynclog_fsync_seconds`):
//! files and folders, whoever calls it (group commits, the interval syncer, recovery).

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use prometheus_client::metrics::histogram::Histogram;

use crate::store::io::{StoreFile, Vfs};

/// `inner`, with its syncs timed into `histogram`.
#[derive(Debug)]
pub struct TimedVfs {
    inner: Arc<dyn Vfs>,
    histogram: Histogram,
}

impl TimedVfs {
    pub fn new(inner: Arc<dyn Vfs>, histogram: Histogram) -> TimedVfs {
        TimedVfs { inner, histogram }
    }
}

fn timed<T>(histogram: &Histogram, sync: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let start = Instant::now();
    let result = sync();
    histogram.observe(start.elapsed().as_secs_f64());
    result
}

#[derive(Debug)]
struct TimedFile {
    inner: Arc<dyn StoreFile>,
    histogram: Histogram,
}

impl StoreFile for TimedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_all_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        timed(&self.histogram, || self.inner.sync_data())
    }
    fn start_writeback(&self, offset: u64, len: u64) -> io::Result<()> {
        self.inner.start_writeback(offset, len)
    }
}

impl Vfs for TimedVfs {
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        // Read-only files are never synced: no wrapper in the readers' way.
        self.inner.open_read(path)
    }
    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        let inner = self.inner.open_write(path)?;
        Ok(Arc::new(TimedFile { inner, histogram: self.histogram.clone() }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn create_empty(&self, path: &Path) -> io::Result<()> {
        self.inner.create_empty(path)
    }
    fn file_len(&self, path: &Path) -> io::Result<Option<u64>> {
        self.inner.file_len(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dirs(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir_all(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        timed(&self.histogram, || self.inner.sync_dir(path))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn exchange(&self, a: &Path, b: &Path) -> io::Result<()> {
        self.inner.exchange(a, b)
    }
}
