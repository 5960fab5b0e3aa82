//! The native replica: keeps a local [`Store`] byte-identical to a server's, over
//! `modsynclog.v1.Sync` (see [`crate::server::sync_service`]).
//!
//! [`run`] opens the local store (`Conflict` if another writer holds it), picks its first
//! day as the legacy replica does ([`first_needed_day`](crate::replication::retention::first_needed_day)), subscribes from its local count
//! and follows the server's stream across days. Every event is checked against where the
//! replica stands (`follower`); each batch is one [`Store::append_at`] with the server's
//! times and types, so the folders end byte-identical, and the store re-checks the first
//! id under its own lock. A day is marked finished when the server says so, and retention
//! ([`apply_retention`](crate::replication::retention::apply_retention)) runs on connect and after each finished day.
//!
//! Anything unexpected (a gap, an overlap, a wrong day, a broken connection) is logged,
//! the stream dropped and the subscription renewed from the local count after a capped
//! exponential backoff (100 ms doubling to 5 s, back to 100 ms after progress). Nothing is
//! kept in memory between connections, so a restarted replica resumes the same way.
//! A wrong token is not retried: [`run`] returns [`ErrorKind::Unauthenticated`].

pub mod client;
mod follower;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::{SharedClock, SystemClock};
use crate::date::Date;
use crate::error::Result;
use crate::replication::retention::check_days;
use crate::store::{Durability, Store, StoreOptions};
use crate::tls::ClientTls;

pub use client::{DayState, SyncClient, connect, error_from_status, server_status};

/// First reconnect delay: a dropped stream is usually renewed at once with success.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(100);
/// Longest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Everything [`run`] needs.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// The server's gRPC address: `host:port` or `http://host:port` (plaintext), or
    /// `https://host:port` (TLS, see `tls`).
    pub server: String,
    /// TLS settings for an `https://` server.
    pub tls: ClientTls,
    /// The local store folder.
    pub dir: PathBuf,
    /// Bearer token, when the server requires one.
    pub token: Option<String>,
    /// First day to copy, relative to today: 0 = today, -1 = from yesterday. At most 0.
    pub history_days: i64,
    /// Keep days from `today + retain_days` on and delete older ones; at most -1 and at
    /// most `history_days`. `None` keeps everything.
    pub retain_days: Option<i64>,
    /// When the local copy reaches the disk: [`Durability::Batch`] (the default) syncs every
    /// append before the next is read; `Interval` and `Never` leave it to a timer or the
    /// kernel. A replica may choose them for its own consistency: after a crash its store
    /// recovers a whole prefix and the replica fetches the rest again from the server; after
    /// a power loss the same holds as far as the file system keeps each write whole (recovery
    /// checks every record's header and length, but payloads carry no checksum, so a page
    /// lost inside a payload would not be seen). What it gives up: a copy that outlives the
    /// server's own disk holds only what it had synced.
    pub durability: Durability,
    pub clock: SharedClock,
}

impl ReplicaConfig {
    /// Today only, keep everything, no token, the local calendar.
    pub fn new(server: impl Into<String>, dir: impl Into<PathBuf>) -> ReplicaConfig {
        ReplicaConfig {
            server: server.into(),
            tls: ClientTls::default(),
            dir: dir.into(),
            token: None,
            history_days: 0,
            retain_days: None,
            durability: Durability::default(),
            clock: Arc::new(SystemClock::default()),
        }
    }

    /// The same rules on days as the legacy replica; [`ErrorKind::InvalidArgument`] otherwise.
    pub fn validate(&self) -> Result<()> {
        check_days(self.history_days, self.retain_days)?;
        client::TokenInterceptor::new(self.token.as_deref())?;
        crate::tls::endpoint(&self.server, &self.tls)?;
        Ok(())
    }
}

/// Where the replica stands, reported after every event and every connection change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Whether a subscription is open.
    pub connected: bool,
    /// The day being copied.
    pub date: Date,
    /// Records of that day held locally (the next id expected).
    pub next_id: u64,
    /// The server writer's position, when known.
    pub head: Option<(Date, u64)>,
    /// Records the server holds from `date` on that the replica does not, when known.
    pub lag: Option<u64>,
    /// Records appended by this run, over all its connections.
    pub appended: u64,
}

/// Runs the replica until `shutdown` turns true (or its sender is dropped), then returns
/// `Ok`. `progress` is called after every change of position or connection.
///
/// Fails at once on an invalid configuration, with [`ErrorKind::Conflict`] when another
/// writer holds the local store, and with [`ErrorKind::Unauthenticated`] when the server
/// refuses the token; every other failure is logged and retried with backoff.
pub async fn run<F>(config: ReplicaConfig, mut shutdown: watch::Receiver<bool>, progress: F) -> Result<()>
where
    F: Fn(Progress) + Send + Sync,
{
    config.validate()?;
    let store = Store::open(&config.dir, StoreOptions { durability: config.durability, ..StoreOptions::default() })?;
    let mut replica = follower::Follower::new(config, Arc::new(Mutex::new(store)), progress);
    let mut backoff = BACKOFF_FIRST;
    loop {
        let err = match replica.session(&mut shutdown).await {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        if err.is_auth() {
            tracing::error!(server = %replica.config().server, "native sync: {err}");
            return Err(err);
        }
        // A connection that got somewhere earns a fast retry; one that fails over and
        // over backs off so that a broken server is not hammered.
        if replica.take_progressed() {
            backoff = BACKOFF_FIRST;
        }
        tracing::warn!(server = %replica.config().server, retry_ms = backoff.as_millis() as u64,
            "native sync: connection lost: {err}");
        replica.disconnected();
        tokio::select! {
            _ = stopped(&mut shutdown) => return Ok(()),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Resolves when `shutdown` turns true or its sender is dropped (both mean "stop").
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
