//! A [`Vfs`] that fails on purpose, for tests of what a crash or an I/O error leaves.
//!
//! [`FaultyVfs`] wraps [`StdVfs`] and fails in two ways:
//! - by bytes: once the budget set by [`FaultyVfs::fail_after_bytes`] is spent, a write
//!   stores only the bytes that still fit (a torn write, as a crash would leave) and
//!   returns an error; every later write fails outright. Syncs can be made to fail too.
//! - by step: every operation that changes the disk (a write, a truncation, a sync, a
//!   file or folder created, renamed or removed) is numbered, and
//!   [`FaultyVfs::fail_step`] makes number `n` fail (or [`FaultyVfs::fail_named`] the
//!   n-th step of a name, when threads interleave) with a [`Fault`]: a crash (that step
//!   and every later one fail, nothing more reaches the disk), `ENOSPC` (a write stores
//!   half its bytes), or `EIO`. A failed file sync also loses the file's writes since
//!   its last good sync (they read back as zeroes, as pages a kernel dropped after a
//!   failed writeback would) while a later sync of the same file succeeds: the lie that
//!   makes retrying an fsync unsafe.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::io::{StdVfs, StoreFile, Vfs};

#[derive(Debug, Default)]
struct Budget {
    armed: AtomicBool,
    left: AtomicU64,
    fail_sync: AtomicBool,
    /// Reads (opening, reading, listing, sizing) fail with `EIO`.
    fail_reads: AtomicBool,
    /// File syncs that succeeded.
    syncs: AtomicU64,
    /// Microseconds each file sync takes at least (a slow disk).
    sync_delay_us: AtomicU64,
    /// Steps (operations changing the disk) so far.
    steps: AtomicU64,
    /// The step to fail, and how.
    fail_at: Mutex<Option<(u64, Fault)>>,
    /// The step to fail by name and occurrence, how, and the occurrences seen so far.
    fail_named: Mutex<Option<(String, u64, Fault, u64)>>,
    crashed: AtomicBool,
    /// Steps left, once the fault set by `fail_step` or `fail_named` was injected, before
    /// the process dies (see [`FaultyVfs::crash_after_fault`]).
    crash_after: Mutex<Option<u64>>,
    /// The fault set by `fail_step` or `fail_named` was injected.
    fired: AtomicBool,
    /// What each step was, for messages: "write 20260101/index".
    trace: Mutex<Vec<String>>,
}

/// How [`FaultyVfs::fail_step`] makes a step fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The process dies before the step: it and every later step fail, writing nothing.
    Crash,
    /// `ENOSPC`: a write stores half its bytes; other steps fail whole.
    NoSpace,
    /// `EIO`: nothing is written; a failed sync loses the file's unsynced writes.
    Eio,
}

impl Budget {
    /// Numbers a step and returns the fault to inject into it, if any.
    fn step(&self, what: &str, path: &Path) -> Option<Fault> {
        let name: PathBuf = path.iter().rev().take(2).collect::<Vec<_>>().into_iter().rev().collect();
        let label = format!("{what} {}", name.display());
        // Numbered and traced under one lock: step `n` of the trace is the step numbered
        // `n`, also when two threads take steps.
        let mut trace = self.trace.lock().unwrap();
        let n = self.steps.fetch_add(1, Ordering::SeqCst);
        let named = match &mut *self.fail_named.lock().unwrap() {
            Some((want, occurrence, fault, seen)) if *want == label => {
                *seen += 1;
                (*seen - 1 == *occurrence).then_some(*fault)
            }
            _ => None,
        };
        trace.push(label);
        drop(trace);
        if self.crashed.load(Ordering::SeqCst) {
            return Some(Fault::Crash);
        }
        let mut fault = self.fail_at.lock().unwrap().filter(|(at, _)| *at == n).map(|(_, f)| f).or(named);
        if fault.is_none() && self.fired.load(Ordering::SeqCst) {
            match &mut *self.crash_after.lock().unwrap() {
                Some(0) => fault = Some(Fault::Crash),
                Some(left) => *left -= 1,
                None => {}
            }
        }
        if fault.is_some() {
            self.fired.store(true, Ordering::SeqCst);
        }
        if fault == Some(Fault::Crash) {
            self.crashed.store(true, Ordering::SeqCst);
        }
        fault
    }
}

