//! `msl_reader_next_columns`: a day's records in one call, as columns (`msl_columns`),
//! for callers that would rather not walk one `msl_record` at a time (the Go binding).

use std::ffi::c_char;
use std::ptr;

use modsynclog_core::columns::{DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS};
use modsynclog_core::{Columns, Filled};

use crate::args::timeout_arg;
use crate::error::{Failure, MslStatus, call, invalid, ok};
use crate::reader::{MslReader, date_field};

/// Records `first_id ..` of one day, as `msl_reader_next_columns` returns them: record `i`
/// (`i < count`) has id `first_id + i`, time `times[i]`, type `types[i]` and payload
/// `data[offsets[i] .. offsets[i + 1]]`. Every array is BORROWED from the reader, valid
/// until the next `msl_reader_next_columns` or `msl_reader_free` on it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MslColumns {
    /// The day of every record, `YYYY-MM-DD`, NUL-terminated.
    pub date: [c_char; 11],
    /// The first record's number within its day; the others follow it.
    pub first_id: u64,
    /// How many records (0 unless the status is `MSL_OK`).
    pub count: usize,
    /// Unix seconds, as stored: `count` entries.
    pub times: *const i32,
    /// The data types: `count` entries.
    pub types: *const i16,
    /// `count + 1` entries from 0: where each payload starts in `data`, then its end.
    pub offsets: *const u32,
    /// Every payload, one after another (`offsets[count]` bytes).
    pub data: *const u8,
}

impl MslColumns {
    const EMPTY: MslColumns = MslColumns {
        date: [0; 11],
        first_id: 0,
        count: 0,
        times: ptr::null(),
        types: ptr::null(),
        offsets: ptr::null(),
        data: ptr::null(),
    };

    fn of(c: &Columns) -> MslColumns {
        MslColumns {
            date: c.date.map(date_field).unwrap_or([0; 11]),
            first_id: c.first_id,
            count: c.len(),
            times: c.times.as_ptr(),
            types: c.types.as_ptr(),
            offsets: c.offsets.as_ptr(),
            data: c.data.as_ptr(),
        }
    }
}

/// Reads the next records of one day into `*out`: waits like `msl_reader_next` for the
/// first one, then takes only records already there, up to `max_records` and until the
/// payloads reach `max_bytes` (0: the defaults, 16384 records and 1 MiB; at least one
/// record is taken whatever its size). A batch never spans two days. The statuses are
/// those of `msl_reader_next` (`MSL_OK` with `out->count` >= 1; on any other status `*out`
/// is empty, its pointers NULL); an error met after some records is reported by the next
/// call.
///
/// # Safety
/// `r` is NULL or a live reader; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_reader_next_columns(
    r: *const MslReader,
    out: *mut MslColumns,
    max_records: usize,
    max_bytes: usize,
    timeout_ms: i64,
) -> MslStatus {
    call(|| {
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out.write(MslColumns::EMPTY) };
        if r.is_null() {
            return Err(invalid("reader is NULL"));
        }
        let max_records = if max_records == 0 { DEFAULT_MAX_RECORDS } else { max_records };
        let max_bytes = if max_bytes == 0 { DEFAULT_MAX_BYTES } else { max_bytes };
        // SAFETY: a live reader by the caller's contract.
        let mut state = unsafe { &*r }.inner.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *state;
        match state.reader.next_columns(&mut state.columns, max_records, max_bytes, timeout_arg(timeout_ms))? {
            Filled::Records => {}
            Filled::End => return Err(Failure::Status(MslStatus::MSL_END, "no more records".into())),
            Filled::Timeout => {
                return Err(Failure::Status(MslStatus::MSL_TIMEOUT, "no record arrived before the timeout".into()));
            }
        }
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out.write(MslColumns::of(&state.columns)) };
        ok()
    })
}
