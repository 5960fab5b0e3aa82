//! The SDK: send records to a modsynclog server from application code.
//!
//! [`Producer`] is the object API; [`global`] wraps one process-wide producer behind
//! `init` / `commit` / `flush` / `close`, like the original Go SDK.
//!
//! `commit` only queues (a bounded in-memory queue) and returns without waiting for the
//! network; it works from any thread, async or not. A background task on a tokio runtime
//! (the one given in [`ProducerOptions::runtime`], else a small process-wide one) batches
//! queued records by count, bytes and a short linger and sends the batches over one
//! long-lived `modsynclog.v1.Ingest/AppendStream`, keeping every batch until the server
//! acknowledges it. `flush` waits until everything committed before it is acknowledged.
//!
//! # Delivery: exactly once (native), at least once (legacy)
//!
//! A batch is acknowledged only after the server wrote it to its store. When the stream
//! breaks (server restart or crash, network failure), the producer reconnects with capped
//! exponential backoff (the first retry is immediate) and resends, in order, every batch
//! not yet acknowledged. Each batch carries the producer's random id and a sequence
//! number; the server journals the last sequence of every producer together with the
//! batch's position (outside the day folders), so a batch that was written but whose ack
//! was lost is acknowledged again, not stored twice, even after a `kill -9` of the server.
//! Records are never silently dropped, unless the server refuses a batch as invalid (over
//! a size limit), which `flush` then reports.
//!
//! A server whose disk (or quota) is full answers `NoSpace`. The producer then neither
//! drops the batch nor retries it in a tight loop: it keeps that batch and everything
//! queued after it, and resends them, in order, with a slow capped backoff (1 s doubling to
//! 10 s). Until the server acknowledges a batch again, the application learns of it at
//! once and memory does not grow: `commit` (and `try_commit`, `commit_async`) fails with
//! `NoSpace` without queueing the record, a `flush` returns `NoSpace` at once (also one
//! already waiting), and `close` keeps retrying until its timeout and then returns
//! `NoSpace` for what is still not stored. The first ack after the disk has room again ends
//! that state: the kept records are delivered (exactly once, as after a reconnect) and
//! commits are accepted again. A program may so simply retry its `flush` (or commit) every
//! so often until it succeeds.
//!
//! With [`ProducerOptions::legacy`] the producer speaks the Go server's unary
//! `grpc_proto_log.Log` methods instead (one call per record, a bounded number at once),
//! with the same retry and `flush` guarantees; that protocol has no producer identity,
//! so a record whose reply was lost may be stored twice. A legacy server's own refusals
//! (a non-zero `errCode`) are final for that record, except `NoSpace`, which is handled as
//! above.
//!
//! # On an open network
//!
//! * `https://host:port` connects with TLS ([`ProducerOptions::tls`]: CA file, client
//!   certificate and key for mTLS, server-name override).
//! * The queue is bounded in records and in bytes ([`ProducerOptions::queue_capacity`],
//!   [`ProducerOptions::queue_bytes`]): a server that is down or slow makes `commit` wait
//!   (at most [`ProducerOptions::enqueue_timeout`], then `QueueFull`), never grow memory
//!   without bound. [`Producer::try_commit`] never waits; [`Producer::commit_async`] waits
//!   without blocking a thread.
//! * A refusal of the credentials (`Unauthenticated`, `PermissionDenied`) is final, in
//!   both modes: the producer stops at once (no retrying a wrong token forever), queued
//!   records are dropped, and every call (`commit*`, `flush*`, `close*`), including a
//!   `flush` already waiting, returns that error. Other failures (refused connections, TLS
//!   handshakes) are retried with backoff; a `flush` that times out names the last one,
//!   with its cause (e.g. `invalid peer certificate: UnknownIssuer`).

pub mod global;
mod linger;
mod producer;
mod queue;
pub mod sequenced;
mod transport;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, Once, TryLockError};
use std::time::{Duration, Instant};

pub use producer::Producer;

use crate::error::{Error, ErrorKind, Result};

/// Data types the original Go SDK uses (any `i16` may be committed).
pub const TYPE_DB_LOG: i16 = 1001;
pub const TYPE_APP_LOG: i16 = 1101;
pub const TYPE_JSON_LOG: i16 = 1201;

