//! Producer objects: `msl_producer` (send records to a server in the background) and
//! `msl_producer_options`, their options.

use std::ffi::c_char;
use std::time::Duration;

use modsynclog_core::sdk::{self, Producer, ProducerOptions};

use crate::args::{bytes_arg, bytes_copy, str_arg, timeout_arg};
use crate::error::{Failure, MslStatus, call, call_void, invalid, ok};

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

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

/// # Safety
/// `opts` is NULL or valid, with a `token` that is NULL or NUL-terminated.
pub(crate) unsafe fn options_arg(opts: *const MslProducerOptions) -> Result<ProducerOptions, Failure> {
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
