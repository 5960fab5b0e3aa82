//! The framing of the writer's journal, `<root>/.modsynclog/ingest.journal`.
//!
//! The file holds two kinds of entries. The server's exactly-once table writes one per
//! producer batch (its body is [`crate::server::dedup`]'s business); the store's index
//! groups ([`IndexGroup`]) say which index entries a group commit wrote before its index
//! was synced, and [`Store::open`](super::Store::open) reads them back here, before any
//! day is recovered. Both live in one file so that one `fdatasync` makes both durable.
//!
//! Format: an 8-byte magic, then frames `u32 word | body | u32 crc32(body)` (little-endian).
//! [`MAGIC_V3`] files (the current writer's) follow the magic with a `u64` *epoch*, and a
//! frame's checksum covers the epoch before the body: `crc32(epoch | body)`. The writer
//! reuses its files (each rewrite goes into the file the previous one left, see
//! [`crate::server::dedup`]), so bytes of an older use lie after the frames; under a
//! newer epoch their checksums fail, and they end the journal like a torn frame.
//! The word's low 31 bits are the body's length; its top bit marks an index group. An
//! index-group frame with an empty body is a *barrier*: the index was synced with every
//! group before it, which need not be restored (the journal keeps old frames until its
//! next rewrite; without barriers a restart would walk all their data again).
//! [`MAGIC_V1`] files (before index groups) hold producer entries only; they are read and
//! rewritten as [`MAGIC_V2`]. A torn or corrupt frame ends the file: nothing after it is
//! trusted. Eight zero bytes would be an empty producer entry with a valid checksum; no
//! entry is empty, so they are taken for what they are, the hole a lost write leaves.
//! Both readers, the store's ([`read_groups`]) and the exactly-once table's, walk the
//! frames with [`Frames`], so they stop at the same place: a group after a hole is
//! neither restored nor given the producer entries it was written with.

use std::path::{Path, PathBuf};

use super::index_group::IndexGroup;
use super::io::Vfs;
use crate::error::{Error, Result};

/// The folder, under the store root, holding the writer's private state (readers,
/// replicas and the Go format only look at `YYYYMMDD` folders).
pub const STATE_DIR: &str = ".modsynclog";
pub const JOURNAL_FILE: &str = "ingest.journal";
/// The first format: producer entries only.
pub const MAGIC_V1: &[u8; 8] = b"MSLJRN01";
/// Producer entries and index groups.
pub const MAGIC_V2: &[u8; 8] = b"MSLJRN02";
/// The current format: as [`MAGIC_V2`], after a `u64` epoch the checksums cover.
pub const MAGIC_V3: &[u8; 8] = b"MSLJRN03";
/// The magic and the epoch of a [`MAGIC_V3`] file.
pub const HEADER_V3: usize = 16;
const GROUP_BIT: u32 = 1 << 31;
/// Longest body accepted (an index group of 100,000 records of alternating types is
/// 600 KB); anything longer is damage.
pub const MAX_BODY: usize = 8 << 20;

/// The journal's path under `root`.
pub fn journal_path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join(JOURNAL_FILE)
}

