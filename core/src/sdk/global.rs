//! One process-wide [`Producer`], as the original Go SDK offers: `init` once, then
//! `commit` from anywhere.
//!
//! `init` may be called again with the same address (a no-op) but not with another one
//! (`AlreadyInitialized`). After [`close`] the producer stays closed for the rest of the
//! process: `commit` returns `Closed`.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;

use super::{Producer, ProducerOptions};
use crate::error::{Error, ErrorKind, Result};

/// How long [`close`] waits for outstanding records.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

static GLOBAL: OnceLock<(String, Producer)> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// Starts the global producer for `addr` with default options.
pub fn init(addr: &str) -> Result<()> {
    init_with(addr, ProducerOptions::default())
}

/// Starts the global producer with `opts` (ignored when already started with `addr`).
pub fn init_with(addr: &str, opts: ProducerOptions) -> Result<()> {
    let _guard = INIT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((current, _)) = GLOBAL.get() {
        return if current == addr {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::AlreadyInitialized,
                format!("the SDK is already initialized with {current:?}, not {addr:?}"),
            ))
        };
    }
    let producer = Producer::connect(addr, opts)?;
    let _ = GLOBAL.set((addr.to_string(), producer));
    Ok(())
}

fn producer() -> Result<&'static Producer> {
    GLOBAL
        .get()
        .map(|(_, p)| p)
        .ok_or_else(|| Error::new(ErrorKind::NotInitialized, "call init(address) before using the SDK"))
}

/// Queues one record on the global producer.
pub fn commit(ty: i16, data: impl Into<Bytes>) -> Result<()> {
    producer()?.commit(ty, data)
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
    producer()?.close(timeout)
}
