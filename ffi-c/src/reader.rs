//! Readers of a store folder: `msl_reader` and the `msl_record` that `msl_reader_next`
//! fills in (its payload borrowed from the reader).

use std::ffi::c_char;
use std::io::Write as _;
use std::sync::Mutex;

use modsynclog_core::{Date, Next, Reader, Record, Stopper};

use crate::args::{str_arg, timeout_arg};
use crate::error::{Failure, MslStatus, call, call_void, invalid, ok};

/// A reader of a store folder. Use it from one thread at a time (`msl_reader_stop` excepted,
/// which any thread may call while the reader is in use).
pub struct MslReader {
    stopper: Stopper,
    inner: Mutex<ReaderState>,
}

struct ReaderState {
    reader: Reader,
    /// The record last returned; `msl_record.data` points into it.
    current: Option<Record>,
}

/// One record as `msl_reader_next` returns it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MslRecord {
    /// The day, `YYYY-MM-DD`, NUL-terminated.
    pub date: [c_char; 11],
    /// The record's number within its day, from 0.
    pub id: u64,
    /// Unix seconds, as stored.
    pub time: i32,
    /// The record's data type.
    pub r#type: i16,
    /// The payload: BORROWED from the reader, valid until the next `msl_reader_next` or
    /// `msl_reader_free` on that reader. Copy it to keep it. Not NUL-terminated; when `len`
    /// is 0 it must not be dereferenced.
    pub data: *const u8,
    /// The payload's length in bytes.
    pub len: usize,
}

/// Opens a reader of the store folder `dir`, starting at record `id` of `date`
/// ("YYYY-MM-DD", or the first existing day after it; NULL = the earliest day). With
/// `follow` it waits for new records and days instead of ending. Stores it in `*out` (NULL
/// on failure): `MSL_NOT_FOUND` when the folder does not exist, `MSL_INVALID_ARGUMENT` for
/// a malformed date. Free it with `msl_reader_free`.
///
/// # Safety
/// `dir` and `date` are NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_reader_open(
    dir: *const c_char,
    date: *const c_char,
    id: u64,
    follow: bool,
    out: *mut *mut MslReader,
) -> MslStatus {
    call(|| {
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        // SAFETY: non-NULL and writable.
        unsafe { out.write(std::ptr::null_mut()) };
        // SAFETY: caller contract.
        let dir = unsafe { str_arg(dir, "dir") }?;
        let date = if date.is_null() {
            None
        } else {
            // SAFETY: caller contract.
            Some(Date::parse(unsafe { str_arg(date, "date") }?)?)
        };
        let reader = Reader::open(dir)?;
        let reader = match date {
            Some(d) => reader.from(d, id),
            None => reader.from_id(id),
        }
        .follow(follow);
        let handle = MslReader { stopper: reader.stopper(), inner: Mutex::new(ReaderState { reader, current: None }) };
        // SAFETY: non-NULL and writable.
        unsafe { out.write(Box::into_raw(Box::new(handle))) };
        ok()
    })
}

pub(crate) fn date_field(date: Date) -> [c_char; 11] {
    let mut buf = [0u8; 11];
    // "YYYY-MM-DD" is exactly 10 bytes; the 11th stays NUL.
    let _ = write!(&mut buf[..10], "{date}");
    buf.map(|b| b as c_char)
}

/// Reads the next record into `*out`: `MSL_OK` (a record), `MSL_END` (no more records, or
/// the reader was stopped), `MSL_TIMEOUT` (following, and nothing arrived within
/// `timeout_ms`; negative waits as long as it takes), or an error. `out->data` is borrowed:
/// valid until the next `msl_reader_next` or `msl_reader_free` on this reader.
///
/// # Safety
/// `r` is NULL or a live reader; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_reader_next(r: *const MslReader, out: *mut MslRecord, timeout_ms: i64) -> MslStatus {
    call(|| {
        if r.is_null() {
            return Err(invalid("reader is NULL"));
        }
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        // SAFETY: a live reader by the caller's contract.
        let handle = unsafe { &*r };
        let mut state = handle.inner.lock().unwrap_or_else(|p| p.into_inner());
        state.current = None;
        match state.reader.next_record(timeout_arg(timeout_ms))? {
            Next::Record(record) => {
                let rec = MslRecord {
                    date: date_field(record.date),
                    id: record.id,
                    time: record.time,
                    r#type: record.ty,
                    data: record.data.as_ptr(),
                    len: record.data.len(),
                };
                state.current = Some(record);
                // SAFETY: non-NULL and writable by the caller's contract.
                unsafe { out.write(rec) };
                ok()
            }
            Next::End => Err(Failure::Status(MslStatus::MSL_END, "no more records".into())),
            Next::Timeout => {
                Err(Failure::Status(MslStatus::MSL_TIMEOUT, "no record arrived before the timeout".into()))
            }
        }
    })
}

/// Stops the reader: a `msl_reader_next` blocked in another thread returns `MSL_END`, and
/// so does every later one. Thread-safe; may be called while another thread is inside
/// `msl_reader_next` (but not after `msl_reader_free`).
///
/// # Safety
/// `r` is NULL or a live reader.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_reader_stop(r: *const MslReader) -> MslStatus {
    call(|| {
        if r.is_null() {
            return Err(invalid("reader is NULL"));
        }
        // SAFETY: a live reader by the caller's contract.
        unsafe { &*r }.stopper.stop();
        ok()
    })
}

/// Frees the reader (and the data of the record it returned last). NULL does nothing. No
/// other call on `r` may be running or follow.
///
/// # Safety
/// `r` is NULL or a reader from `msl_reader_open` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_reader_free(r: *mut MslReader) {
    call_void(|| {
        if !r.is_null() {
            // SAFETY: a live reader from `Box::into_raw`, freed once by the caller's contract.
            drop(unsafe { Box::from_raw(r) });
        }
    });
}
