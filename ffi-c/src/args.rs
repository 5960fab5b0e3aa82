//! Checks and conversions of C arguments: NUL-terminated UTF-8 strings, byte buffers and
//! millisecond timeouts. A NULL or malformed argument becomes `MSL_INVALID_ARGUMENT`.

use std::ffi::{CStr, c_char};
use std::time::Duration;

use crate::error::{Failure, invalid};

/// A required, NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map_err(|e| invalid(format!("{name} is not valid UTF-8: {e}")))
}

/// An optional string argument: NULL and "" both mean "not given".
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn opt_str_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded caller contract.
    let s = unsafe { str_arg(ptr, name) }?;
    Ok(if s.is_empty() { None } else { Some(s) })
}

/// A byte buffer argument; NULL is accepted when `len` is 0.
///
/// # Safety
/// `ptr` is NULL or valid for reading `len` bytes.
pub(crate) unsafe fn bytes_arg<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8], Failure> {
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
pub(crate) fn timeout_arg(timeout_ms: i64) -> Option<Duration> {
    u64::try_from(timeout_ms).ok().map(Duration::from_millis)
}

pub(crate) fn bytes_copy(data: &[u8]) -> Vec<u8> {
    data.to_vec()
}
