//! Columnar batches: many records of one day read in one call, as columns.
//!
//! A binding whose language pays for an object per record (a Python object, a JavaScript
//! object, a Go copy) reads a store many times slower through [`Reader::next_record`] than
//! Rust does. [`Reader::next_columns`] hands over up to thousands of records at once as a
//! few flat arrays, which a binding turns into a few language objects per batch (a `bytes`
//! and three arrays, say) instead of several per record. A batch never spans two days, so
//! the date is one value and the ids are consecutive.

use std::time::Duration;

use crate::date::Date;
use crate::error::Result;
use crate::reader::{Next, Reader};

/// Records per batch when the caller does not say.
pub const DEFAULT_MAX_RECORDS: usize = 16_384;
/// Payload bytes after which a batch takes no more records (it always takes one).
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;

/// Records `first_id ..` of one day, as columns: record `i` has id `first_id + i`, time
/// `times[i]`, type `types[i]` and payload `data[offsets[i] .. offsets[i + 1]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// The day of every record (`None` while the batch is empty).
    pub date: Option<Date>,
    pub first_id: u64,
    /// Unix seconds, as stored.
    pub times: Vec<i32>,
    pub types: Vec<i16>,
    /// `len() + 1` entries from 0: where each payload starts in `data`, then its end.
    pub offsets: Vec<u32>,
    /// Every payload, one after another.
    pub data: Vec<u8>,
}

impl Columns {
    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Record `i`'s payload. Panics when `i >= len()`.
    pub fn payload(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    fn clear(&mut self) {
        self.date = None;
        self.times.clear();
        self.types.clear();
        self.offsets.clear();
        self.offsets.push(0);
        self.data.clear();
    }
}

/// How [`Reader::next_columns`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filled {
    /// The batch holds at least one record.
    Records,
    /// As [`Next::End`]: the batch is empty.
    End,
    /// As [`Next::Timeout`]: the batch is empty.
    Timeout,
}

impl Reader {
    /// Fills `out` (cleared first) with the next records of one day: waits up to `timeout`
    /// for the first one, as [`next_record`](Reader::next_record) does, then takes only
    /// those already there, up to `max_records` (at least 1) and until the payloads reach
    /// `max_bytes`, never past the end of the first one's day. An error after the first
    /// record ends the batch early; the next call meets it again.
    pub fn next_columns(
        &mut self,
        out: &mut Columns,
        max_records: usize,
        max_bytes: usize,
        timeout: Option<Duration>,
    ) -> Result<Filled> {
        out.clear();
        let first = match self.next_record(timeout)? {
            Next::Record(r) => r,
            Next::End => return Ok(Filled::End),
            Next::Timeout => return Ok(Filled::Timeout),
        };
        out.date = Some(first.date);
        out.first_id = first.id;
        let mut record = first;
        loop {
            // A payload is at most 4 MiB, and a batch ends once past `max_bytes`: the
            // offsets fit in u32 whatever the caller asks.
            out.data.extend_from_slice(&record.data);
            out.offsets.push(out.data.len() as u32);
            out.times.push(record.time);
            out.types.push(record.ty);
            if out.len() >= max_records || out.data.len() >= max_bytes.min(u32::MAX as usize / 2) {
                break;
            }
            record = match self.next_ready_on_day() {
                Ok(Some(r)) => r,
                Ok(None) | Err(_) => break,
            };
        }
        Ok(Filled::Records)
    }
}
