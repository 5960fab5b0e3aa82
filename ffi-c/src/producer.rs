//! Producer objects: `msl_producer` (send records to a server in the background),
//! `msl_producer_options` (their classic options, a plain struct whose layout never
//! changes) and `msl_producer_config` (an opaque, growable set of options: the classic
//! ones plus everything added later, TLS and the byte bound of the queue first).
//!
//! Why two: a C program compiled against an older header allocates the old
//! `msl_producer_options` size, so that struct can never grow. New options are set on an
//! opaque `msl_producer_config` through `msl_producer_config_set_*` functions instead; a new
//! option is one more function, and old programs keep working unchanged.

use std::ffi::c_char;
use std::time::Duration;

use modsynclog_core::sdk::{self, Producer, ProducerOptions};
use modsynclog_core::tls::ClientTls;

use crate::args::{bytes_arg, bytes_copy, opt_str_arg, str_arg, timeout_arg};
use crate::error::{Failure, MslStatus, call, call_void, invalid, ok};

/// Options of `msl_producer_new`. Fill it with `msl_producer_options_default` first, then
/// change what you need. Its layout is frozen (programs built against older headers
/// allocate exactly this size): options added later (TLS, `queue_bytes`) are set on a
/// `msl_producer_config` instead, which also takes these with
/// `msl_producer_config_set_options`.
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
    /// The queue is also bounded in payload bytes: see `msl_producer_config_set_queue_bytes`
    /// (default 64 MiB).
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
    let mut out = ProducerOptions::default();
    if !opts.is_null() {
        // SAFETY: non-NULL and valid by the caller's contract.
        unsafe { apply_options(&mut out, &*opts) }?;
    }
    Ok(out)
}

/// Sets the fields `msl_producer_options` has on `out` (the others stay as they are).
///
/// # Safety
/// `o.token` is NULL or NUL-terminated.
unsafe fn apply_options(out: &mut ProducerOptions, o: &MslProducerOptions) -> Result<(), Failure> {
    let token = if o.token.is_null() {
        None
    } else {
        // SAFETY: caller contract.
        Some(unsafe { str_arg(o.token, "opts->token") }?.to_string())
    };
    out.token = token;
    out.batch_max_records = o.batch_max_records;
    out.batch_max_bytes = o.batch_max_bytes;
    out.linger = ms(o.linger_ms);
    out.queue_capacity = o.queue_capacity;
    out.enqueue_timeout = ms(o.enqueue_timeout_ms);
    out.legacy = o.legacy;
    out.max_record_len = o.max_record_len;
    Ok(())
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

/// Every option of a producer, in an opaque object that can grow: the classic ones of
/// `msl_producer_options` plus TLS and the queue's byte bound. Create it with
/// `msl_producer_config_new` (defaults), change it with `msl_producer_config_set_*`, pass
/// it to `msl_producer_new_with_config` or `msl_init_with_config` (which copy what they
/// need: it may be changed, reused or freed afterwards), free it with
/// `msl_producer_config_free`. Use it from one thread at a time.
pub struct MslProducerConfig {
    opts: ProducerOptions,
}

/// # Safety
/// `c` is NULL or a live config.
pub(crate) unsafe fn config_arg<'a>(c: *const MslProducerConfig) -> Result<Option<&'a ProducerOptions>, Failure> {
    // SAFETY: NULL or a live config by the caller's contract.
    Ok(unsafe { c.as_ref() }.map(|c| &c.opts))
}

/// # Safety
/// `c` is NULL or a live config not used by another thread.
unsafe fn config_mut<'a>(c: *mut MslProducerConfig) -> Result<&'a mut ProducerOptions, Failure> {
    // SAFETY: NULL or a live config, used by this thread only, by the caller's contract.
    match unsafe { c.as_mut() } {
        Some(c) => Ok(&mut c.opts),
        None => Err(invalid("config is NULL")),
    }
}

/// Creates a config holding the default options (those of `msl_producer_options_default`,
/// no TLS settings, a queue bound of 64 MiB) and stores it in `*out` (NULL on failure).
/// Free it with `msl_producer_config_free`.
///
/// # Safety
/// `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_config_new(out: *mut *mut MslProducerConfig) -> MslStatus {
    call(|| {
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        let handle = Box::into_raw(Box::new(MslProducerConfig { opts: ProducerOptions::default() }));
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out.write(handle) };
        ok()
    })
}

