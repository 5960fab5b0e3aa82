//! Outcomes of C calls: the `msl_status` codes (mapped from the core's `ErrorKind`), the
//! per-thread record of the last call behind `msl_last_error()` / `msl_last_error_code()`,
//! and `call`, the wrapper every entry point runs in so that no panic reaches C. It also
//! holds `msl_version`.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use modsynclog_core::{Error, ErrorKind};

/// The outcome of a call. `MSL_OK` is success; the error statuses 1..16 have the same
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
    /// The server refused the credentials: a token missing or wrong (or a client
    /// certificate it does not accept). Final for a producer: it stops and every later call
    /// on it returns this.
    MSL_UNAUTHENTICATED = 11,
    /// The server cannot be reached or refused the request for now.
    MSL_UNAVAILABLE = 12,
    /// A bounded queue stayed full past its timeout.
    MSL_QUEUE_FULL = 13,
    /// The request conflicts with the current state (store locked, out-of-order append).
    MSL_CONFLICT = 14,
    /// The credentials are valid but do not allow this (e.g. a token that may only read, an
    /// address outside an allow-list). Final for a producer, like `MSL_UNAUTHENTICATED`.
    MSL_PERMISSION_DENIED = 15,
    /// The server's disk (or quota) is full. Not final: a producer keeps what it queued and
    /// retries (1 s doubling to 10 s); until the server stores again, commits return this at
    /// once without queueing and `msl_flush` / `msl_producer_flush` return it at once.
    MSL_NO_SPACE = 16,
    /// `msl_reader_next`: no more records (end of the folder, or the reader was stopped).
    MSL_END = 100,
    /// A bug: the library caught an internal panic (see `msl_last_error()`).
    MSL_PANIC = 101,
}

impl MslStatus {
    /// The statuses that are core error kinds, in code order. Its length is the core's
    /// number of kinds: a kind added to the core does not compile here until it has its
    /// `MSL_*` constant above (and `from_kind` matches by number, so an entry cannot be
    /// paired with the wrong kind; `tests::statuses_match_core_codes` checks the names).
    const KINDS: [MslStatus; ErrorKind::ALL.len()] = {
        use MslStatus::*;
        [
            MSL_INVALID_ARGUMENT,
            MSL_NOT_FOUND,
            MSL_CORRUPT,
            MSL_IO,
            MSL_TIMEOUT,
            MSL_CLOSED,
            MSL_NOT_INITIALIZED,
            MSL_ALREADY_INITIALIZED,
            MSL_TOO_LARGE,
            MSL_PROTOCOL,
            MSL_UNAUTHENTICATED,
            MSL_UNAVAILABLE,
            MSL_QUEUE_FULL,
            MSL_CONFLICT,
            MSL_PERMISSION_DENIED,
            MSL_NO_SPACE,
        ]
    };

    /// The status whose number is the kind's `code()` (`MSL_PANIC` if there were none).
    pub(crate) fn from_kind(kind: ErrorKind) -> MslStatus {
        MslStatus::KINDS.into_iter().find(|s| *s as i32 == kind.code()).unwrap_or(MslStatus::MSL_PANIC)
    }
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
pub(crate) enum Failure {
    Core(Error),
    Status(MslStatus, String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Core(e)
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> Failure {
    Failure::Status(MslStatus::MSL_INVALID_ARGUMENT, message.into())
}

/// Runs `f`, catching panics, and records its outcome for `msl_last_error`.
pub(crate) fn call(f: impl FnOnce() -> Result<MslStatus, Failure>) -> MslStatus {
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
pub(crate) fn call_void(f: impl FnOnce()) {
    call(|| {
        f();
        Ok(MslStatus::MSL_OK)
    });
}

pub(crate) fn ok() -> Result<MslStatus, Failure> {
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
