//! C ABI of modsynclog: `libmodsynclog.so` / `libmodsynclog.a` and `include/modsynclog.h`.
//!
//! This crate only converts types and maps errors; every behaviour lives in
//! `modsynclog-core`. Rules every entry point follows:
//!
//! * it never unwinds into C: a panic is caught and reported as `MSL_PANIC`;
//! * a NULL pointer where one is required, or a string that is not UTF-8, gives
//!   `MSL_INVALID_ARGUMENT` with a message;
//! * its outcome is recorded for the calling thread: `msl_last_error()` /
//!   `msl_last_error_code()` describe the last call on that thread;
//! * nothing is handed out without a matching `*_free`.

#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::Duration;

use modsynclog_core::sdk::{self, Producer, ProducerOptions};
use modsynclog_core::{Date, Error, ErrorKind, Next, Reader, Record, Stopper};

/// The outcome of a call. `MSL_OK` is success; the error statuses 1..14 have the same
/// numbers as the core's `ErrorKind::code()` and never change meaning. `MSL_TIMEOUT` (5) is
/// both the error of a `flush` that ran out of time and the normal "nothing arrived in
/// time" outcome of `msl_reader_next`. `MSL_END` (100) means a reader has no more records
/// (or was stopped). `MSL_PANIC` (101) means a bug inside the library was caught.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MslStatus {
    /// Success.
    MSL_OK = 0,
    /// A caller passed a value that cannot be accepted (NULL pointer, bad date, not UTF-8).
    MSL_INVALID_ARGUMENT = 1,
    /// A day, folder or file that was asked for does not exist.
    MSL_NOT_FOUND = 2,
    /// Files on disk or bytes on the wire do not follow the format.
    MSL_CORRUPT = 3,
    /// The operating system failed an I/O call.
    MSL_IO = 4,
    /// A wait ran out of time (`msl_flush`), or no record arrived in time (`msl_reader_next`).
    MSL_TIMEOUT = 5,
    /// The object was closed, or the process is stopping.
    MSL_CLOSED = 6,
    /// The global SDK was used before `msl_init`.
    MSL_NOT_INITIALIZED = 7,
    /// `msl_init` was called again with a different address.
    MSL_ALREADY_INITIALIZED = 8,
    /// A record, frame or batch exceeds a configured limit.
    MSL_TOO_LARGE = 9,
    /// The peer broke the protocol.
    MSL_PROTOCOL = 10,
    /// A token was missing or wrong.
    MSL_UNAUTHENTICATED = 11,
    /// The server cannot be reached or refused the request for now.
    MSL_UNAVAILABLE = 12,
    /// A bounded queue stayed full past its timeout.
    MSL_QUEUE_FULL = 13,
    /// The request conflicts with the current state (store locked, out-of-order append).
    MSL_CONFLICT = 14,
    /// `msl_reader_next`: no more records (end of the folder, or the reader was stopped).
    MSL_END = 100,
    /// A bug: the library caught an internal panic (see `msl_last_error()`).
    MSL_PANIC = 101,
}

impl MslStatus {
    fn from_kind(kind: ErrorKind) -> MslStatus {
        use MslStatus::*;
        match kind {
            ErrorKind::InvalidArgument => MSL_INVALID_ARGUMENT,
            ErrorKind::NotFound => MSL_NOT_FOUND,
            ErrorKind::Corrupt => MSL_CORRUPT,
            ErrorKind::Io => MSL_IO,
            ErrorKind::Timeout => MSL_TIMEOUT,
            ErrorKind::Closed => MSL_CLOSED,
            ErrorKind::NotInitialized => MSL_NOT_INITIALIZED,
            ErrorKind::AlreadyInitialized => MSL_ALREADY_INITIALIZED,
            ErrorKind::TooLarge => MSL_TOO_LARGE,
            ErrorKind::Protocol => MSL_PROTOCOL,
            ErrorKind::Unauthenticated => MSL_UNAUTHENTICATED,
            ErrorKind::Unavailable => MSL_UNAVAILABLE,
            ErrorKind::QueueFull => MSL_QUEUE_FULL,
            ErrorKind::Conflict => MSL_CONFLICT,
            // A kind added to the core after this binding was written.
            _ => MSL_PANIC,
        }
    }
}

