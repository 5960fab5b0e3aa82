//! Index groups: what a group commit wrote to the index, kept in the journal so that the
//! index need not be synced before the group is acknowledged.
//!
//! An index entry on the disk must never point at data that is not: the format has no
//! checksum a recovery could tell a record from zeroes with. So under `Durability::Batch`
//! a group commit used to wait for two fdatasyncs in a row, the data's, then the index's.
//! The server's writer now puts an [`IndexGroup`] into its journal ahead of the data:
//! where the group's first record goes, the records' types, and a CRC-32 of the bytes
//! the group writes to the data files. The journal and the data are synced together, the
//! index entries are written (not synced) and the group is acknowledged; the writer syncs
//! the index later (see `Writer::sync_index`), and only then lets the groups leave the
//! journal.
//!
//! After a crash, `restore` (at [`Store::open`](super::Store::open)) rebuilds, for every group still in the journal, the entries
//! the index lost or holds wrong (a power loss may keep any subset of unsynced writes):
//! it walks the data from the group's first record and, only if the bytes match the CRC
//! (so the data reached the disk, as it had before the group was acknowledged), writes
//! the entries from the first one that differs. A group whose data is not all there was
//! never acknowledged, and none of its index entries was left unsynced (a group spanning
//! two data files syncs the first run's entries before it writes the second run's data;
//! the last run's are written only once all of its data is synced): it is left to
//! recovery.
//!
//! A *carried* group also holds those bytes ([`IndexGroup::data`]), and its append syncs
//! neither the data nor the index before the acknowledgement: only the journal, whose
//! reused file takes the frame as an overwrite, which `fdatasync` makes durable without a
//! file-system journal commit. The data files are synced with the index, once a second. After a crash `restore` writes a carried group's bytes back where the data
//! files lost or hold other ones, then its entries. Only small groups within one data file
//! are carried ([`CARRY_MAX`]): a large one gains nothing (its time is the writing), and
//! the journal would have to take its bytes twice.
//!
//! Body format (little-endian): `8 ASCII YYYYMMDD | u64 first_id | u64 first_offset |
//! u32 crc | u32 runs | runs x (i16 type | u32 records) | data` (`data` empty unless
//! carried; a journal written before carried groups has none).

use std::path::Path;
use std::sync::Arc;

use super::day::day_dir;
use super::format::{
    FINISH_FILE, INDEX_ENTRY_LEN, INDEX_FILE, IndexEntry, MAX_RECORDS_PER_DAY, RECORD_HEADER_LEN,
    RECORDS_PER_DATA_FILE, RecordHeader, data_file_index, data_file_path,
};
use super::io::{StoreFile, Vfs};
use super::writer::NewRecord;
use crate::date::Date;
use crate::error::{Error, Result};

const FIXED: usize = 8 + 8 + 8 + 4 + 4;
const RUN: usize = 2 + 4;
/// Largest group (record headers and payloads) carried in the journal.
pub const CARRY_MAX: usize = 256 << 10;

/// The index entries of one group commit, described by the data they point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexGroup {
    pub date: Date,
    pub first_id: u64,
    /// Where record `first_id` starts in its data file.
    pub first_offset: u64,
    /// The records' types in id order, run-length encoded: `(type, records)`.
    pub types: Vec<(i16, u32)>,
    /// CRC-32 of the group's bytes in the data files (headers and payloads, in id order).
    pub crc: u32,
    /// Those bytes, when the group is carried (see the module docs).
    pub data: Option<Vec<u8>>,
}

