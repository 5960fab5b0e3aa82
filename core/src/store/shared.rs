//! A store shared by async tasks: its calls run on tokio's blocking pool, since appends
//! and finishes do file I/O and may fsync.

use std::sync::{Arc, Mutex};

use super::Store;
use crate::error::{Error, ErrorKind, Result};

/// Runs `f` on the blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::new(ErrorKind::Io, format!("store task failed: {e}")))?
}

/// Runs `f` with the store locked, on the blocking pool.
pub(crate) async fn with_store<T, F>(store: &Arc<Mutex<Store>>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T> + Send + 'static,
{
    let store = store.clone();
    blocking(move || f(&mut store.lock().unwrap_or_else(|p| p.into_inner()))).await
}