/// Options of `msl_producer_new`. Fill it with `msl_producer_options_default` first, then
/// change what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MslProducerOptions {
    /// Bearer token for the native services; NULL for none. Copied by `msl_producer_new`.
    pub token: *const c_char,
    /// A batch is sent once it holds this many records (default 1000)...
    pub batch_max_records: usize,
    /// ...or this many payload bytes (default 1 MiB)...
    pub batch_max_bytes: usize,
    /// ...or its oldest record waited this many milliseconds (default 5).
    pub linger_ms: u32,
    /// Records queued and not yet sent before a commit waits for room (default 100000).
    pub queue_capacity: usize,
    /// How long a commit waits for room in a full queue before `MSL_QUEUE_FULL` (default 5000 ms).
    pub enqueue_timeout_ms: u32,
    /// Largest payload a commit accepts (default 4 MiB, the server's default limit).
    pub max_record_len: usize,
    /// Speak the legacy `grpc_proto_log.Log` service (to talk to the original Go server).
    pub legacy: bool,
}

/// A producer: sends records to a server in the background. Thread-safe: commit and flush
/// from any number of threads; free it once, after every other call on it returned.
pub struct MslProducer {
    inner: Producer,
}

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

// ---------------------------------------------------------------------------------------
// Outcome of the last call, per thread.

struct LastError {
    status: MslStatus,
    /// `None` after a success (reads as ""): the success path allocates nothing.
    message: Option<CString>,
}

thread_local! {
    static LAST: RefCell<LastError> = const { RefCell::new(LastError { status: MslStatus::MSL_OK, message: None }) };
}

fn record_outcome(status: MslStatus, message: Option<String>) {
    let message = message.map(|m| CString::new(m.replace('\0', "\\0")).unwrap_or_default());
    // `try_with`: a call during thread teardown must not panic.
    let _ = LAST.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut()
            && (status != MslStatus::MSL_OK || last.status != MslStatus::MSL_OK || last.message.is_some())
        {
            *last = LastError { status, message };
        }
    });
}

/// What a call failed with, before it becomes a status.
enum Failure {
    Core(Error),
    Status(MslStatus, String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Core(e)
    }
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::Status(MslStatus::MSL_INVALID_ARGUMENT, message.into())
}

/// Runs `f`, catching panics, and records its outcome for `msl_last_error`.
fn call(f: impl FnOnce() -> Result<MslStatus, Failure>) -> MslStatus {
    let (status, message) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(status)) => (status, None),
        Ok(Err(Failure::Core(e))) => (MslStatus::from_kind(e.kind()), Some(e.to_string())),
        Ok(Err(Failure::Status(status, message))) => (status, Some(message)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            (MslStatus::MSL_PANIC, Some(format!("internal error (a bug in modsynclog): {what}")))
        }
    };
    record_outcome(status, message);
    status
}

/// Like [`call`] for functions that return nothing (the `*_free` functions).
fn call_void(f: impl FnOnce()) {
    call(|| {
        f();
        Ok(MslStatus::MSL_OK)
    });
}

/// A required, NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map_err(|e| invalid(format!("{name} is not valid UTF-8: {e}")))
}

/// A byte buffer argument; NULL is accepted when `len` is 0.
///
/// # Safety
/// `ptr` is NULL or valid for reading `len` bytes.
unsafe fn bytes_arg<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(invalid(format!("{name} is NULL but its length is {len}")));
    }
    // SAFETY: non-NULL and valid for `len` bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// `timeout_ms < 0` waits forever.
fn timeout_arg(timeout_ms: i64) -> Option<Duration> {
    u64::try_from(timeout_ms).ok().map(Duration::from_millis)
}

fn ok() -> Result<MslStatus, Failure> {
    Ok(MslStatus::MSL_OK)
}

// ---------------------------------------------------------------------------------------
// Errors and version.

/// The message of the last call made on this thread: "" after a success, otherwise what
/// went wrong (or, for `MSL_END` / `MSL_TIMEOUT`, what happened). The string belongs to the
/// library and stays valid until the next `msl_` call on this thread (other than
/// `msl_last_error` / `msl_last_error_code` / `msl_version`). Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn msl_last_error() -> *const c_char {
    catch_unwind(|| {
        LAST.try_with(|last| last.borrow().message.as_ref().map_or(c"".as_ptr(), |m| m.as_ptr()))
            .unwrap_or(c"".as_ptr())
    })
    .unwrap_or(c"".as_ptr())
}

/// The status of the last call made on this thread (`MSL_OK` when it succeeded or when no
/// call was made yet).
#[unsafe(no_mangle)]
pub extern "C" fn msl_last_error_code() -> MslStatus {
    catch_unwind(|| LAST.try_with(|last| last.borrow().status).unwrap_or(MslStatus::MSL_OK))
        .unwrap_or(MslStatus::MSL_PANIC)
}

/// The library's version, e.g. "0.1.0". A static string; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn msl_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

// ---------------------------------------------------------------------------------------
// The global SDK.

