//! The store-side halves of copying a store, shared by both sync protocols (the native
//! `modsynclog.v1.Sync` and the legacy sync socket):
//!
//! - [`feeder`]: on the master, which records of a day go to a replica next, read straight
//!   from the day's files;
//! - [`retention`]: on a replica, which day to ask for first and which old days to delete.

pub mod feeder;
pub mod retention;

use std::time::Duration;

/// Resolves after `poll` when there is one, never otherwise: the optional timer a
/// caught-up feeder waits on beside the writer's signal.
pub(crate) async fn fallback(poll: Option<Duration>) {
    match poll {
        Some(every) => tokio::time::sleep(every).await,
        None => std::future::pending().await,
    }
}