/// Sets every field of `*opts` (token, batch sizes, linger, queue capacity, enqueue
/// timeout, record limit, legacy) on `c`; TLS settings and `queue_bytes` are left as they
/// are. The token is copied. `MSL_INVALID_ARGUMENT` when `c` or `opts` is NULL or the token
/// is not UTF-8 (`c` is then unchanged).
///
/// # Safety
/// `c` is NULL or a live config; `opts` is NULL or valid, with a `token` that is NULL or
/// NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_config_set_options(
    c: *mut MslProducerConfig,
    opts: *const MslProducerOptions,
) -> MslStatus {
    call(|| {
        // SAFETY: caller contract.
        let config = unsafe { config_mut(c) }?;
        if opts.is_null() {
            return Err(invalid("opts is NULL"));
        }
        let mut next = config.clone();
        // SAFETY: non-NULL and valid by the caller's contract.
        unsafe { apply_options(&mut next, &*opts) }?;
        *config = next;
        ok()
    })
}

/// Sets the TLS settings used with an `https://host:port` address (each string is copied;
/// NULL or "" leaves that setting out, and a call replaces all four):
///
/// * `ca_file`: PEM file of the CA(s) that signed the server's certificate (NULL: the
///   system's trusted roots);
/// * `cert_file`, `key_file`: PEM client certificate (chain) and its private key, for a
///   server that requires client certificates (mTLS); both or neither;
/// * `server_name`: the name the server's certificate must carry when it is not the
///   address's host (e.g. the address is an IP address).
///
/// The files are read when the producer starts: a missing one makes
/// `msl_producer_new_with_config` / `msl_init_with_config` fail (`MSL_NOT_FOUND`), and so
/// does any TLS setting with a plaintext address (`MSL_INVALID_ARGUMENT`: write
/// `https://`). A certificate without its key (or the reverse) fails here with
/// `MSL_INVALID_ARGUMENT`, leaving `c` unchanged. Failures to verify the server's
/// certificate are retried in the background; `msl_producer_flush` then times out with the
/// reason (e.g. "invalid peer certificate: UnknownIssuer") in `msl_last_error()`.
///
/// # Safety
/// `c` is NULL or a live config; each string is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_config_set_tls(
    c: *mut MslProducerConfig,
    ca_file: *const c_char,
    cert_file: *const c_char,
    key_file: *const c_char,
    server_name: *const c_char,
) -> MslStatus {
    call(|| {
        // SAFETY: caller contract.
        let config = unsafe { config_mut(c) }?;
        // SAFETY: caller contract (each argument).
        let (ca, cert, key, name) = unsafe {
            (
                opt_str_arg(ca_file, "ca_file")?,
                opt_str_arg(cert_file, "cert_file")?,
                opt_str_arg(key_file, "key_file")?,
                opt_str_arg(server_name, "server_name")?,
            )
        };
        if cert.is_some() != key.is_some() {
            return Err(invalid("a client certificate needs its key, and a key its certificate: give both or neither"));
        }
        config.tls = ClientTls {
            ca_file: ca.map(Into::into),
            cert_file: cert.map(Into::into),
            key_file: key.map(Into::into),
            server_name: name.map(Into::into),
        };
        ok()
    })
}

