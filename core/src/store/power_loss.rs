//! A [`Vfs`] that loses power, for tests of what a machine crash can leave on the disk.
//!
//! [`PowerLossVfs`] writes through to the real files (so reads see every write, as they
//! would through the page cache) and remembers, per file, the content as of its last
//! `sync_data` and the writes and truncations since; and which files and folders were
//! created since their parent folder was last synced. At a chosen step (see
//! [`PowerLossVfs::lose_power_at`]) the power goes: every file is put back to what a disk
//! may hold after the crash, and every later operation fails. What a file may hold: its
//! synced content plus, chosen by a seed, either a prefix of the later operations in
//! order (the last one possibly torn) or any subset of them, each whole (the disk wrote
//! them back out of order). An entry created since its folder's last sync may be gone.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::io::{StdVfs, StoreFile, Vfs};

#[derive(Debug, Clone)]
enum Change {
    Write(u64, Vec<u8>),
    SetLen(u64),
}

#[derive(Debug, Default)]
struct FileLog {
    synced: Vec<u8>,
    since: Vec<Change>,
}

#[derive(Debug, Default)]
struct State {
    files: Mutex<HashMap<PathBuf, FileLog>>,
    /// Entries created since their parent folder was last synced, oldest first.
    unsynced_entries: Mutex<Vec<PathBuf>>,
    steps: AtomicU64,
    /// (step, seed): when the power goes and how the disk is left.
    at: Mutex<Option<(u64, u64)>>,
    off: AtomicBool,
}

/// The real file system, until the power goes.
#[derive(Debug, Clone, Default)]
pub struct PowerLossVfs {
    state: Arc<State>,
}

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

fn power_off() -> io::Error {
    io::Error::other("the power is off")
}

impl PowerLossVfs {
    pub fn new() -> Self {
        Self::default()
    }

    /// The power goes just before step `n` (operations that change the disk, counted
    /// from 0); `seed` chooses what the disk kept.
    pub fn lose_power_at(&self, n: u64, seed: u64) {
        *self.state.at.lock().unwrap() = Some((n, seed));
    }

    /// Steps so far.
    pub fn steps(&self) -> u64 {
        self.state.steps.load(Ordering::SeqCst)
    }

    /// Whether the power went.
    pub fn is_off(&self) -> bool {
        self.state.off.load(Ordering::SeqCst)
    }

    /// Counts a step; cuts the power when it is the chosen one.
    fn step(&self) -> io::Result<()> {
        if self.is_off() {
            return Err(power_off());
        }
        let n = self.state.steps.fetch_add(1, Ordering::SeqCst);
        let at = *self.state.at.lock().unwrap();
        if let Some((step, seed)) = at
            && step == n
        {
            self.cut(seed)?;
            return Err(power_off());
        }
        Ok(())
    }

    /// Puts every file back to what the disk may hold, then turns everything off.
    fn cut(&self, seed: u64) -> io::Result<()> {
        self.state.off.store(true, Ordering::SeqCst);
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let files = std::mem::take(&mut *self.state.files.lock().unwrap());
        let mut paths: Vec<_> = files.keys().cloned().collect();
        paths.sort();
        for path in paths {
            let log = &files[&path];
            let mut content = log.synced.clone();
            let in_order = rng.below(2) == 0;
            let kept = rng.below(log.since.len() as u64 + 1) as usize;
            for (i, change) in log.since.iter().enumerate() {
                let keep = if in_order { i < kept } else { rng.below(2) == 0 };
                let torn = in_order && i == kept;
                match change {
                    Change::Write(at, bytes) if keep || torn => {
                        let n = if torn { rng.below(bytes.len() as u64 + 1) as usize } else { bytes.len() };
                        let end = *at as usize + n;
                        if content.len() < end {
                            content.resize(end, 0);
                        }
                        content[*at as usize..end].copy_from_slice(&bytes[..n]);
                    }
                    Change::SetLen(len) if keep => content.resize(*len as usize, 0),
                    _ => {}
                }
                if torn {
                    break;
                }
            }
            if path.exists() {
                std::fs::write(&path, &content)?;
            }
        }
        let entries = std::mem::take(&mut *self.state.unsynced_entries.lock().unwrap());
        for path in entries.iter().rev() {
            if rng.below(2) == 0 {
                if path.is_dir() {
                    std::fs::remove_dir_all(path)?;
                } else if path.exists() {
                    std::fs::remove_file(path)?;
                }
            }
        }
        Ok(())
    }

    fn created(&self, path: &Path) {
        self.state.unsynced_entries.lock().unwrap().push(path.to_path_buf());
    }
}

#[derive(Debug)]
struct LossyFile {
    inner: Arc<dyn StoreFile>,
    vfs: PowerLossVfs,
    path: PathBuf,
}

impl LossyFile {
    /// Makes a change and logs it, under the lock a sync takes to read the file and
    /// reset the log (an interval syncer runs in another thread).
    fn change(&self, change: Change) -> io::Result<()> {
        self.vfs.step()?;
        let mut files = self.vfs.state.files.lock().unwrap();
        match &change {
            Change::Write(at, bytes) => self.inner.write_all_at(bytes, *at)?,
            Change::SetLen(len) => self.inner.set_len(*len)?,
        }
        files.entry(self.path.clone()).or_default().since.push(change);
        Ok(())
    }
}

impl StoreFile for LossyFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.change(Change::Write(offset, buf.to_vec()))
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.change(Change::SetLen(len))
    }
    fn sync_data(&self) -> io::Result<()> {
        self.vfs.step()?;
        let mut files = self.vfs.state.files.lock().unwrap();
        self.inner.sync_data()?;
        let content = std::fs::read(&self.path)?;
        *files.entry(self.path.clone()).or_default() = FileLog { synced: content, since: Vec::new() };
        Ok(())
    }
}

impl Vfs for PowerLossVfs {
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        StdVfs.open_read(path)
    }
    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        let existed = path.exists();
        if !existed {
            self.step()?;
        }
        let inner = StdVfs.open_write(path)?;
        let mut files = self.state.files.lock().unwrap();
        // A file met for the first time is on the disk as it is (written before the test).
        if !files.contains_key(path) {
            let synced = if existed { std::fs::read(path)? } else { Vec::new() };
            files.insert(path.to_path_buf(), FileLog { synced, since: Vec::new() });
        }
        drop(files);
        if !existed {
            self.created(path);
        }
        Ok(Arc::new(LossyFile { inner, vfs: self.clone(), path: path.to_path_buf() }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        if path.exists() {
            return Ok(());
        }
        self.step()?;
        StdVfs.create_dir_all(path)?;
        self.created(path);
        Ok(())
    }
    fn create_empty(&self, path: &Path) -> io::Result<()> {
        if path.exists() {
            return Ok(());
        }
        self.step()?;
        StdVfs.create_empty(path)?;
        self.created(path);
        Ok(())
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
        self.step()?;
        StdVfs.remove_dir_all(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.step()?;
        StdVfs.sync_dir(path)?;
        self.state.unsynced_entries.lock().unwrap().retain(|p| p.parent() != Some(path));
        Ok(())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.step()?;
        StdVfs.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.step()?;
        StdVfs.remove_file(path)
    }
    fn exchange(&self, a: &Path, b: &Path) -> io::Result<()> {
        self.step()?;
        StdVfs.exchange(a, b)
    }
}