/// One frame's body, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A body of the server's exactly-once table.
    Producer(&'a [u8]),
    /// An encoded [`IndexGroup`], or empty: a barrier (see the module docs).
    Group(&'a [u8]),
}

/// The frame of a barrier.
pub fn put_barrier(out: &mut Vec<u8>) {
    put_frame(Frame::Group(&[]), out);
}

/// The frame of a barrier in a [`MAGIC_V3`] file of `epoch`.
pub fn put_barrier_at(epoch: u64, out: &mut Vec<u8>) {
    put_frame_at(Frame::Group(&[]), Some(epoch), out);
}

/// The header of a [`MAGIC_V3`] file of `epoch`.
pub fn put_header_v3(epoch: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(MAGIC_V3);
    out.extend_from_slice(&epoch.to_le_bytes());
}

/// Appends one frame around `body` to `out` (a [`MAGIC_V2`] file's).
pub fn put_frame(frame: Frame<'_>, out: &mut Vec<u8>) {
    put_frame_at(frame, None, out);
}

/// Appends one frame around `body` to `out`: a [`MAGIC_V3`] file's of `epoch`, or
/// without one a [`MAGIC_V2`] file's.
pub fn put_frame_at(frame: Frame<'_>, epoch: Option<u64>, out: &mut Vec<u8>) {
    let (body, bit) = match frame {
        Frame::Producer(b) => (b, 0),
        Frame::Group(b) => (b, GROUP_BIT),
    };
    debug_assert!(body.len() <= MAX_BODY);
    out.extend_from_slice(&(body.len() as u32 | bit).to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&checksum(epoch, body).to_le_bytes());
}

fn checksum(epoch: Option<u64>, body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    if let Some(epoch) = epoch {
        h.update(&epoch.to_le_bytes());
    }
    h.update(body);
    h.finalize()
}

/// The frame at the front of `b` and its encoded length; `None` unless `b` starts with a
/// whole frame whose checksum holds (and is not zeroes: see the module docs). Frames of a
/// [`MAGIC_V2`] file.
pub fn next_frame(b: &[u8]) -> Option<(Frame<'_>, usize)> {
    next_frame_at(b, None)
}

/// [`next_frame`] in a file of `epoch` ([`MAGIC_V3`]), or of none ([`MAGIC_V2`]).
pub fn next_frame_at(b: &[u8], epoch: Option<u64>) -> Option<(Frame<'_>, usize)> {
    let word = u32::from_le_bytes(b.get(..4)?.try_into().ok()?);
    let len = (word & !GROUP_BIT) as usize;
    if len > MAX_BODY || word == 0 {
        return None;
    }
    let body = b.get(4..4 + len)?;
    let crc = u32::from_le_bytes(b.get(4 + len..8 + len)?.try_into().ok()?);
    if checksum(epoch, body) != crc {
        return None;
    }
    let frame = if word & GROUP_BIT != 0 { Frame::Group(body) } else { Frame::Producer(body) };
    Some((frame, 8 + len))
}

/// Where the frames of a journal's bytes start: after a known magic (and a
/// [`MAGIC_V3`] file's epoch), `None` otherwise.
pub fn frames_start(bytes: &[u8]) -> Option<usize> {
    if bytes.starts_with(MAGIC_V3) {
        return (bytes.len() >= HEADER_V3).then_some(HEADER_V3);
    }
    (bytes.starts_with(MAGIC_V1) || bytes.starts_with(MAGIC_V2)).then_some(MAGIC_V2.len())
}

/// The epoch of a [`MAGIC_V3`] file's bytes; `None` for any other.
pub fn file_epoch(bytes: &[u8]) -> Option<u64> {
    let header = bytes.get(..HEADER_V3).filter(|h| h.starts_with(MAGIC_V3))?;
    Some(u64::from_le_bytes(header[8..].try_into().expect("8 bytes")))
}

/// The frames of a journal's bytes in order, up to the first torn or damaged one (or, in
/// a [`MAGIC_V3`] file, one of an older epoch).
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    bytes: &'a [u8],
    at: usize,
    epoch: Option<u64>,
}

