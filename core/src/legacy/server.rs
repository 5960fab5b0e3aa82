//! The legacy sync server: streams the store to replicas over the go-socket protocol.
//!
//! Each connection gets its own task and its own [`Feeder`]; a client that misbehaves,
//! stalls or sends garbage loses only its own connection. The store is only read here.
//!
//! Where the original sleeps one second between polls, a feeder that has caught up waits
//! on the writer's [`Signal`] and re-reads as soon as anything is appended or finished;
//! a short fallback poll covers a writer in another process. The 304 that ends a day is
//! repeated every few seconds until the replica asks for another day, as the Go server
//! does every second: a Go replica whose clock has not yet reached the next day ignores it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::conn::{FrameReader, stopped, write_bounded};
use crate::access::AllowList;
use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{Port, ServerMetrics, Session, SessionKind};
use crate::replication::feeder::{Feed, Feeder, MAX_BATCH_RECORDS};
use crate::store::Signal;
use crate::store::io::Vfs;
use crate::wire::{
    CTYPE_BATCH, CTYPE_DAY_FINISHED, CTYPE_HEARTBEAT, CTYPE_HELLO, CTYPE_HELLO_REPLY, CTYPE_REQUEST, DEFAULT_SEND_FLAG,
    DEFAULT_ZLIB_LEVEL, Frame, FrameLimits, HELLO_FROM_SERVER, SyncRequest, batch_len, encode_day_finished,
    encode_frame_with, write_batch,
};

/// How often the 304 is repeated until the replica asks for another day. A Go replica
/// ignores a 304 while the day is still today by its own clock and never asks again, so
/// with a clock a little behind ours it would wait forever on one 304; the Go server
/// repeats it every second. A longer period keeps the same cure while making it unlikely
/// that a repeat crosses the replica's next 301 (a Go replica advances on any 304).
const DAY_FINISHED_REPEAT: Duration = Duration::from_secs(5);

/// Pause after a failed `accept` (out of file descriptors...), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The largest frame a replica may send: it only ever sends a hello, a 301 request (a
/// few dozen bytes of JSON) and heartbeats.
pub const CLIENT_FRAME_LIMIT: usize = 64 << 10;

#[derive(Debug, Clone)]
pub struct LegacyServerConfig {
    /// Must match the replicas' send flag; a frame with another one drops the connection.
    /// Not a secret: it only tells protocols apart.
    pub send_flag: i32,
    /// What a client frame may make us allocate (default [`CLIENT_FRAME_LIMIT`]).
    pub limits: FrameLimits,
    /// Who may connect; others are closed at once (default: loopback only). A server
    /// started with [`crate::server::start`] sets it from `ServerConfig::legacy_allow`.
    pub allow: AllowList,
    /// Open connections at most; more are closed at once (default 64).
    pub max_connections: usize,
    /// A new connection must send its first whole frame within this (default 10 s).
    pub handshake_timeout: Duration,
    /// A client silent this long is dropped (the Go client heartbeats every 5 s).
    pub heartbeat_timeout: Duration,
    /// Records per 302 batch, at most 500 as in the original.
    pub batch_records: usize,
    /// Encoded bytes per 302 batch; a single larger record still goes, alone.
    pub batch_bytes: usize,
    /// zlib level (0–9) of the 302 and 304 frames (default [`DEFAULT_ZLIB_LEVEL`]): lower
    /// costs less server CPU per record, higher fewer bytes on the wire. The original
    /// sends level 6; replicas read any level.
    pub zlib_level: u32,
    /// How often a caught-up replica's feeder looks at the files when the writer's signal
    /// stays quiet (default `None`: never; the writer raises the signal on every change).
    pub fallback_poll: Option<Duration>,
    /// Where connections are counted and replicas registered (`None`: nowhere).
    pub metrics: Option<Arc<ServerMetrics>>,
}

impl Default for LegacyServerConfig {
    fn default() -> Self {
        LegacyServerConfig {
            send_flag: DEFAULT_SEND_FLAG,
            limits: FrameLimits {
                max_body: CLIENT_FRAME_LIMIT,
                max_content: CLIENT_FRAME_LIMIT,
                ..FrameLimits::default()
            },
            allow: AllowList::default(),
            max_connections: 64,
            handshake_timeout: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(180),
            batch_records: MAX_BATCH_RECORDS,
            batch_bytes: 4 << 20,
            zlib_level: DEFAULT_ZLIB_LEVEL,
            fallback_poll: None,
            metrics: None,
        }
    }
}

