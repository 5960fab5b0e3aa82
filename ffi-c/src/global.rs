//! The global SDK: one process-wide producer started by `msl_init` and used by
//! `msl_commit`, `msl_flush` and `msl_close`.

use std::ffi::c_char;

use modsynclog_core::sdk;

use crate::args::{bytes_arg, bytes_copy, str_arg, timeout_arg};
use crate::error::{MslStatus, call, ok};
use crate::producer::{MslProducerConfig, MslProducerOptions, config_arg, options_arg};

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

/// `msl_init` with every option, TLS and `queue_bytes` included, from a
/// `msl_producer_config` (NULL = defaults; it may be freed right after). `addr` may be
/// "https://host:port" for TLS. Same rules as `msl_init`: the config is ignored when the
/// SDK is already initialized with the same address.
///
/// # Safety
/// `addr` is NULL or a NUL-terminated string; `c` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_init_with_config(addr: *const c_char, c: *const MslProducerConfig) -> MslStatus {
    call(|| {
        // SAFETY: caller contract.
        let addr = unsafe { str_arg(addr, "addr") }?;
        // SAFETY: caller contract.
        let opts = unsafe { config_arg(c) }?.cloned().unwrap_or_default();
        sdk::global::init_with(addr, opts)?;
        ok()
    })
}

/// Queues one record on the global producer (copies `data`); returns without waiting for
/// the network. `data` may be NULL when `len` is 0. Fails with `MSL_NOT_INITIALIZED` before
/// `msl_init`, `MSL_CLOSED` after `msl_close`, `MSL_TOO_LARGE` over the record limit,
/// `MSL_QUEUE_FULL` when the queue stayed full (by records or by bytes) for the enqueue
/// timeout, `MSL_UNAUTHENTICATED` / `MSL_PERMISSION_DENIED` once the server refused the
/// credentials (final: every later call returns it), `MSL_NO_SPACE` at once (the record is
/// not queued) while the server reports a full disk (not final: what was queued is kept and
/// retried, and commits are accepted again once the server stores again).
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

/// `msl_commit` that never waits: `MSL_QUEUE_FULL` at once when the queue has no room.
///
/// # Safety
/// `data` is NULL or valid for reading `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_try_commit(r#type: i16, data: *const u8, len: usize) -> MslStatus {
    call(|| {
        // SAFETY: caller contract.
        let data = unsafe { bytes_arg(data, len, "data") }?;
        sdk::global::try_commit(r#type, bytes_copy(data))?;
        ok()
    })
}

/// Waits until every record committed before this call is acknowledged by the server, at
/// most `timeout_ms` milliseconds (negative: as long as it takes). `MSL_TIMEOUT` when time
/// ran out (`msl_last_error()` then says what went wrong last, e.g. a refused connection or
/// a certificate the client does not trust); another error when the server refused records
/// for good; `MSL_UNAUTHENTICATED` / `MSL_PERMISSION_DENIED` as soon as it refused the
/// credentials, even while waiting; `MSL_NO_SPACE` as soon as the server reports a full disk
/// (even while waiting: the records are kept and retried, call again later).
#[unsafe(no_mangle)]
pub extern "C" fn msl_flush(timeout_ms: i64) -> MslStatus {
    call(|| {
        sdk::global::flush(timeout_arg(timeout_ms))?;
        ok()
    })
}

/// Flushes (for at most 10 seconds) and stops the global producer. It stays closed for the
/// rest of the process: later commits return `MSL_CLOSED`. While the server reports a full
/// disk it keeps retrying for those 10 seconds, then returns `MSL_NO_SPACE` (what is still
/// not stored is lost).
#[unsafe(no_mangle)]
pub extern "C" fn msl_close() -> MslStatus {
    call(|| {
        sdk::global::close()?;
        ok()
    })
}