/// How a [`Producer`] batches, queues and connects.
#[derive(Debug, Clone)]
pub struct ProducerOptions {
    /// Sent as `authorization: Bearer <token>` to the native services.
    pub token: Option<String>,
    /// A batch is sent once it holds this many records (default 1000)...
    pub batch_max_records: usize,
    /// ...or this many payload bytes (default 1 MiB)...
    pub batch_max_bytes: usize,
    /// ...or its oldest record waited this long (default 5 ms; timed by a timerfd on Linux,
    /// in tokio's whole milliseconds elsewhere).
    pub linger: Duration,
    /// Records queued and not yet sent before `commit` waits (default 100 000).
    pub queue_capacity: usize,
    /// Payload bytes queued and not yet sent before `commit` waits (default 64 MiB): a
    /// commit waits while the queued bytes plus its record would exceed this. A record
    /// larger than `queue_bytes` (allowed up to `max_record_len`) is accepted only into an
    /// empty queue, so it waits for the queue to drain rather than being refused. Batches
    /// sent and awaiting their ack are not counted: they add at most 32 batches
    /// (`batch_max_bytes` each) of memory.
    pub queue_bytes: usize,
    /// TLS settings for an `https://` address (default: none, the system's trusted roots).
    /// TLS files with a plaintext address are refused.
    pub tls: crate::tls::ClientTls,
    /// How long `commit` and `commit_async` wait for room in a full queue before
    /// `QueueFull` (default 5 s); `try_commit` never waits.
    pub enqueue_timeout: Duration,
    /// Use the legacy unary `grpc_proto_log.Log` service (to talk to the Go server).
    pub legacy: bool,
    /// Concurrent calls in legacy mode (default 16).
    pub legacy_concurrency: usize,
    /// Largest payload accepted by `commit` (default 4 MiB, the server's default limit).
    pub max_record_len: usize,
    /// The runtime running the background task; `None` uses a process-wide one.
    pub runtime: Option<tokio::runtime::Handle>,
}

impl Default for ProducerOptions {
    fn default() -> Self {
        ProducerOptions {
            token: None,
            batch_max_records: 1000,
            batch_max_bytes: 1 << 20,
            linger: Duration::from_millis(5),
            queue_capacity: 100_000,
            queue_bytes: 64 << 20,
            tls: crate::tls::ClientTls::default(),
            enqueue_timeout: Duration::from_secs(5),
            legacy: false,
            legacy_concurrency: 16,
            max_record_len: 4 << 20,
            runtime: None,
        }
    }
}

/// How long a lock on an SDK-wide value is waited for before giving up with an error.
///
/// A lock held by another thread when the process forked stays held forever in the child
/// (the thread does not exist there): waiting for it must end in an error, not a hang.
const LOCK_PATIENCE: Duration = Duration::from_secs(5);

/// Locks `m` for an SDK-wide value named `what`; a poisoned lock is taken as is.
/// `Conflict` after [`LOCK_PATIENCE`] (only a child forked mid-update stays blocked so long).
pub(crate) fn lock_patiently<'a, T>(m: &'a Mutex<T>, what: &str) -> Result<MutexGuard<'a, T>> {
    let deadline = Instant::now() + LOCK_PATIENCE;
    loop {
        match m.try_lock() {
            Ok(guard) => return Ok(guard),
            Err(TryLockError::Poisoned(p)) => return Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "the {what} stayed locked for {LOCK_PATIENCE:?} (was the process forked while \
                         another thread was changing it?)"
                    ),
                ));
            }
        }
    }
}