fn fault_error(fault: Fault) -> io::Error {
    match fault {
        Fault::Crash => io::Error::other("injected crash: the process is dead"),
        Fault::NoSpace => io::Error::from_raw_os_error(libc::ENOSPC),
        Fault::Eio => io::Error::from_raw_os_error(libc::EIO),
    }
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

    /// Makes every read (open for reading, read, list a folder, size a file) fail with
    /// `EIO`: proves a read path goes through the store's Vfs, and what it does then.
    pub fn fail_reads(&self, on: bool) {
        self.budget.fail_reads.store(on, Ordering::SeqCst);
    }

    fn read_check(&self) -> io::Result<()> {
        if self.budget.fail_reads.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    }

    pub fn fail_syncs(&self, on: bool) {
        self.budget.fail_sync.store(on, Ordering::SeqCst);
    }

    /// Makes every file sync take at least `delay` (a slow disk), so that batches queue
    /// behind each other.
    pub fn slow_syncs(&self, delay: std::time::Duration) {
        self.budget.sync_delay_us.store(delay.as_micros() as u64, Ordering::SeqCst);
    }

    /// How many file syncs (`sync_data`) have succeeded so far.
    pub fn syncs(&self) -> u64 {
        self.budget.syncs.load(Ordering::SeqCst)
    }

    /// Makes step `n` (counted from 0 since the Vfs was made) fail with `fault`.
    pub fn fail_step(&self, n: u64, fault: Fault) {
        *self.budget.fail_at.lock().unwrap() = Some((n, fault));
    }

    /// Makes occurrence `occurrence` (from 0, counting from now) of the step named `name`
    /// (as [`step_name`](FaultyVfs::step_name) gives it) fail with `fault`: the same
    /// operation whatever the order of steps on different threads.
    pub fn fail_named(&self, name: &str, occurrence: u64, fault: Fault) {
        *self.budget.fail_named.lock().unwrap() = Some((name.to_string(), occurrence, fault, 0));
    }

    /// Once the fault set by [`fail_step`](FaultyVfs::fail_step) or
    /// [`fail_named`](FaultyVfs::fail_named) was injected, the process dies at the
    /// `k`-th step after it (0: the next one): a failure, then a crash before whatever
    /// was to put it right. [`heal`](FaultyVfs::heal) does not cancel it.
    pub fn crash_after_fault(&self, k: u64) {
        *self.budget.crash_after.lock().unwrap() = Some(k);
    }

    /// Steps so far.
    pub fn steps(&self) -> u64 {
        self.budget.steps.load(Ordering::SeqCst)
    }

    /// What step `n` was ("sync 20260101/data000000").
    pub fn step_name(&self, n: u64) -> String {
        self.budget.trace.lock().unwrap().get(n as usize).cloned().unwrap_or_else(|| format!("step {n}"))
    }

    /// Whether the fault set by [`fail_step`](FaultyVfs::fail_step) or
    /// [`fail_named`](FaultyVfs::fail_named) was injected.
    pub fn fired(&self) -> bool {
        self.budget.fired.load(Ordering::SeqCst)
    }

    /// Whether an injected [`Fault::Crash`] happened.
    pub fn crashed(&self) -> bool {
        self.budget.crashed.load(Ordering::SeqCst)
    }

    /// Back to a healthy file system (not after a crash: the process is dead; a crash
    /// set by [`crash_after_fault`](FaultyVfs::crash_after_fault) still comes).
    pub fn heal(&self) {
        self.budget.armed.store(false, Ordering::SeqCst);
        self.budget.fail_sync.store(false, Ordering::SeqCst);
        self.budget.fail_reads.store(false, Ordering::SeqCst);
        *self.budget.fail_at.lock().unwrap() = None;
        *self.budget.fail_named.lock().unwrap() = None;
    }

    fn step(&self, what: &str, path: &Path) -> io::Result<()> {
        self.budget.step(what, path).map_or(Ok(()), |f| Err(fault_error(f)))
    }
}