/// Bounds the queue in payload bytes (default 64 MiB): a commit waits (up to the enqueue
/// timeout, then `MSL_QUEUE_FULL`) while the bytes queued and not yet sent plus the new
/// record would exceed `queue_bytes`. A record larger than `queue_bytes` (but within the
/// record limit) is accepted only into an empty queue. `MSL_INVALID_ARGUMENT` for 0.
///
/// # Safety
/// `c` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_config_set_queue_bytes(
    c: *mut MslProducerConfig,
    queue_bytes: usize,
) -> MslStatus {
    call(|| {
        // SAFETY: caller contract.
        let config = unsafe { config_mut(c) }?;
        if queue_bytes == 0 {
            return Err(invalid("queue_bytes must be positive"));
        }
        config.queue_bytes = queue_bytes;
        ok()
    })
}

/// Frees a config. NULL does nothing. Producers made with it are not affected.
///
/// # Safety
/// `c` is NULL or a config from `msl_producer_config_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_config_free(c: *mut MslProducerConfig) {
    call_void(|| {
        if !c.is_null() {
            // SAFETY: from `Box::into_raw`, freed once by the caller's contract.
            drop(unsafe { Box::from_raw(c) });
        }
    });
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
    // SAFETY: caller contract (`opts` is NULL or valid).
    call(|| unsafe { start(addr, out, || options_arg(opts)) })
}

/// The common body of the `msl_producer_new*` functions: sets `*out` to NULL, reads
/// `addr`, then the options, and stores the started producer in `*out`.
///
/// # Safety
/// `addr` is NULL or NUL-terminated; `out` is NULL or writable.
unsafe fn start(
    addr: *const c_char,
    out: *mut *mut MslProducer,
    opts: impl FnOnce() -> Result<ProducerOptions, Failure>,
) -> Result<MslStatus, Failure> {
    if out.is_null() {
        return Err(invalid("out is NULL"));
    }
    // SAFETY: non-NULL and writable.
    unsafe { out.write(std::ptr::null_mut()) };
    // SAFETY: caller contract.
    let addr = unsafe { str_arg(addr, "addr") }?;
    let producer = Producer::connect(addr, opts()?)?;
    let handle = Box::into_raw(Box::new(MslProducer { inner: producer }));
    // SAFETY: non-NULL and writable by the caller's contract.
    unsafe { out.write(handle) };
    ok()
}

/// `msl_producer_new` with every option, TLS and `queue_bytes` included, from a
/// `msl_producer_config` (NULL = defaults). `addr` is "host:port" or "http://host:port"
/// (plaintext) or "https://host:port" (TLS). Stores the producer in `*out` (NULL on
/// failure); `c` may be freed right after. Free the producer with `msl_producer_free`.
///
/// # Safety
/// `addr` is NULL or NUL-terminated; `c` is NULL or a live config; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_new_with_config(
    addr: *const c_char,
    c: *const MslProducerConfig,
    out: *mut *mut MslProducer,
) -> MslStatus {
    // SAFETY: caller contract (`c` is NULL or a live config).
    call(|| unsafe { start(addr, out, || Ok(config_arg(c)?.cloned().unwrap_or_default())) })
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
/// `msl_producer_close`; `MSL_UNAUTHENTICATED` / `MSL_PERMISSION_DENIED` at once after the
/// server refused the producer's credentials (a producer never retries those: every call
/// on it returns that status from then on); `MSL_NO_SPACE` at once, without queueing, while
/// the server reports a full disk (until it stores again).
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

/// `msl_producer_commit` that never waits: `MSL_QUEUE_FULL` at once when the queue has no
/// room for the record (see `msl_producer_config_set_queue_bytes`).
///
/// # Safety
/// `p` is NULL or a live producer; `data` is NULL or valid for reading `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msl_producer_try_commit(
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
        producer.try_commit(r#type, bytes_copy(data))?;
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
/// producer must still be freed with `msl_producer_free`. A server out of space is retried
/// until the timeout (then `MSL_NO_SPACE`).
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