/// This process's id, without a system call on the hot path: cached, and forgotten in a
/// forked child by a `pthread_atfork` handler (the child's first call reads it anew).
pub(crate) fn current_pid() -> u32 {
    static PID: AtomicU32 = AtomicU32::new(0);
    static HANDLER: Once = Once::new();
    extern "C" fn forget_in_child() {
        PID.store(0, Ordering::Relaxed);
    }
    HANDLER.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic, which is
        // async-signal-safe as the child side of fork requires.
        unsafe { libc::pthread_atfork(None, None, Some(forget_in_child)) };
    });
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// The process-wide SDK runtime (two worker threads), built on first use.
///
/// Fork-safe: the runtime remembers the process that built it. A child forked after it was
/// built has none of its threads, so the child builds its own on first use; the parent's
/// copy is leaked on purpose (dropping it would wait for threads that do not exist here).
fn default_runtime() -> Result<tokio::runtime::Handle> {
    static RUNTIME: Mutex<Option<(u32, &'static tokio::runtime::Runtime)>> = Mutex::new(None);
    let pid = current_pid();
    let mut slot = lock_patiently(&RUNTIME, "SDK runtime")?;
    if let Some((built_by, rt)) = *slot
        && built_by == pid
    {
        return Ok(rt.handle().clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("modsynclog-sdk")
        .on_thread_start(block_sigpipe)
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the SDK runtime: {e}")))?;
    let rt: &'static tokio::runtime::Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt.handle().clone())
}

/// Blocks `SIGPIPE` in the calling thread (each thread of the SDK runtime).
///
/// A write to a connection the peer closed raises `SIGPIPE` in the writing thread where the
/// socket call has no `MSG_NOSIGNAL` (`writev`, as hyper and rustls use). Rust, Python and
/// Node processes ignore that signal, but a C program has its default action: the process
/// dies (exit 141) when a server drops a TLS connection. Blocked in the SDK's own threads,
/// the signal stays pending there and the write fails with `EPIPE` (and is retried);
/// the host program's signal dispositions are left alone.
fn block_sigpipe() {
    // SAFETY: plain libc calls on a local, zero-initialised signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// The core error for a gRPC status (the kind the server sent, when it did). A status
/// made on this side from a transport failure ([`crate::tls::from_transport`]: TLS
/// handshake, refused connection, an HTTP/2 reset) carries the cause only in its source
/// chain: that chain is added to the message, and its kind is `Unavailable` whatever code
/// tonic gave it (only the server's own verdict may drop a batch, or end the producer).
pub(crate) fn error_from_status(status: &tonic::Status) -> Error {
    let local = crate::tls::from_transport(status);
    let sent = status
        .metadata()
        .get("modsynclog-error-code")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .and_then(|code| ErrorKind::ALL.iter().copied().find(|k| k.code() == code));
    let kind = sent.unwrap_or(match status.code() {
        _ if local => ErrorKind::Unavailable,
        tonic::Code::InvalidArgument | tonic::Code::OutOfRange => ErrorKind::InvalidArgument,
        tonic::Code::ResourceExhausted => ErrorKind::TooLarge,
        tonic::Code::Unauthenticated => ErrorKind::Unauthenticated,
        tonic::Code::PermissionDenied => ErrorKind::PermissionDenied,
        tonic::Code::DeadlineExceeded => ErrorKind::Timeout,
        tonic::Code::FailedPrecondition => ErrorKind::Conflict,
        tonic::Code::Unimplemented => ErrorKind::Protocol,
        _ => ErrorKind::Unavailable,
    });
    // A status with a source was made here from a transport failure, not sent by the server.
    let detail = crate::tls::status_detail(status);
    let message = if local { detail } else { format!("server: {detail}") };
    Error::new(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_own_verdict_keeps_its_kind() {
        let sent = tonic::Status::resource_exhausted("message over the limit");
        assert_eq!(error_from_status(&sent).kind(), ErrorKind::TooLarge);
        // What tonic makes of an HTTP/2 reset (ENHANCE_YOUR_CALM, INADEQUATE_SECURITY):
        // the code of a refusal, with the transport error as its source.
        for code in [tonic::Code::ResourceExhausted, tonic::Code::PermissionDenied, tonic::Code::InvalidArgument] {
            let mut reset = tonic::Status::new(code, "h2 protocol error");
            reset.set_source(std::sync::Arc::new(std::io::Error::other("stream reset by the connection")));
            let err = error_from_status(&reset);
            assert_eq!(err.kind(), ErrorKind::Unavailable, "{code:?}: {err}");
        }
        let mut no_space = tonic::Status::resource_exhausted("disk full");
        no_space.metadata_mut().insert("modsynclog-error-code", ErrorKind::NoSpace.code().to_string().parse().unwrap());
        assert_eq!(error_from_status(&no_space).kind(), ErrorKind::NoSpace);
    }
}
