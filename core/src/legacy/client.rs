//! The legacy replica: copies a server's store, over the go-socket protocol, into a local
//! [`Store`] whose folders end up byte-identical to the server's.
//!
//! Every record is checked before it is written (its date is the day asked for, its id
//! the next local id), so a confused or hostile server can make the replica reconnect
//! but never write a record twice, out of order or into the wrong day; each 302 batch is
//! one [`Store::append_at`], which re-checks the first id under the store's own lock.
//! After any failure the replica reconnects with a capped exponential backoff and resumes
//! from its local count, so nothing is kept in memory between connections.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::watch;

use super::conn::{FrameReader, stopped, write_bounded};
use crate::clock::{SharedClock, SystemClock};
use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};
use crate::replication::retention::{apply_retention, check_days, first_needed_day};
use crate::store::shared::with_store;
use crate::store::{Durability, NewRecord, Store, StoreOptions};
use crate::wire::{
    CTYPE_BATCH, CTYPE_DAY_FINISHED, CTYPE_HEARTBEAT, CTYPE_HELLO, CTYPE_HELLO_REPLY, CTYPE_REQUEST, DEFAULT_SEND_FLAG,
    Frame, FrameLimits, HELLO_FROM_CLIENT, SyncRequest, WireRecord, decode_batch, decode_day_finished, encode_frame,
};

/// First reconnect delay: a dropped connection is usually retried at once with success.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
/// Longest reconnect delay, the original's fixed 5 s.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long connecting and the 7/8 greeting may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct LegacyClientConfig {
    /// The server's sync socket, `host:port`.
    pub server: String,
    /// The local store folder.
    pub dir: PathBuf,
    pub send_flag: i32,
    /// First day to copy, relative to today: 0 = today, -1 = from yesterday. At most 0.
    pub history_days: i64,
    /// Keep days from `today + retain_days` on and delete older ones; at most -1 and at
    /// most `history_days`. `None` keeps everything.
    pub retain_days: Option<i64>,
    /// Interval between heartbeats (the server drops a client silent for 180 s).
    pub heartbeat: Duration,
    pub clock: SharedClock,
    /// What a server frame may make us allocate.
    pub limits: FrameLimits,
    /// When the local copy reaches the disk, as for the native replica
    /// ([`ReplicaConfig::durability`](crate::replica::ReplicaConfig::durability)); default
    /// [`Durability::Batch`], every append.
    pub durability: Durability,
}

impl LegacyClientConfig {
    /// The original's defaults: today only, keep everything, a heartbeat every 5 s.
    pub fn new(server: impl Into<String>, dir: impl Into<PathBuf>) -> LegacyClientConfig {
        LegacyClientConfig {
            server: server.into(),
            dir: dir.into(),
            send_flag: DEFAULT_SEND_FLAG,
            history_days: 0,
            retain_days: None,
            heartbeat: Duration::from_secs(5),
            durability: Durability::default(),
            clock: Arc::new(SystemClock::default()),
            limits: FrameLimits::default(),
        }
    }

    /// The original's rules on days, and a usable heartbeat; [`ErrorKind::InvalidArgument`] otherwise.
    pub fn validate(&self) -> Result<()> {
        check_days(self.history_days, self.retain_days)?;
        if self.heartbeat.is_zero() {
            return Err(Error::invalid("the heartbeat interval must be above zero"));
        }
        Ok(())
    }
}