/// Serves replicas from the store at `root` until `shutdown` turns true (or its sender
/// is dropped); then every connection is closed and this returns `Ok`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    vfs: Arc<dyn Vfs>,
    root: PathBuf,
    signal: Arc<Signal>,
    config: LegacyServerConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let config = Arc::new(config);
    let mut clients = JoinSet::new();
    let (mut refused_addr, mut refused_full) = (0u64, 0u64);
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) if !config.allow.allows(peer.ip()) => {
                    refused_addr += 1;
                    if refused_addr.is_power_of_two() {
                        tracing::warn!(%peer, refused = refused_addr, "legacy sync: address not in --legacy-allow; closed");
                    }
                    drop(stream);
                }
                Ok((stream, peer)) if clients.len() >= config.max_connections => {
                    refused_full += 1;
                    if refused_full.is_power_of_two() {
                        tracing::warn!(%peer, max = config.max_connections, refused = refused_full, "legacy sync: connection cap reached; closed");
                    }
                    drop(stream);
                }
                Ok((stream, peer)) => {
                    let client = Client { peer, vfs: vfs.clone(), root: root.clone(), signal: signal.clone(), config: config.clone() };
                    clients.spawn(client.run(stream, shutdown.clone()));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "legacy sync: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(done) = clients.join_next(), if !clients.is_empty() => {
                if let Err(err) = done && err.is_panic() {
                    tracing::error!(error = %err, "legacy sync: a client task panicked");
                }
            }
        }
    }
    clients.shutdown().await;
    Ok(())
}

/// One connected replica.
struct Client {
    peer: SocketAddr,
    vfs: Arc<dyn Vfs>,
    root: PathBuf,
    signal: Arc<Signal>,
    config: Arc<LegacyServerConfig>,
}

/// Where one replica's conversation stands.
#[derive(Default)]
struct State {
    /// The day being fed since the last 301; `None` before it and after the day's 304.
    feeder: Option<Feeder>,
    /// The last poll sent a batch: poll again at once.
    more: bool,
    /// The day whose 304 was sent, and when to repeat it.
    finished: Option<(Date, Instant)>,
    /// What was last requested or sent, for the log lines.
    position: Option<(Date, u64)>,
    /// The replica as the HTTP API and the lag metrics see it.
    session: Option<Session>,
}

impl State {
    fn moved(&mut self, position: (Date, u64)) {
        self.position = Some(position);
        if let Some(s) = &self.session {
            s.set_position(position.0, position.1);
        }
    }
}

impl Client {
    async fn run(self, stream: TcpStream, shutdown: watch::Receiver<bool>) {
        // Batches are written whole; waiting to coalesce them only adds latency.
        let _ = stream.set_nodelay(true);
        let (read, mut write) = stream.into_split();
        let cfg = &self.config;
        let frames = FrameReader::spawn(
            read,
            cfg.send_flag,
            cfg.limits,
            Some(cfg.heartbeat_timeout),
            Some(cfg.handshake_timeout),
        );
        let metrics = self.config.metrics.as_ref();
        let _counted = metrics.map(|m| m.connection(Port::LegacySync));
        let session = metrics.map(|m| m.sessions.open(SessionKind::LegacyReplica, self.peer.to_string()));
        let mut state = State { session, ..State::default() };
        let result = self.session(frames, &mut write, &mut state, shutdown).await;
        let date = state.position.map(|(d, _)| d.to_string());
        let id = state.position.map(|(_, id)| id);
        match result {
            Ok(()) => tracing::info!(peer = %self.peer, ?date, ?id, "legacy replica disconnected: shutdown"),
            Err(err) if err.kind() == ErrorKind::Closed => {
                tracing::info!(peer = %self.peer, ?date, ?id, "legacy replica disconnected: {err}")
            }
            // One line per bad client, carrying the reason (a bad date, a wrong flag...).
            Err(err) => {
                crate::metrics::errors::count(err.kind());
                tracing::warn!(peer = %self.peer, ?date, ?id, "legacy replica dropped: {err}")
            }
        }
    }

