//! Readers of a store folder: `msl_reader` and the `msl_record` that `msl_reader_next`
//! fills in (its payload borrowed from the reader).

use std::ffi::c_char;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use modsynclog_core::{Columns, Date, Next, Reader, Record, Stopper};

use crate::args::{str_arg, timeout_arg};
use crate::error::{Failure, MslStatus, call, call_void, invalid, ok};

/// A reader of a store folder. Use it from one thread at a time (`msl_reader_stop` excepted,
/// which any thread may call while the reader is in use).
pub struct MslReader {
    stopper: Stopper,
    pub(crate) inner: Mutex<ReaderState>,
}

pub(crate) struct ReaderState {
    pub(crate) reader: Reader,
    /// The records last returned (one by `msl_reader_next`, up to a batch by
    /// `msl_reader_next_batch`); their `msl_record.data` point into them.
    current: Vec<Record>,
    /// The last day seen and its `date` field: formatting it for every record would cost
    /// more than reading the record.
    date: Option<(Date, [c_char; 11])>,
    /// The batch `msl_reader_next_columns` returned last; its `msl_columns` point into it.
    pub(crate) columns: Columns,
}

impl ReaderState {
    /// The C view of `record` (its payload borrowed from `record`).
    fn view(&mut self, record: &Record) -> MslRecord {
        let date = match self.date {
            Some((d, field)) if d == record.date => field,
            _ => {
                let field = date_field(record.date);
                self.date = Some((record.date, field));
                field
            }
        };
        MslRecord {
            date,
            id: record.id,
            time: record.time,
            r#type: record.ty,
            data: record.data.as_ptr(),
            len: record.data.len(),
        }
    }

    /// Reads up to `cap` (>= 1) records into `out`, waiting up to `timeout` for the first
    /// only; the records before become invalid. Returns how many (>= 1); the end, a
    /// timeout or an error before the first record is the failure. An error met after
    /// some records ends the batch; the next read meets it again.
    ///
    /// # Safety
    /// `out` is writable for `cap` records.
    unsafe fn read_into(
        &mut self,
        out: *mut MslRecord,
        cap: usize,
        timeout: Option<Duration>,
    ) -> Result<usize, Failure> {
        self.current.clear();
        let mut wait = timeout;
        while self.current.len() < cap {
            let record = match self.reader.next_record(wait) {
                Ok(Next::Record(record)) => record,
                Ok(Next::End) if self.current.is_empty() => {
                    return Err(Failure::Status(MslStatus::MSL_END, "no more records".into()));
                }
                Ok(Next::Timeout) if self.current.is_empty() => {
                    return Err(Failure::Status(MslStatus::MSL_TIMEOUT, "no record arrived before the timeout".into()));
                }
                Err(e) if self.current.is_empty() => return Err(e.into()),
                Ok(_) | Err(_) => break,
            };
            let rec = self.view(&record);
            // SAFETY: `out` is writable for `cap` records and `len < cap`.
            unsafe { out.add(self.current.len()).write(rec) };
            self.current.push(record);
            wait = Some(Duration::ZERO);
        }
        Ok(self.current.len())
    }
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
        let handle = MslReader {
            stopper: reader.stopper(),
            inner: Mutex::new(ReaderState { reader, current: Vec::new(), date: None, columns: Columns::default() }),
        };
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
        let mut state = unsafe { &*r }.inner.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: non-NULL and writable (for one record) by the caller's contract.
        unsafe { state.read_into(out, 1, timeout_arg(timeout_ms)) }?;
        ok()
    })
}

/// Reads up to `cap` records into `out[0..*n]`: waits like `msl_reader_next` for the first
/// one, then takes only records already there. The statuses are those of
/// `msl_reader_next` (`MSL_OK` with `*n` >= 1; `*n` = 0 otherwise). An error met after
/// some records is reported by the next call. Every `out[i].data` is borrowed: valid until
/// the next `msl_reader_next`, `msl_reader_next_batch` or `msl_reader_free` on this reader.
/// One call per batch instead of per record: a binding (Go) pays one foreign call per
/// batch, and a C scan runs about 10% faster.
///
/// # Safety
/// `r` is NULL or a live reader; `out` is NULL or writable for `cap` records; `n` is NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_reader_next_batch(
    r: *const MslReader,
    out: *mut MslRecord,
    cap: usize,
    n: *mut usize,
    timeout_ms: i64,
) -> MslStatus {
    call(|| {
        if n.is_null() {
            return Err(invalid("n is NULL"));
        }
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { n.write(0) };
        if r.is_null() {
            return Err(invalid("reader is NULL"));
        }
        if out.is_null() || cap == 0 {
            return Err(invalid("out is NULL or cap is 0"));
        }
        // SAFETY: a live reader by the caller's contract.
        let mut state = unsafe { &*r }.inner.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: writable for `cap` records by the caller's contract.
        let got = unsafe { state.read_into(out, cap, timeout_arg(timeout_ms)) }?;
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { n.write(got) };
        ok()
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
