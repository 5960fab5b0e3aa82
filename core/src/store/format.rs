//! The on-disk format of a day folder, byte for byte (SPEC section 2).
//!
//! Every constant of the format lives here, with the encoders and decoders of the two
//! fixed-size structures: the 12-byte index entry and the 10-byte data record header.
//! All integers are big-endian.

use std::path::{Path, PathBuf};

/// First two bytes of every data record.
pub const MAGIC: i16 = 19334; // 0x4B86
/// Size of one index entry: `data_file_index: i16 | data_offset: i64 | data_type: i16`.
pub const INDEX_ENTRY_LEN: usize = 12;
/// Size of a data record header: `magic: i16 | time: i32 | length: i32`.
pub const RECORD_HEADER_LEN: usize = 10;
/// Records per data file; record `i` lives in file `i / RECORDS_PER_DATA_FILE`.
pub const RECORDS_PER_DATA_FILE: u64 = 1_000_000;
/// The largest payload a record can carry (its length is an `i32`).
pub const MAX_RECORD_LEN: usize = i32::MAX as usize - RECORD_HEADER_LEN;
/// The largest record count a day can hold (the data file index is an `i16`).
pub const MAX_RECORDS_PER_DAY: u64 = (i16::MAX as u64 + 1) * RECORDS_PER_DATA_FILE;

pub const INDEX_FILE: &str = "index";
pub const FINISH_FILE: &str = "finish";

/// `data` followed by the file index zero-padded to six digits.
pub fn data_file_name(file_index: i16) -> String {
    format!("data{file_index:06}")
}

pub fn data_file_path(day_dir: &Path, file_index: i16) -> PathBuf {
    day_dir.join(data_file_name(file_index))
}

/// Which data file holds record `id`.
pub fn data_file_index(id: u64) -> i16 {
    (id / RECORDS_PER_DATA_FILE) as i16
}

/// One index entry: where record `id` is and what type it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub data_file_index: i16,
    pub data_offset: i64,
    pub data_type: i16,
}

impl IndexEntry {
    pub fn encode(&self) -> [u8; INDEX_ENTRY_LEN] {
        let mut b = [0u8; INDEX_ENTRY_LEN];
        b[0..2].copy_from_slice(&self.data_file_index.to_be_bytes());
        b[2..10].copy_from_slice(&self.data_offset.to_be_bytes());
        b[10..12].copy_from_slice(&self.data_type.to_be_bytes());
        b
    }

    /// Decodes the first 12 bytes of `b`. Panics if `b` is shorter; callers slice exactly.
    pub fn decode(b: &[u8]) -> IndexEntry {
        IndexEntry {
            data_file_index: i16::from_be_bytes([b[0], b[1]]),
            data_offset: i64::from_be_bytes(b[2..10].try_into().expect("8 bytes")),
            data_type: i16::from_be_bytes([b[10], b[11]]),
        }
    }
}

/// The header in front of every payload in a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub magic: i16,
    pub time: i32,
    pub length: i32,
}

impl RecordHeader {
    pub fn new(time: i32, length: usize) -> RecordHeader {
        debug_assert!(length <= MAX_RECORD_LEN);
        RecordHeader { magic: MAGIC, time, length: length as i32 }
    }

    pub fn encode(&self) -> [u8; RECORD_HEADER_LEN] {
        let mut b = [0u8; RECORD_HEADER_LEN];
        b[0..2].copy_from_slice(&self.magic.to_be_bytes());
        b[2..6].copy_from_slice(&self.time.to_be_bytes());
        b[6..10].copy_from_slice(&self.length.to_be_bytes());
        b
    }

    /// Decodes the first 10 bytes of `b`. Panics if `b` is shorter; callers slice exactly.
    pub fn decode(b: &[u8]) -> RecordHeader {
        RecordHeader {
            magic: i16::from_be_bytes([b[0], b[1]]),
            time: i32::from_be_bytes(b[2..6].try_into().expect("4 bytes")),
            length: i32::from_be_bytes(b[6..10].try_into().expect("4 bytes")),
        }
    }

    /// What is wrong with this header, if anything, for a record that must end by `file_len`.
    pub fn check(&self, offset: u64, file_len: u64) -> Result<(), String> {
        if self.magic != MAGIC {
            return Err(format!("bad magic {:#06x} at offset {offset} (expected {MAGIC:#06x})", self.magic as u16));
        }
        if self.length < 0 {
            return Err(format!("negative length {} at offset {offset}", self.length));
        }
        let end = offset + RECORD_HEADER_LEN as u64 + self.length as u64;
        if end > file_len {
            return Err(format!(
                "record at offset {offset} of length {} ends at {end}, past the end of the file ({file_len} bytes)",
                self.length
            ));
        }
        Ok(())
    }

    /// Offset of the record after this one.
    pub fn end(&self, offset: u64) -> u64 {
        offset + RECORD_HEADER_LEN as u64 + self.length.max(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_entry_round_trips_and_matches_spec_bytes() {
        let e = IndexEntry { data_file_index: 1, data_offset: 0x0102030405060708, data_type: -1 };
        let b = e.encode();
        assert_eq!(b, [0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff]);
        assert_eq!(IndexEntry::decode(&b), e);
        let min = IndexEntry { data_file_index: 0, data_offset: 0, data_type: i16::MIN };
        assert_eq!(&min.encode()[10..], &[0x80, 0x00]);
    }

    #[test]
    fn header_round_trips_and_matches_spec_bytes() {
        let h = RecordHeader::new(-1, 5);
        let b = h.encode();
        assert_eq!(b, [0x4b, 0x86, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 5]);
        assert_eq!(RecordHeader::decode(&b), h);
        assert!(h.check(0, 15).is_ok());
        assert!(h.check(1, 15).unwrap_err().contains("past the end"));
        let bad = RecordHeader { magic: 0, time: 0, length: 0 };
        assert!(bad.check(0, 100).unwrap_err().contains("bad magic 0x0000"));
        assert_eq!(h.end(100), 115);
    }

    #[test]
    fn names_and_file_indices() {
        assert_eq!(data_file_name(0), "data000000");
        assert_eq!(data_file_name(12), "data000012");
        assert_eq!(data_file_index(999_999), 0);
        assert_eq!(data_file_index(1_000_000), 1);
        assert_eq!(MAGIC.to_be_bytes(), [0x4b, 0x86]);
    }
}