    /// Talks to the client until it leaves or breaks the protocol (`Err`), or we shut down (`Ok`).
    async fn session(
        &self,
        mut frames: FrameReader,
        write: &mut OwnedWriteHalf,
        state: &mut State,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<()> {
        let mut wake = self.signal.subscribe();
        loop {
            if state.feeder.is_some() {
                // Mark the signal seen before reading the files: a change after this point
                // makes `changed()` below return at once, so no append is missed.
                wake.borrow_and_update();
                self.feed(write, state).await?;
            }
            if let Some((date, due)) = state.finished
                && due <= Instant::now()
            {
                self.send(write, CTYPE_DAY_FINISHED, &encode_day_finished(date), true).await?;
                state.finished = Some((date, Instant::now() + DAY_FINISHED_REPEAT));
            }
            let waiting = state.feeder.is_some() && !state.more;
            let repeat_at = state.finished.map(|(_, due)| due);
            tokio::select! {
                biased;
                _ = stopped(&mut shutdown) => return Ok(()),
                frame = frames.next() => self.on_frame(frame?, write, state).await?,
                _ = wake.changed(), if waiting => {}
                _ = crate::replication::fallback(self.config.fallback_poll), if waiting => {}
                _ = std::future::ready(()), if state.more => {}
                _ = tokio::time::sleep_until(repeat_at.unwrap_or_else(Instant::now)), if repeat_at.is_some() => {}
            }
        }
    }

    async fn on_frame(&self, frame: Frame, write: &mut OwnedWriteHalf, state: &mut State) -> Result<()> {
        match frame.ctype {
            // Receiving it is the point: it restarted the reader's idle timer.
            CTYPE_HEARTBEAT => {}
            CTYPE_HELLO => self.send(write, CTYPE_HELLO_REPLY, HELLO_FROM_SERVER.as_bytes(), false).await?,
            CTYPE_REQUEST => {
                let request = SyncRequest::decode(&frame.content)
                    .map_err(|e| Error::new(e.kind(), format!("bad sync request: {e}")))?;
                let (date, id) = (request.date, request.id);
                // A replica ahead of us holds records we never wrote: feeding it would skip
                // them, or finish its diverged day. (The native sync refuses this too.)
                let held = crate::store::day::record_count(self.vfs.as_ref(), &self.root, date)?;
                if id > held {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "replica asks for {date} from id {id}, but this server holds {held} records of that day"
                        ),
                    ));
                }
                if state.position.is_none() {
                    tracing::info!(peer = %self.peer, %date, id, "legacy replica connected");
                } else {
                    tracing::debug!(peer = %self.peer, %date, id, "legacy replica moved on");
                }
                let cfg = &self.config;
                *state = State {
                    feeder: Some(
                        Feeder::new(self.vfs.clone(), self.root.clone(), request, cfg.batch_records, cfg.batch_bytes)
                            .with_head(self.signal.clone()),
                    ),
                    session: state.session.take(),
                    ..State::default()
                };
                state.moved((date, id));
            }
            // The original ignores what it does not know; so do we.
            other => tracing::debug!(peer = %self.peer, ctype = other, "legacy sync: ignored frame"),
        }
        Ok(())
    }

    /// Polls the feeder once and sends what it gives. Reading the files and compressing
    /// the 302 (the bulk of the CPU a replica costs) both run on the blocking pool, never
    /// on a runtime worker.
    async fn feed(&self, write: &mut OwnedWriteHalf, state: &mut State) -> Result<()> {
        let Some(mut feeder) = state.feeder.take() else { return Ok(()) };
        let (send_flag, zlib_level) = (self.config.send_flag, self.config.zlib_level);
        let (feeder, polled) = tokio::task::spawn_blocking(move || {
            let polled = feeder.poll().map(|feed| match feed {
                Feed::Batch { records, .. } => {
                    let frame = encode_frame_with(send_flag, CTYPE_BATCH, batch_len(&records), Some(zlib_level), |w| {
                        write_batch(&records, w)
                    });
                    Polled::Frame { frame }
                }
                Feed::DayFinished => Polled::DayFinished,
                Feed::Waiting => Polled::Waiting,
            });
            (feeder, polled)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("store read task failed: {e}")))?;
        state.more = false;
        match polled? {
            Polled::Frame { frame } => {
                write_bounded(write, self.config.heartbeat_timeout, CTYPE_BATCH, &frame).await?;
                state.moved(feeder.position());
                // Poll again at once, whether or not a limit cut the batch: it may have
                // emptied a finished day (its 304 is due now, and no append will come to
                // wake us). Only a poll that finds nothing waits for the writer's signal.
                state.more = true;
                state.feeder = Some(feeder);
            }
            Polled::DayFinished => {
                let (date, id) = feeder.position();
                tracing::debug!(peer = %self.peer, %date, id, "legacy sync: day fully sent");
                state.finished = Some((date, Instant::now()));
            }
            Polled::Waiting => state.feeder = Some(feeder),
        }
        Ok(())
    }

    /// Sends a small frame (hello, 304), encoded here.
    async fn send(&self, write: &mut OwnedWriteHalf, ctype: i32, content: &[u8], compress: bool) -> Result<()> {
        let cfg = &self.config;
        let level = compress.then_some(cfg.zlib_level);
        let frame = encode_frame_with(cfg.send_flag, ctype, content.len(), level, |w| w.write_all(content));
        write_bounded(write, cfg.heartbeat_timeout, ctype, &frame).await
    }
}

/// A [`Feed`] with its 302 already encoded.
enum Polled {
    Frame { frame: Vec<u8> },
    DayFinished,
    Waiting,
}
