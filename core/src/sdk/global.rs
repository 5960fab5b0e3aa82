//! One process-wide [`Producer`], as the original Go SDK offers: `init` once, then
//! `commit` from anywhere.
//!
//! `init` may be called again with the same address (a no-op) but not with another one
//! (`AlreadyInitialized`). After [`close`] the producer stays closed for the rest of the
//! process: `commit` returns `Closed`.
//!
//! # Fork
//!
//! A child process forked after `init` has a copy of the parent's producer but none of its
//! threads. The first SDK call in the child notices (the producer remembers the process id
//! that started it) and transparently starts a new producer for the same address and
//! options, on a runtime of the child's own; the parent's copy is never touched again (its
//! locks may have been held by threads that do not exist in the child). Records committed
//! in the parent stay the parent's to deliver. A global SDK closed before the fork stays
//! closed in the child. Should the child find the SDK's lock held by a thread that did not
//! survive the fork, calls fail with `Conflict` after a few seconds instead of hanging.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;

use super::{Producer, ProducerOptions, current_pid, lock_patiently};
use crate::error::{Error, ErrorKind, Result};

/// How long [`close`] waits for outstanding records.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times a process line (parent, child, grandchild...) may restart the global SDK
/// after a fork.
const GENERATIONS: usize = 64;

/// The global producer of one process.
struct Global {
    pid: u32,
    addr: String,
    opts: ProducerOptions,
    producer: Producer,
    closed: AtomicBool,
}

/// One slot per generation; [`CURRENT`] is the newest one in use. Slots are written only
/// under [`INIT`] and never change afterwards, so the hot path reads them without a lock.
static SLOTS: [OnceLock<Global>; GENERATIONS] = [const { OnceLock::new() }; GENERATIONS];
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static INIT: Mutex<()> = Mutex::new(());

/// Starts the global producer for `addr` with default options.
pub fn init(addr: &str) -> Result<()> {
    init_with(addr, ProducerOptions::default())
}

/// Starts the global producer with `opts` (ignored when already started with `addr`).
/// Every option applies, TLS ([`ProducerOptions::tls`], for an `https://` address) and the
/// queue bounds included; a forked child's producer gets the same options (but the SDK's
/// own runtime).
pub fn init_with(addr: &str, opts: ProducerOptions) -> Result<()> {
    let _guard = lock_patiently(&INIT, "global SDK")?;
    let index = CURRENT.load(Ordering::Acquire);
    if let Some(current) = SLOTS[index].get() {
        if current.addr != addr {
            return Err(Error::new(
                ErrorKind::AlreadyInitialized,
                format!("the SDK is already initialized with {:?}, not {addr:?}", current.addr),
            ));
        }
        if current.pid != current_pid() {
            restart_in_child(index, current)?;
        }
        return Ok(());
    }
    let producer = Producer::connect(addr, opts.clone())?;
    let global = Global { pid: current_pid(), addr: addr.to_string(), opts, producer, closed: AtomicBool::new(false) };
    let _ = SLOTS[index].set(global);
    Ok(())
}

/// The global producer of this process: the current one, or (first call in a forked child)
/// a new one for the same address. `NotInitialized` before [`init`]. Bindings use it to look
/// at [`Producer::progress`]; do not keep the reference across a fork.
pub fn producer() -> Result<&'static Producer> {
    let index = CURRENT.load(Ordering::Acquire);
    let Some(global) = SLOTS[index].get() else {
        return Err(Error::new(ErrorKind::NotInitialized, "call init(address) before using the SDK"));
    };
    if global.pid == current_pid() {
        return Ok(&global.producer);
    }
    let _guard = lock_patiently(&INIT, "global SDK")?;
    let index = CURRENT.load(Ordering::Acquire);
    match SLOTS[index].get() {
        Some(global) if global.pid == current_pid() => Ok(&global.producer),
        Some(global) => restart_in_child(index, global),
        None => Err(Error::new(ErrorKind::NotInitialized, "call init(address) before using the SDK")),
    }
}

/// Starts this (forked) process's own producer like `parent`'s, in the slot after `index`.
/// The caller holds [`INIT`].
fn restart_in_child(index: usize, parent: &Global) -> Result<&'static Producer> {
    if parent.closed.load(Ordering::Acquire) {
        return Err(Error::new(ErrorKind::Closed, "the SDK was closed (before this process was forked)"));
    }
    let next = index + 1;
    if next >= GENERATIONS {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("the SDK cannot be restarted after more than {} nested forks", GENERATIONS - 1),
        ));
    }
    // The parent's runtime handle (if it gave one) has no threads here: use the SDK's own.
    let opts = ProducerOptions { runtime: None, ..parent.opts.clone() };
    let producer = Producer::connect(&parent.addr, opts.clone())?;
    let pid = current_pid();
    tracing::debug!(pid, addr = %parent.addr, "global SDK restarted in a forked process");
    let global = SLOTS[next].get_or_init(|| Global {
        pid,
        addr: parent.addr.clone(),
        opts,
        producer,
        closed: AtomicBool::new(false),
    });
    CURRENT.store(next, Ordering::Release);
    Ok(&global.producer)
}

/// Queues one record on the global producer.
pub fn commit(ty: i16, data: impl Into<Bytes>) -> Result<()> {
    producer()?.commit(ty, data)
}

/// [`commit`] that never waits: `QueueFull` at once when the queue has no room.
pub fn try_commit(ty: i16, data: impl Into<Bytes>) -> Result<()> {
    producer()?.try_commit(ty, data)
}

/// [`commit`] for async code: waits for room without blocking the thread.
pub async fn commit_async(ty: i16, data: impl Into<Bytes>) -> Result<()> {
    producer()?.commit_async(ty, data).await
}

/// Waits until every record committed so far is acknowledged.
pub fn flush(timeout: Option<Duration>) -> Result<()> {
    producer()?.flush(timeout)
}

/// Flushes (up to [`CLOSE_TIMEOUT`]) and stops the global producer.
pub fn close() -> Result<()> {
    close_timeout(Some(CLOSE_TIMEOUT))
}

/// [`close`] with a chosen timeout (`None`: as long as it takes).
pub fn close_timeout(timeout: Option<Duration>) -> Result<()> {
    let producer = producer()?;
    if let Some(global) = SLOTS[CURRENT.load(Ordering::Acquire)].get() {
        global.closed.store(true, Ordering::Release);
    }
    producer.close(timeout)
}