/// Runs the replica until `shutdown` turns true (or its sender is dropped), then returns `Ok`.
///
/// Fails at once on an invalid configuration, or with [`ErrorKind::Conflict`] when another
/// writer holds the local store; every other failure is logged and retried.
pub async fn run(config: LegacyClientConfig, mut shutdown: watch::Receiver<bool>) -> Result<()> {
    config.validate()?;
    let store = Store::open(&config.dir, StoreOptions { durability: config.durability, ..StoreOptions::default() })?;
    let mut replica = Replica { config, store: Arc::new(Mutex::new(store)), progressed: false };
    let mut backoff = BACKOFF_FIRST;
    loop {
        replica.progressed = false;
        let err = match replica.session(&mut shutdown).await {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        // A connection that got somewhere earns a fast retry; one that fails over and
        // over backs off so that a broken server is not hammered.
        if replica.progressed {
            backoff = BACKOFF_FIRST;
        }
        tracing::warn!(server = %replica.config.server, retry_ms = backoff.as_millis() as u64,
            "legacy sync: connection lost: {err}");
        tokio::select! {
            _ = stopped(&mut shutdown) => return Ok(()),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

struct Replica {
    config: LegacyClientConfig,
    /// Shared with the blocking pool, where appends and fsyncs run.
    store: Arc<Mutex<Store>>,
    /// Whether the current connection appended or finished anything.
    progressed: bool,
}

/// The day being copied and the next id expected in it.
struct Position {
    day: Date,
    next_id: u64,
    /// A 304 for a day that is not yet in the past by our clock: applied once it is.
    pending_finish: Option<Date>,
}

impl Replica {
    /// One connection, from connect to drop. `Ok` only on shutdown.
    async fn session(&mut self, shutdown: &mut watch::Receiver<bool>) -> Result<()> {
        let cfg = self.config.clone();
        let connect = tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(&cfg.server));
        let stream = tokio::select! {
            _ = stopped(shutdown) => return Ok(()),
            connected = connect => match connected {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return Err(Error::new(ErrorKind::Unavailable, format!("connect {}: {e}", cfg.server))),
                Err(_) => return Err(Error::new(ErrorKind::Unavailable, format!("connect {}: timed out", cfg.server))),
            },
        };
        let _ = stream.set_nodelay(true);
        let (read, mut write) = stream.into_split();
        let mut frames = FrameReader::spawn(read, cfg.send_flag, cfg.limits, None, None);
        let limit = HANDSHAKE_TIMEOUT;
        let hello = encode_frame(cfg.send_flag, CTYPE_HELLO, HELLO_FROM_CLIENT.as_bytes(), false);
        write_bounded(&mut write, limit, CTYPE_HELLO, &hello).await?;
        let reply = tokio::select! {
            _ = stopped(shutdown) => return Ok(()),
            reply = tokio::time::timeout(limit, frames.next()) => reply
                .map_err(|_| Error::new(ErrorKind::Timeout, "no reply to hello"))??,
        };
        if reply.ctype != CTYPE_HELLO_REPLY {
            return Err(Error::new(ErrorKind::Protocol, format!("expected a hello reply, got ctype {}", reply.ctype)));
        }

        let today = cfg.clock.today();
        let (history, retain) = (cfg.history_days, cfg.retain_days);
        let day = with_store(&self.store, move |store| {
            let day = first_needed_day(store, today, history);
            if let Some(retain) = retain {
                apply_retention(store, today, retain, day)?;
            }
            Ok(day)
        })
        .await?;
        let mut pos = Position { day, next_id: 0, pending_finish: None };
        self.request(&mut write, &mut pos).await?;
        tracing::info!(server = %cfg.server, date = %pos.day, id = pos.next_id, "legacy sync: connected");

        let start = tokio::time::Instant::now() + cfg.heartbeat;
        let mut beat = tokio::time::interval_at(start, cfg.heartbeat);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = stopped(shutdown) => return Ok(()),
                frame = frames.next() => self.on_frame(frame?, &mut pos).await?,
                _ = beat.tick() => {
                    let beat = encode_frame(cfg.send_flag, CTYPE_HEARTBEAT, b"", false);
                    write_bounded(&mut write, cfg.heartbeat.max(limit), CTYPE_HEARTBEAT, &beat).await?;
                }
            }
            // A 304 for today means nothing until today is over (the original ignores it).
            if let Some(date) = pos.pending_finish
                && date < cfg.clock.today()
            {
                self.finish_day(&mut write, &mut pos, date).await?;
            }
        }
    }

    async fn on_frame(&mut self, frame: Frame, pos: &mut Position) -> Result<()> {
        match frame.ctype {
            CTYPE_BATCH => self.append(decode_batch(&frame.content)?, pos).await?,
            CTYPE_DAY_FINISHED => {
                let date = decode_day_finished(&frame.content)?;
                // A Go server repeats the 304 every second until it reads our next 301,
                // so one for a day already done is expected and harmless.
                if date < pos.day {
                    tracing::debug!(%date, "legacy sync: repeated 304 ignored");
                } else if date > pos.day {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        format!("server finished day {date} while {} was requested", pos.day),
                    ));
                } else {
                    pos.pending_finish = Some(date);
                }
            }
            other => tracing::debug!(ctype = other, "legacy sync: ignored frame"),
        }
        Ok(())
    }

    /// Sends the 301 for `pos.day`, from the local count.
    async fn request(&mut self, write: &mut OwnedWriteHalf, pos: &mut Position) -> Result<()> {
        let day = pos.day;
        pos.next_id = with_store(&self.store, move |store| store.count(day)).await?;
        let body = SyncRequest { date: pos.day, id: pos.next_id }.encode();
        let frame = encode_frame(self.config.send_flag, CTYPE_REQUEST, &body, false);
        write_bounded(write, HANDSHAKE_TIMEOUT, CTYPE_REQUEST, &frame).await
    }

    /// Checks a 302 batch against the position and appends it whole, or refuses it whole.
    async fn append(&mut self, records: Vec<WireRecord>, pos: &mut Position) -> Result<()> {
        if pos.pending_finish == Some(pos.day) {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("server sent records of {} after saying the day is finished", pos.day),
            ));
        }
        for (expected, r) in (pos.next_id..).zip(&records) {
            if r.date != pos.day || r.id != expected {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("server sent record {} {} where {} {expected} was expected", r.date, r.id, pos.day),
                ));
            }
        }
        let (day, first) = (pos.day, pos.next_id);
        let appended = with_store(&self.store, move |store| {
            let batch: Vec<NewRecord<'_>> =
                records.iter().map(|r| NewRecord { time: r.time, ty: r.ty, data: &r.data }).collect();
            store.append_at(day, first, &batch)
        })
        .await?;
        pos.next_id = appended.first_id + appended.count;
        self.progressed = true;
        Ok(())
    }

    /// Marks `date` finished locally, applies retention and asks for the next day.
    async fn finish_day(&mut self, write: &mut OwnedWriteHalf, pos: &mut Position, date: Date) -> Result<()> {
        let (today, retain, next) = (self.config.clock.today(), self.config.retain_days, date.succ());
        let records = pos.next_id;
        with_store(&self.store, move |store| {
            store.finish_at(date, records)?;
            if let Some(retain) = retain {
                apply_retention(store, today, retain, next)?;
            }
            Ok(())
        })
        .await?;
        tracing::info!(%date, records = pos.next_id, "legacy sync: day complete");
        self.progressed = true;
        *pos = Position { day: next, next_id: 0, pending_finish: None };
        self.request(write, pos).await
    }
}
