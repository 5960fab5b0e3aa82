//! The store's window onto the file system.
//!
//! All file I/O of the store goes through [`Vfs`] and [`StoreFile`], so tests can put a
//! fault-injecting implementation in between (see [`crate::store::faults`]) and check
//! what a failed or torn write leaves behind. [`StdVfs`] is the real thing: positioned
//! reads and writes (`pread`/`pwrite`) on `std::fs::File`.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// One open file. Positioned I/O only, so a file can be shared by threads without a cursor.
#[allow(clippy::len_without_is_empty)] // a file, not a collection
pub trait StoreFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    fn len(&self) -> io::Result<u64>;
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// `fdatasync`: the written bytes (and the size) are on stable storage when it returns.
    fn sync_data(&self) -> io::Result<()>;
    /// Starts writing `len` bytes at `offset` back to the disk without waiting
    /// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that a later
    /// [`sync_data`](StoreFile::sync_data) finds little left to write. A hint: it makes
    /// nothing durable, and a file system may ignore it.
    fn start_writeback(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file ends early")),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The file-system operations the store needs.
pub trait Vfs: Send + Sync + Debug {
    /// Opens an existing file read-only; never creates anything.
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>>;
    /// Opens a file for reading and writing, creating it (mode 0644) if missing.
    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>>;
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates an empty file if it does not exist (used for `finish`).
    fn create_empty(&self, path: &Path) -> io::Result<()>;
    /// Size of a file, `None` if it does not exist.
    fn file_len(&self, path: &Path) -> io::Result<Option<u64>>;
    fn exists(&self, path: &Path) -> bool;
    /// Names of the entries of a folder that are folders themselves.
    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>>;
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Makes a folder's entries (new files, new sub-folders) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Atomically replaces `to` with `from` (used by the server's ingest journal, which
    /// lives outside the day folders).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    /// Removes a file (a data file emptied by [`Store::cut_back`](super::Store::cut_back)).
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    /// Atomically swaps the entries `a` and `b`, which both exist (`renameat2` with
    /// `RENAME_EXCHANGE`): the ingest journal takes its next file, and keeps its old one
    /// for reuse. `Unsupported` where the file system cannot.
    fn exchange(&self, a: &Path, b: &Path) -> io::Result<()> {
        exchange(a, b)
    }
}

/// [`Vfs::exchange`] on the real file system.
pub fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: two valid NUL-terminated paths for the call's duration.
    let rc = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
    match rc {
        0 => Ok(()),
        _ => match io::Error::last_os_error() {
            e if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::ENOSYS) => {
                Err(io::Error::new(io::ErrorKind::Unsupported, e))
            }
            e => Err(e),
        },
    }
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdVfs;

#[derive(Debug)]
struct StdFile(File);

impl StoreFile for StdFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.0.read_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn start_writeback(&self, offset: u64, len: u64) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else { return Ok(()) };
        // SAFETY: a valid descriptor for the call's duration; the call reads no memory.
        let rc = unsafe { libc::sync_file_range(self.0.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }
}

impl Vfs for StdVfs {
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        Ok(Arc::new(StdFile(File::open(path)?)))
    }
    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn StoreFile>> {
        let f = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        Ok(Arc::new(StdFile(f)))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }
    fn create_empty(&self, path: &Path) -> io::Result<()> {
        OpenOptions::new().write(true).create(true).truncate(false).open(path).map(drop)
    }
    fn file_len(&self, path: &Path) -> io::Result<Option<u64>> {
        match fs::metadata(path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_type()?.is_dir()
                && let Ok(name) = entry.file_name().into_string()
            {
                names.push(name);
            }
        }
        Ok(names)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir_all(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
}