/// Starts the process-wide producer for `addr` ("host:port" or "http://host:port") with
/// default options. Connects lazily: an unreachable server is retried in the background.
/// Calling it again with the same address does nothing (`MSL_OK`); with another address it
/// fails with `MSL_ALREADY_INITIALIZED`.
///
/// # Safety
/// `addr` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_init(addr: *const c_char) -> MslStatus {
    // SAFETY: forwarded caller contract; NULL options mean defaults.
    unsafe { msl_init_with_options(addr, std::ptr::null()) }
}

/// `msl_init` with options (NULL = defaults). The options are ignored when the SDK is
/// already initialized with the same address.
///
/// # Safety
/// `addr` is NULL or a NUL-terminated string; `opts` is NULL or points to options whose
/// `token` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_init_with_options(addr: *const c_char, opts: *const MslProducerOptions) -> MslStatus {
    call(|| {
        // SAFETY: caller contract.
        let addr = unsafe { str_arg(addr, "addr") }?;
        // SAFETY: caller contract.
        let opts = unsafe { options_arg(opts) }?;
        sdk::global::init_with(addr, opts)?;
        ok()
    })
}

/// Queues one record on the global producer (copies `data`); returns without waiting for
/// the network. `data` may be NULL when `len` is 0. Fails with `MSL_NOT_INITIALIZED` before
/// `msl_init`, `MSL_CLOSED` after `msl_close`, `MSL_TOO_LARGE` over the record limit,
/// `MSL_QUEUE_FULL` when the queue stayed full.
///
/// # Safety
/// `data` is NULL or valid for reading `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_commit(r#type: i16, data: *const u8, len: usize) -> MslStatus {
    call(|| {
        // SAFETY: caller contract.
        let data = unsafe { bytes_arg(data, len, "data") }?;
        sdk::global::commit(r#type, bytes_copy(data))?;
        ok()
    })
}

/// Waits until every record committed before this call is acknowledged by the server, at
/// most `timeout_ms` milliseconds (negative: as long as it takes). `MSL_TIMEOUT` when time
/// ran out; another error when the server refused records for good.
#[unsafe(no_mangle)]
pub extern "C" fn msl_flush(timeout_ms: i64) -> MslStatus {
    call(|| {
        sdk::global::flush(timeout_arg(timeout_ms))?;
        ok()
    })
}

/// Flushes (for at most 10 seconds) and stops the global producer. It stays closed for the
/// rest of the process: later commits return `MSL_CLOSED`.
#[unsafe(no_mangle)]
pub extern "C" fn msl_close() -> MslStatus {
    call(|| {
        sdk::global::close()?;
        ok()
    })
}

// ---------------------------------------------------------------------------------------
// Producer objects.

fn bytes_copy(data: &[u8]) -> Vec<u8> {
    data.to_vec()
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

/// # Safety
/// `opts` is NULL or valid, with a `token` that is NULL or NUL-terminated.
unsafe fn options_arg(opts: *const MslProducerOptions) -> Result<ProducerOptions, Failure> {
    if opts.is_null() {
        return Ok(ProducerOptions::default());
    }
    // SAFETY: non-NULL and valid by the caller's contract.
    let o = unsafe { &*opts };
    let token = if o.token.is_null() {
        None
    } else {
        // SAFETY: caller contract.
        Some(unsafe { str_arg(o.token, "opts->token") }?.to_string())
    };
    Ok(ProducerOptions {
        token,
        batch_max_records: o.batch_max_records,
        batch_max_bytes: o.batch_max_bytes,
        linger: ms(o.linger_ms),
        queue_capacity: o.queue_capacity,
        enqueue_timeout: ms(o.enqueue_timeout_ms),
        legacy: o.legacy,
        max_record_len: o.max_record_len,
        ..ProducerOptions::default()
    })
}

/// Fills `*out` with the default options.
///
/// # Safety
/// `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_options_default(out: *mut MslProducerOptions) -> MslStatus {
    call(|| {
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        let d = ProducerOptions::default();
        let clamp = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        let opts = MslProducerOptions {
            token: std::ptr::null(),
            batch_max_records: d.batch_max_records,
            batch_max_bytes: d.batch_max_bytes,
            linger_ms: clamp(d.linger),
            queue_capacity: d.queue_capacity,
            enqueue_timeout_ms: clamp(d.enqueue_timeout),
            max_record_len: d.max_record_len,
            legacy: d.legacy,
        };
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out.write(opts) };
        ok()
    })
}