impl IndexGroup {
    /// The group of `records` appended to `date` from id `first_id`, at `first_offset`;
    /// carried when `carry` asks for it and the group may be (see [`CARRY_MAX`]).
    pub(crate) fn plan(
        date: Date,
        first_id: u64,
        first_offset: u64,
        records: &[NewRecord<'_>],
        carry: bool,
    ) -> IndexGroup {
        let mut types: Vec<(i16, u32)> = Vec::new();
        let mut crc = crc32fast::Hasher::new();
        let one_file = || RECORDS_PER_DATA_FILE - first_id % RECORDS_PER_DATA_FILE >= records.len() as u64;
        let bytes = || records.iter().map(|r| RECORD_HEADER_LEN + r.data.len()).sum::<usize>();
        let mut data = (carry && one_file()).then(bytes).filter(|&n| n <= CARRY_MAX).map(Vec::with_capacity);
        for r in records {
            match types.last_mut() {
                Some((ty, n)) if *ty == r.ty && *n < u32::MAX => *n += 1,
                _ => types.push((r.ty, 1)),
            }
            let header = RecordHeader::new(r.time, r.data.len()).encode();
            crc.update(&header);
            crc.update(r.data);
            if let Some(data) = &mut data {
                data.extend_from_slice(&header);
                data.extend_from_slice(r.data);
            }
        }
        IndexGroup { date, first_id, first_offset, types, crc: crc.finalize(), data }
    }

    /// Records in the group.
    pub fn count(&self) -> u64 {
        self.types.iter().map(|&(_, n)| u64::from(n)).sum()
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.date.folder_name().as_bytes());
        out.extend_from_slice(&self.first_id.to_le_bytes());
        out.extend_from_slice(&self.first_offset.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.extend_from_slice(&(self.types.len() as u32).to_le_bytes());
        for &(ty, n) in &self.types {
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
        if let Some(data) = &self.data {
            out.extend_from_slice(data);
        }
    }

    /// A group from its body (what follows its types is its carried data); `None` when `b`
    /// does not hold one.
    pub fn decode(b: &[u8]) -> Option<IndexGroup> {
        let fixed = b.get(..FIXED)?;
        let u32_at = |i: usize| u32::from_le_bytes(fixed[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(fixed[i..i + 8].try_into().expect("8 bytes"));
        let date = Date::from_folder_name(std::str::from_utf8(&fixed[..8]).ok()?)?;
        let runs = u32_at(28) as usize;
        let types_end = FIXED.checked_add(runs.checked_mul(RUN)?)?;
        let data = b.get(types_end..)?;
        let types = b[FIXED..types_end]
            .chunks_exact(RUN)
            .map(|r| (i16::from_le_bytes([r[0], r[1]]), u32::from_le_bytes(r[2..6].try_into().expect("4 bytes"))))
            .collect();
        let data = (!data.is_empty()).then(|| data.to_vec());
        Some(IndexGroup { date, first_id: u64_at(8), first_offset: u64_at(16), crc: u32_at(24), types, data })
    }

    /// Whether the group carries its data.
    pub fn is_carried(&self) -> bool {
        self.data.is_some()
    }
}

/// What [`restore`] did with a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Restored {
    /// The index holds every entry of the group, right.
    Whole,
    /// Entries `from .. from + count` were written again.
    Rewrote { from: u64, count: u64 },
    /// Nothing to do: the day is gone or finished (a finished day was synced whole).
    Skipped,
    /// The group's data is not all on the disk (why): it was never acknowledged.
    NotOnDisk(String),
    /// The index ends at `have`, before the group: records before it are lost.
    Gap { have: u64 },
}

/// Makes the index of `group.date` hold the group's entries, if its data is on the disk
/// (see the module docs): the data files it writes entries for are synced first. The
/// caller syncs the index.
pub(crate) fn restore(vfs: &dyn Vfs, root: &Path, group: &IndexGroup) -> Result<Restored> {
    let dir = day_dir(root, group.date);
    let index_path = dir.join(INDEX_FILE);
    if !vfs.exists(&index_path) || vfs.exists(&dir.join(FINISH_FILE)) {
        return Ok(Restored::Skipped);
    }
    let count = group.count();
    let end = group.first_id.saturating_add(count);
    if count == 0 || end > MAX_RECORDS_PER_DAY {
        return Ok(Restored::NotOnDisk(format!("records {}..{end} cannot be in a day", group.first_id)));
    }
    let index = vfs.open_write(&index_path).map_err(|e| Error::io(&index_path, "open", e))?;
    let have = index.len().map_err(|e| Error::io(&index_path, "stat", e))? / INDEX_ENTRY_LEN as u64;
    let want = match walk(vfs, &dir, group)? {
        Ok(entries) => entries,
        Err(why) => match &group.data {
            // A carried group's data was acknowledged with the journal alone.
            Some(data) if have >= group.first_id => {
                if let Err(why) = put_back(vfs, &dir, group, data)? {
                    return Ok(Restored::NotOnDisk(why));
                }
                tracing::warn!(date = %group.date, first_id = group.first_id, records = count, %why,
                    "restored from the journal: the data of a group a crash left unwritten or damaged");
                match walk(vfs, &dir, group)? {
                    Ok(entries) => entries,
                    Err(why) => return Ok(Restored::NotOnDisk(why)),
                }
            }
            _ => return Ok(Restored::NotOnDisk(why)),
        },
    };
    if have < group.first_id {
        return Ok(Restored::Gap { have });
    }
    let on_disk = read_entries(index.as_ref(), &index_path, group.first_id, have.min(end))?;
    let from = on_disk.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(on_disk.len());
    if from == want.len() {
        return Ok(Restored::Whole);
    }
    // The data may still be only in the page cache: a kill -9 can come before the group's
    // data sync ended (the group was then never acknowledged, but the CRC matched). The
    // entries must not reach the disk before the data does, nor before the folder entry
    // of a data file the group created.
    let mut synced: Vec<i16> = Vec::new();
    for e in &want[from..] {
        if !synced.contains(&e.data_file_index) {
            let path = data_file_path(&dir, e.data_file_index);
            let data = vfs.open_write(&path).map_err(|e| Error::io(&path, "open", e))?;
            data.sync_data().map_err(|e| Error::io(&path, "sync", e))?;
            synced.push(e.data_file_index);
        }
    }
    vfs.sync_dir(&dir).map_err(|e| Error::io(&dir, "sync", e))?;
    let bytes: Vec<u8> = want[from..].iter().flat_map(IndexEntry::encode).collect();
    let at = group.first_id + from as u64;
    index.write_all_at(&bytes, at * INDEX_ENTRY_LEN as u64).map_err(|e| Error::io(&index_path, "write", e))?;
    Ok(Restored::Rewrote { from: at, count: end - at })
}

/// Writes a carried group's bytes back into its data file (one: see [`IndexGroup::plan`]),
/// or says why they cannot be (the caller syncs the file before writing entries to it).
fn put_back(vfs: &dyn Vfs, dir: &Path, group: &IndexGroup, data: &[u8]) -> Result<std::result::Result<(), String>> {
    if crc32fast::hash(data) != group.crc {
        return Ok(Err("its carried bytes are not what the group wrote (CRC mismatch)".into()));
    }
    let last = group.first_id + group.count() - 1;
    if data_file_index(group.first_id) != data_file_index(last) {
        return Ok(Err("a carried group spans two data files".into()));
    }
    let path = data_file_path(dir, data_file_index(group.first_id));
    let file = vfs.open_write(&path).map_err(|e| Error::io(&path, "open", e))?;
    let len = file.len().map_err(|e| Error::io(&path, "stat", e))?;
    if len < group.first_offset {
        return Ok(Err(format!("{} ends at {len}, before the group's first record", path.display())));
    }
    file.write_all_at(data, group.first_offset).map_err(|e| Error::io(&path, "write", e))?;
    Ok(Ok(()))
}

/// The index entries of the group's records as the data files hold them, or why they do
/// not (a record not whole, or bytes other than the group wrote).
fn walk(vfs: &dyn Vfs, dir: &Path, group: &IndexGroup) -> Result<std::result::Result<Vec<IndexEntry>, String>> {
    let mut entries = Vec::new();
    let mut crc = crc32fast::Hasher::new();
    let mut file: Option<(i16, Forward)> = None;
    let mut offset = group.first_offset;
    let mut id = group.first_id;
    for &(ty, n) in &group.types {
        for _ in 0..n {
            let file_index = data_file_index(id);
            if id != group.first_id && id.is_multiple_of(RECORDS_PER_DATA_FILE) {
                offset = 0;
            }
            let path = data_file_path(dir, file_index);
            if file.as_ref().map(|f| f.0) != Some(file_index) {
                let f = match vfs.open_read(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Ok(Err(format!("{} does not exist", path.display())));
                    }
                    Err(e) => return Err(Error::io(&path, "open", e)),
                };
                let len = f.len().map_err(|e| Error::io(&path, "stat", e))?;
                file = Some((file_index, Forward::new(f, len)));
            }
            let (_, f) = file.as_mut().expect("opened above");
            if offset.checked_add(RECORD_HEADER_LEN as u64).is_none_or(|end| end > f.len) {
                return Ok(Err(format!("record {id} at offset {offset} is past the end of its data file")));
            }
            let (mut h, mut filled) = ([0u8; RECORD_HEADER_LEN], 0);
            f.feed(offset, RECORD_HEADER_LEN as u64, &mut |b| {
                h[filled..filled + b.len()].copy_from_slice(b);
                filled += b.len();
            })
            .map_err(|e| Error::io(&path, "read", e))?;
            let header = RecordHeader::decode(&h);
            if let Err(why) = header.check(offset, f.len) {
                return Ok(Err(format!("record {id}: {why}")));
            }
            crc.update(&h);
            f.feed(offset + RECORD_HEADER_LEN as u64, header.length as u64, &mut |b| crc.update(b))
                .map_err(|e| Error::io(&path, "read", e))?;
            entries.push(IndexEntry { data_file_index: file_index, data_offset: offset as i64, data_type: ty });
            offset = header.end(offset);
            id += 1;
        }
    }
    if crc.finalize() != group.crc {
        return Ok(Err("its data is not what the group wrote (CRC mismatch)".into()));
    }
    Ok(Ok(entries))
}

/// A data file read forward through a buffer: a group's records are walked in a few large
/// reads, not two per record, and a large record is never held whole.
struct Forward {
    file: Arc<dyn StoreFile>,
    len: u64,
    buf: Vec<u8>,
    /// The file offset of `buf[0]`.
    at: u64,
}

impl Forward {
    const BUF: u64 = 1 << 20;

    fn new(file: Arc<dyn StoreFile>, len: u64) -> Forward {
        Forward { file, len, buf: Vec::new(), at: 0 }
    }

    /// Passes bytes `offset .. offset + n` (within the file) to `out`, in pieces.
    fn feed(&mut self, mut offset: u64, mut n: u64, out: &mut dyn FnMut(&[u8])) -> std::io::Result<()> {
        while n > 0 {
            if !(self.at..self.at + self.buf.len() as u64).contains(&offset) {
                let size = Self::BUF.min(self.len.saturating_sub(offset));
                self.buf.resize(size as usize, 0);
                self.file.read_exact_at(&mut self.buf, offset)?;
                self.at = offset;
                if size == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
            }
            let from = (offset - self.at) as usize;
            let take = (n as usize).min(self.buf.len() - from);
            out(&self.buf[from..from + take]);
            offset += take as u64;
            n -= take as u64;
        }
        Ok(())
    }
}

fn read_entries(index: &dyn StoreFile, path: &Path, from: u64, to: u64) -> Result<Vec<IndexEntry>> {
    let mut bytes = vec![0u8; (to.saturating_sub(from) as usize) * INDEX_ENTRY_LEN];
    index.read_exact_at(&mut bytes, from * INDEX_ENTRY_LEN as u64).map_err(|e| Error::io(path, "read", e))?;
    Ok(bytes.chunks_exact(INDEX_ENTRY_LEN).map(IndexEntry::decode).collect())
}
