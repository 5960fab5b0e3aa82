//! The copies a copy-truncate rotation leaves beside a file (`app.log.1`, `app.log-2026…`):
//! where the rest of a truncated generation is read from, and the generations that went
//! by while the agent was behind or down. The same names find the files a rename rotation
//! moved away before the agent saw them at their path.
//!
//! The copy of a generation the agent knows is found by its first bytes (its
//! fingerprint). A generation the agent never saw (the file was truncated twice before
//! the agent got back to it) has no known first bytes: its copy is a file in the same
//! folder whose name starts with the file's name, modified after the copy of the
//! generation before, and not a compressed one. The copies are taken oldest first, which
//! is the order the generations were written in.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::identity::{Fingerprint, Inode};

/// Names of compressed copies (`delaycompress` turns an older copy into one): not text.
const COMPRESSED: [&str; 6] = [".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip"];

/// A copy: its path, when it was last modified, its inode.
#[derive(Debug, Clone)]
pub struct Copy {
    pub path: PathBuf,
    pub modified: SystemTime,
    pub inode: Inode,
}

/// The newest file in `file`'s folder, other than `skip`, whose first bytes are `fp` and
/// that holds at least `len` bytes.
pub fn find_copy(file: &Path, skip: Inode, fp: Fingerprint, len: u64) -> Option<Copy> {
    siblings(file)
        .filter(|c| c.inode != skip)
        .filter(|c| std::fs::metadata(&c.path).is_ok_and(|m| m.len() >= len) && fp.matches(&c.path))
        .max_by_key(|c| c.modified)
}

/// Copies of `file` (named after it) modified at `after` or later, oldest first; not the
/// ones `skip` names (`file` itself, copies read already: two copies may share a
/// modification time), nor a copy still being made of what `file` holds now (its first
/// bytes are `file`'s: `file` will be truncated and this copy found by them then).
pub fn later_copies(file: &Path, skip: impl Fn(Inode) -> bool, after: SystemTime) -> Vec<Copy> {
    let Some(name) = file.file_name().and_then(|n| n.to_str()) else { return Vec::new() };
    let mut copies: Vec<Copy> = siblings(file)
        .filter(|c| !skip(c.inode) && c.modified >= after)
        .filter(|c| {
            let n = c.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.len() > name.len() && n.starts_with(name) && !COMPRESSED.iter().any(|z| n.ends_with(z))
        })
        .filter(|c| !same_start(&c.path, file))
        .collect();
    copies.sort_by_key(|c| (c.modified, c.inode.ino));
    copies
}

/// Whether `copy` is empty or starts with the bytes `file` starts with.
fn same_start(copy: &Path, file: &Path) -> bool {
    let Ok(c) = File::open(copy) else { return true };
    let Ok(fp) = Fingerprint::read(&c, crate::identity::FINGERPRINT_LEN) else { return true };
    fp.len == 0 || fp.matches(file)
}

/// The regular files in `file`'s folder.
fn siblings(file: &Path) -> impl Iterator<Item = Copy> {
    let entries = file.parent().and_then(|d| std::fs::read_dir(d).ok());
    entries.into_iter().flatten().flatten().filter_map(|e| {
        let meta = e.metadata().ok().filter(|m| m.is_file())?;
        Some(Copy { path: e.path(), modified: meta.modified().ok()?, inode: Inode::of(&meta) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `text` to `path`, modified `at` seconds after the epoch.
    fn write(path: &Path, text: &str, at: u64) -> Inode {
        std::fs::write(path, text).unwrap();
        let file = File::options().append(true).open(path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(at)).unwrap();
        Inode::of(&std::fs::metadata(path).unwrap())
    }

    #[test]
    fn later_copies_are_named_after_the_file_oldest_first_and_not_its_present_content() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("b.log");
        let first = write(&dir.path().join("b.log.1"), "gen 1\n", 100);
        write(&dir.path().join("b.log-20261130"), "gen 3\n", 102);
        write(&dir.path().join("b.log.2"), "gen 2\n", 101);
        write(&dir.path().join("b.log.0.gz"), "\x1f\u{8b}", 103);
        write(&dir.path().join("other.log"), "not a copy\n", 103);
        write(&dir.path().join("b.log.old"), "made with the first\n", 100);
        let skip = write(&log, "gen 4\n", 104);
        write(&dir.path().join("b.log.4"), "gen 4", 105); // being copied now

        let since = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(100);
        let found: Vec<String> = later_copies(&log, |i| i == skip || i == first, since)
            .into_iter()
            .map(|c| c.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(found, ["b.log.old", "b.log.2", "b.log-20261130"], "a copy as old as the last one read is taken");

        let fp = Fingerprint::read(&File::open(dir.path().join("b.log.2")).unwrap(), 256).unwrap();
        let copy = find_copy(&log, skip, fp, 3).unwrap();
        assert_eq!(copy.path, dir.path().join("b.log.2"));
        assert!(find_copy(&log, skip, fp, 100).is_none(), "too short to hold what was read");
    }
}