/// Starts a producer for `addr` with `opts` (NULL = defaults) and stores it in `*out`
/// (NULL on failure). Connects lazily. Free it with `msl_producer_free`.
///
/// # Safety
/// `addr` is NULL or NUL-terminated; `opts` is NULL or valid; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_new(
    addr: *const c_char,
    opts: *const MslProducerOptions,
    out: *mut *mut MslProducer,
) -> MslStatus {
    call(|| {
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        // SAFETY: non-NULL and writable.
        unsafe { out.write(std::ptr::null_mut()) };
        // SAFETY: caller contract.
        let addr = unsafe { str_arg(addr, "addr") }?;
        // SAFETY: caller contract.
        let opts = unsafe { options_arg(opts) }?;
        let producer = Producer::connect(addr, opts)?;
        let handle = Box::into_raw(Box::new(MslProducer { inner: producer }));
        // SAFETY: non-NULL and writable.
        unsafe { out.write(handle) };
        ok()
    })
}

/// # Safety
/// `p` is NULL or a live producer.
unsafe fn producer_arg<'a>(p: *const MslProducer) -> Result<&'a Producer, Failure> {
    if p.is_null() {
        return Err(invalid("producer is NULL"));
    }
    // SAFETY: a live producer by the caller's contract.
    Ok(unsafe { &(*p).inner })
}

/// Queues one record (copies `data`); see `msl_commit`. `MSL_CLOSED` after
/// `msl_producer_close`.
///
/// # Safety
/// `p` is NULL or a live producer; `data` is NULL or valid for reading `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_commit(
    p: *const MslProducer,
    r#type: i16,
    data: *const u8,
    len: usize,
) -> MslStatus {
    call(|| {
        // SAFETY: caller contract.
        let producer = unsafe { producer_arg(p) }?;
        // SAFETY: caller contract.
        let data = unsafe { bytes_arg(data, len, "data") }?;
        producer.commit(r#type, bytes_copy(data))?;
        ok()
    })
}

/// Waits until every record committed to `p` before this call is acknowledged; see
/// `msl_flush`.
///
/// # Safety
/// `p` is NULL or a live producer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_flush(p: *const MslProducer, timeout_ms: i64) -> MslStatus {
    call(|| {
        // SAFETY: caller contract.
        let producer = unsafe { producer_arg(p) }?;
        producer.flush(timeout_arg(timeout_ms))?;
        ok()
    })
}

/// Stops accepting records and waits (at most `timeout_ms`; negative: as long as it takes)
/// until everything committed is acknowledged. Later commits return `MSL_CLOSED`. The
/// producer must still be freed with `msl_producer_free`.
///
/// # Safety
/// `p` is NULL or a live producer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_close(p: *const MslProducer, timeout_ms: i64) -> MslStatus {
    call(|| {
        // SAFETY: caller contract.
        let producer = unsafe { producer_arg(p) }?;
        producer.close(timeout_arg(timeout_ms))?;
        ok()
    })
}

/// Closes the producer (waiting at most 10 seconds for outstanding records, like
/// `msl_close`) and frees it. NULL does nothing. No other call on `p` may be running or
/// follow.
///
/// # Safety
/// `p` is NULL or a producer from `msl_producer_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_free(p: *mut MslProducer) {
    call_void(|| {
        if p.is_null() {
            return;
        }
        // SAFETY: a live producer from `Box::into_raw`, freed once by the caller's contract.
        let producer = unsafe { Box::from_raw(p) };
        let _ = producer.inner.close(Some(sdk::global::CLOSE_TIMEOUT));
        drop(producer);
    });
}

// ---------------------------------------------------------------------------------------
// Readers.

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

fn date_field(date: Date) -> [c_char; 11] {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_core_codes() {
        for kind in ErrorKind::ALL {
            assert_eq!(MslStatus::from_kind(kind) as i32, kind.code(), "{kind}");
        }
        assert_eq!(MslStatus::MSL_END as i32, 100);
        assert_eq!(MslStatus::MSL_PANIC as i32, 101);
    }

    #[test]
    fn panics_become_a_status() {
        let status = call(|| panic!("boom"));
        assert_eq!(status, MslStatus::MSL_PANIC);
        assert_eq!(msl_last_error_code(), MslStatus::MSL_PANIC);
        // SAFETY: msl_last_error never returns NULL.
        let msg = unsafe { CStr::from_ptr(msl_last_error()) }.to_str().unwrap();
        assert!(msg.contains("boom"), "{msg}");
    }

    #[test]
    fn dates_are_nul_terminated() {
        let d = date_field(Date::parse("2024-02-29").unwrap());
        // SAFETY: the array is NUL-terminated.
        let s = unsafe { CStr::from_ptr(d.as_ptr()) };
        assert_eq!(s.to_str().unwrap(), "2024-02-29");
    }
}
