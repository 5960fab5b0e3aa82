//! Conversions of JavaScript arguments: timeouts in milliseconds, record types and
//! record payloads.

use std::time::Duration;

use bytes::Bytes;
use modsynclog_core::sdk;
use napi::bindgen_prelude::Unknown;
use napi::{Env, JsValue, ValueType, sys};

use crate::error::{CoreResult, invalid};

/// A timeout in milliseconds from JavaScript; `undefined`/`null` waits forever.
pub(crate) fn timeout_of(ms: Option<f64>) -> CoreResult<Option<Duration>> {
    match ms {
        None => Ok(None),
        Some(ms) if ms.is_finite() && ms >= 0.0 => Ok(Some(Duration::from_secs_f64(ms / 1000.0))),
        Some(ms) => Err(invalid(format!("timeout {ms} ms is not a finite number >= 0"))),
    }
}

/// A byte count (such as `queueBytes`) from JavaScript: an integer >= 0 below 2^53.
pub(crate) fn byte_count(n: f64, what: &str) -> CoreResult<usize> {
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 {
        Ok(n as usize)
    } else {
        Err(invalid(format!("{what} {n} is not an integer >= 0")))
    }
}

/// The timeout of a `close`: 10 s unless given.
pub(crate) fn close_timeout_of(ms: Option<f64>) -> CoreResult<Option<Duration>> {
    match ms {
        None => Ok(Some(sdk::global::CLOSE_TIMEOUT)),
        Some(_) => timeout_of(ms),
    }
}

pub(crate) fn data_type(ty: f64) -> CoreResult<i16> {
    if ty.fract() == 0.0 && ty >= f64::from(i16::MIN) && ty <= f64::from(i16::MAX) {
        Ok(ty as i16)
    } else {
        Err(invalid(format!("record type {ty} is not an integer in -32768..=32767")))
    }
}

/// The payload of a `commit`: a `Buffer`/`Uint8Array` (bytes copied) or a string (UTF-8).
pub(crate) fn payload(env: &Env, value: &Unknown) -> CoreResult<Bytes> {
    let wrong = |what: &str| invalid(format!("record data must be a Buffer, Uint8Array or string, not {what}"));
    let (raw_env, raw) = (env.raw(), value.raw());
    match value.get_type() {
        Ok(ValueType::String) => {
            let mut len = 0usize;
            // SAFETY: `raw` is a string value of this env; a null buffer asks for the length.
            let status = unsafe { sys::napi_get_value_string_utf8(raw_env, raw, std::ptr::null_mut(), 0, &mut len) };
            if status != sys::Status::napi_ok {
                return Err(wrong("an unreadable string"));
            }
            let mut buf = vec![0u8; len + 1];
            let mut written = 0usize;
            // SAFETY: `buf` has room for `len` bytes plus the terminating NUL napi writes.
            let status = unsafe {
                sys::napi_get_value_string_utf8(raw_env, raw, buf.as_mut_ptr().cast(), buf.len(), &mut written)
            };
            if status != sys::Status::napi_ok {
                return Err(wrong("an unreadable string"));
            }
            buf.truncate(written);
            Ok(Bytes::from(buf))
        }
        Ok(ValueType::Object) => {
            let mut is_typed = false;
            // SAFETY: plain type query on a live value.
            let status = unsafe { sys::napi_is_typedarray(raw_env, raw, &mut is_typed) };
            if status != sys::Status::napi_ok || !is_typed {
                return Err(wrong("an object"));
            }
            let mut kind = 0;
            let mut len = 0usize;
            let mut data = std::ptr::null_mut();
            let mut arraybuffer = std::ptr::null_mut();
            let mut offset = 0usize;
            // SAFETY: `raw` is a typed array; napi fills in its element type, length and data.
            let status = unsafe {
                sys::napi_get_typedarray_info(
                    raw_env,
                    raw,
                    &mut kind,
                    &mut len,
                    &mut data,
                    &mut arraybuffer,
                    &mut offset,
                )
            };
            if status != sys::Status::napi_ok || kind != sys::TypedarrayType::uint8_array {
                return Err(wrong("a typed array other than Uint8Array"));
            }
            if len == 0 || data.is_null() {
                return Ok(Bytes::new());
            }
            // SAFETY: napi says `data` points at `len` bytes that live while `raw` does (this call).
            let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
            Ok(Bytes::copy_from_slice(bytes))
        }
        Ok(ValueType::Undefined) => Err(wrong("undefined")),
        Ok(ValueType::Null) => Err(wrong("null")),
        Ok(ValueType::Number) => Err(wrong("a number")),
        Ok(ValueType::Boolean) => Err(wrong("a boolean")),
        Ok(_) | Err(_) => Err(wrong("this kind of value")),
    }
}
