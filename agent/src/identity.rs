//! Which file is which: device and inode, plus a fingerprint of its first bytes (an inode
//! is reused once its file is deleted), and the producer id a file's batches carry.
//!
//! A file's producer id names the agent, the file's identity and its generation (bumped
//! when the file is truncated, so that offsets, the batches' seqs, start again from 0 under
//! a new id). The server's exactly-once table keys on it: a file's ids are never reused by
//! another file.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Bytes at the start of a file that make its fingerprint (fewer while the file is shorter).
pub const FINGERPRINT_LEN: u64 = 256;

/// Longest agent id: the producer id it goes into must stay within the server's 128 bytes.
pub const MAX_AGENT_ID_LEN: usize = 48;

/// Where a file lives on its file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Inode {
    pub dev: u64,
    pub ino: u64,
}

impl Inode {
    pub fn of(meta: &std::fs::Metadata) -> Inode {
        Inode { dev: meta.dev(), ino: meta.ino() }
    }
}

/// A hash of a file's first `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub len: u64,
    pub hash: u64,
}

impl Fingerprint {
    /// Of the first `len` bytes of `file` (fewer if it is shorter: `len` says how many).
    pub fn read(mut file: &File, len: u64) -> std::io::Result<Fingerprint> {
        use std::io::{Seek, SeekFrom};
        let at = file.stream_position()?;
        file.seek(SeekFrom::Start(0))?;
        let mut buf = Vec::with_capacity(len as usize);
        file.by_ref().take(len).read_to_end(&mut buf)?;
        file.seek(SeekFrom::Start(at))?;
        Ok(Fingerprint { len: buf.len() as u64, hash: fnv1a(&buf) })
    }

    /// Of the file at `path`, over the same length as `self` (to compare with it).
    pub fn matches(&self, path: &Path) -> bool {
        let Ok(f) = File::open(path) else { return false };
        Fingerprint::read(&f, self.len).is_ok_and(|fp| fp == *self)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The producer id of generation `generation` of the file `inode` with `fingerprint`.
pub fn producer_id(agent: &str, inode: Inode, fingerprint: Fingerprint, generation: u32) -> String {
    format!("agent:{agent}:{:x}:{:x}:{:x}:{generation}", inode.dev, inode.ino, fingerprint.hash)
}

/// An agent id fit for producer ids: non-empty, at most [`MAX_AGENT_ID_LEN`] bytes of
/// letters, digits, `-`, `_` and `.`.
pub fn check_agent_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= MAX_AGENT_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "agent id {id:?}: 1 to {MAX_AGENT_ID_LEN} letters, digits, '-', '_' or '.' (it names this agent's \
             records on the server; keep it stable)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_ids_fit_the_servers_limit() {
        let agent = "a".repeat(MAX_AGENT_ID_LEN);
        let inode = Inode { dev: u64::MAX, ino: u64::MAX };
        let id = producer_id(&agent, inode, Fingerprint { len: 256, hash: u64::MAX }, u32::MAX);
        assert!(id.len() <= 128, "{} bytes", id.len());
        assert!(check_agent_id(&agent).is_ok());
        assert!(check_agent_id("web-01.prod").is_ok());
        assert!(check_agent_id("").is_err() && check_agent_id("a b").is_err() && check_agent_id("a:b").is_err());
    }

    #[test]
    fn a_fingerprint_tells_files_apart_by_their_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"hello world\n").unwrap();
        std::fs::write(&b, b"hello there\n").unwrap();
        let fp = Fingerprint::read(&File::open(&a).unwrap(), FINGERPRINT_LEN).unwrap();
        assert_eq!(fp.len, 12);
        assert!(fp.matches(&a) && !fp.matches(&b));
        std::fs::write(&a, b"hello world\nand more\n").unwrap();
        assert!(fp.matches(&a), "a file that grew keeps its fingerprint");
    }
}