#[derive(Debug)]
struct FaultyFile {
    inner: Arc<dyn StoreFile>,
    budget: Arc<Budget>,
    path: PathBuf,
    /// Ranges written since the last good sync: what a failed sync loses.
    unsynced: Mutex<Vec<(u64, usize)>>,
}

fn injected() -> io::Error {
    io::Error::other("injected fault")
}

impl StoreFile for FaultyFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if self.budget.fail_reads.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        self.inner.read_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.unsynced.lock().unwrap().push((offset, buf.len()));
        match self.budget.step("write", &self.path) {
            None => {}
            Some(Fault::NoSpace) => {
                self.inner.write_all_at(&buf[..buf.len() / 2], offset)?;
                return Err(fault_error(Fault::NoSpace));
            }
            Some(f) => return Err(fault_error(f)),
        }
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
        if let Some(f) = self.budget.step("truncate", &self.path) {
            return Err(fault_error(f));
        }
        if self.budget.armed.load(Ordering::SeqCst) && self.budget.left.load(Ordering::SeqCst) == 0 {
            return Err(injected());
        }
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        match self.budget.step("sync", &self.path) {
            None => {}
            Some(Fault::Crash) => return Err(fault_error(Fault::Crash)),
            Some(f) => {
                // The kernel could not write the pages back and dropped them: the writes
                // since the last good sync are gone, and the next sync will not know.
                let len = self.inner.len()?;
                for (offset, n) in self.unsynced.lock().unwrap().drain(..) {
                    let n = n.min(len.saturating_sub(offset) as usize);
                    self.inner.write_all_at(&vec![0u8; n], offset)?;
                }
                return Err(fault_error(f));
            }
        }
        if self.budget.fail_sync.load(Ordering::SeqCst) {
            return Err(injected());
        }
        let delay = self.budget.sync_delay_us.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_micros(delay));
        }
        self.inner.sync_data()?;
        self.unsynced.lock().unwrap().clear();
        self.budget.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Vfs for FaultyVfs {
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        self.read_check()?;
        let inner = StdVfs.open_read(path)?;
        Ok(Arc::new(FaultyFile { inner, budget: self.budget.clone(), path: path.into(), unsynced: Mutex::default() }))
    }
    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        if !StdVfs.exists(path) {
            self.step("create", path)?;
        }
        let inner = StdVfs.open_write(path)?;
        Ok(Arc::new(FaultyFile { inner, budget: self.budget.clone(), path: path.into(), unsynced: Mutex::default() }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        if !StdVfs.exists(path) {
            self.step("mkdir", path)?;
        }
        StdVfs.create_dir_all(path)
    }
    fn create_empty(&self, path: &Path) -> io::Result<()> {
        if !StdVfs.exists(path) {
            self.step("create", path)?;
        }
        StdVfs.create_empty(path)
    }
    fn file_len(&self, path: &Path) -> io::Result<Option<u64>> {
        self.read_check()?;
        StdVfs.file_len(path)
    }
    fn exists(&self, path: &Path) -> bool {
        StdVfs.exists(path)
    }
    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>> {
        self.read_check()?;
        StdVfs.list_dirs(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.step("remove", path)?;
        StdVfs.remove_dir_all(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.step("rename", from)?;
        StdVfs.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.step("remove", path)?;
        StdVfs.remove_file(path)
    }
    fn exchange(&self, a: &Path, b: &Path) -> io::Result<()> {
        self.step("exchange", a)?;
        StdVfs.exchange(a, b)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.step("sync", path)?;
        if self.budget.fail_sync.load(Ordering::SeqCst) {
            return Err(injected());
        }
        StdVfs.sync_dir(path)
    }
}