impl<'a> Frames<'a> {
    /// The frames of `bytes`; `None` unless they start with a known magic.
    pub fn new(bytes: &'a [u8]) -> Option<Frames<'a>> {
        Some(Frames { bytes, at: frames_start(bytes)?, epoch: file_epoch(bytes) })
    }

    /// The file's epoch ([`MAGIC_V3`]), `None` for an older format.
    pub fn epoch(&self) -> Option<u64> {
        self.epoch
    }

    /// Where the frames read so far end: once the iterator is done, where the journal's
    /// trusted part ends.
    pub fn end(&self) -> usize {
        self.at
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        let (frame, used) = next_frame_at(&self.bytes[self.at..], self.epoch)?;
        self.at += used;
        Some(frame)
    }
}

/// The index groups in the journal under `root` after its last barrier, in the order
/// written (none when there is no journal, or it is not one). A group that does not
/// decode is skipped.
pub fn read_groups(vfs: &dyn Vfs, root: &Path) -> Result<Vec<IndexGroup>> {
    Ok(read(vfs, &journal_path(root))?.map(|bytes| groups_in(&bytes)).unwrap_or_default())
}

/// The bytes of the journal at `path`, `None` when there is none: what both readers
/// (this module's and the exactly-once table's) walk.
pub fn read(vfs: &dyn Vfs, path: &Path) -> Result<Option<Vec<u8>>> {
    let Some(len) = vfs.file_len(path).map_err(|e| Error::io(path, "stat", e))? else {
        return Ok(None);
    };
    let f = vfs.open_read(path).map_err(|e| Error::io(path, "open", e))?;
    let mut bytes = vec![0u8; len as usize];
    f.read_exact_at(&mut bytes, 0).map_err(|e| Error::io(path, "read", e))?;
    Ok(Some(bytes))
}

/// The index groups in a journal's bytes (see [`read_groups`]).
pub fn groups_in(bytes: &[u8]) -> Vec<IndexGroup> {
    let Some(frames) = Frames::new(bytes) else { return Vec::new() };
    let mut groups = Vec::new();
    for frame in frames {
        if let Frame::Group(body) = frame {
            if body.is_empty() {
                groups.clear();
                continue;
            }
            match IndexGroup::decode(body) {
                Some(g) => groups.push(g),
                None => tracing::warn!("ingest journal: an index group that does not decode; skipped"),
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_by_kind_and_damage_ends_them() {
        let mut b = Vec::new();
        put_frame(Frame::Producer(b"abc"), &mut b);
        let first = b.len();
        put_frame(Frame::Group(b"defg"), &mut b);
        assert_eq!(next_frame(&b), Some((Frame::Producer(b"abc"), first)));
        assert_eq!(next_frame(&b[first..]), Some((Frame::Group(b"defg"), b.len() - first)));
        for cut in 0..first {
            assert_eq!(next_frame(&b[..cut]), None, "cut at {cut}");
        }
        let mut bad = b.clone();
        bad[5] ^= 1;
        assert_eq!(next_frame(&bad), None);
        assert_eq!(frames_start(b"MSLJRN01..."), Some(8));
        assert_eq!(frames_start(b"MSLJRN02"), Some(8));
        assert_eq!(frames_start(b"MSLJRN03"), None);
    }

    #[test]
    fn in_a_v3_file_frames_of_another_epoch_end_the_frames() {
        let mut b = Vec::new();
        put_header_v3(7, &mut b);
        put_frame_at(Frame::Producer(b"new"), Some(7), &mut b);
        let end = b.len();
        // What an older use of the file left after the new frames.
        put_frame_at(Frame::Producer(b"old"), Some(6), &mut b);
        put_frame_at(Frame::Producer(b"older"), None, &mut b);
        let mut frames = Frames::new(&b).unwrap();
        assert_eq!(frames.epoch(), Some(7));
        assert_eq!(frames.next(), Some(Frame::Producer(b"new")));
        assert_eq!(frames.next(), None);
        assert_eq!(frames.end(), end);
        assert_eq!(file_epoch(&b), Some(7));
        assert_eq!(file_epoch(MAGIC_V2), None);
    }

    #[test]
    fn a_barrier_drops_the_groups_before_it() {
        let date = crate::date::Date::parse("2026-11-21").unwrap();
        let group = |first_id| IndexGroup { date, first_id, first_offset: 0, types: vec![(1, 2)], crc: 7, data: None };
        let mut b = MAGIC_V2.to_vec();
        for g in [group(0), group(2)] {
            let mut body = Vec::new();
            g.encode(&mut body);
            put_frame(Frame::Group(&body), &mut b);
        }
        assert_eq!(groups_in(&b), vec![group(0), group(2)]);
        put_barrier(&mut b);
        assert_eq!(groups_in(&b), vec![]);
        let mut body = Vec::new();
        group(4).encode(&mut body);
        put_frame(Frame::Group(&body), &mut b);
        put_frame(Frame::Producer(b"a producer entry"), &mut b);
        assert_eq!(groups_in(&b), vec![group(4)]);
    }
}
