//! The native sync service `modsynclog.v1.Sync`: replicas subscribe, the server streams.
//!
//! `Subscribe(date, id)` parses the date strictly (`INVALID_ARGUMENT` otherwise: a date
//! from the network never becomes a path unchecked), checks that the replica does not
//! claim more records than the server holds (`FAILED_PRECONDITION`), and then streams:
//!
//! - `DayStart(date, id)` first, and whenever the stream moves on to another day;
//! - `RecordBatch`es read straight from the day's files by the same
//!   [`Feeder`] as the legacy socket, bounded by [`MAX_BATCH_RECORDS`] records and
//!   [`MAX_BATCH_BYTES`] bytes (a larger single record goes alone);
//! - `DayFinished(date)` once the day has its `finish` marker and everything was sent,
//!   then a `DayStart` of the next day the server holds (when it appears), so a replica
//!   never has to subscribe again;
//! - `Head(date, count)`, the writer's position, whenever it moved, so the replica knows
//!   its lag.
//!
//! A subscription waits on the store's [`Signal`], which the server's writer (the only
//! one: it holds the store's lock) raises on every change; no timer runs beside it unless
//! [`SyncService::with_fallback_poll`] asks for one. Each one runs in its own
//! task and reads files on the blocking pool; only this replica's stream is affected by
//! anything it does. The service only reads the store. Responses are gzip-compressed.
//! `Status` lists every day with its count and `finish` flag.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::ingest::status_from;
use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{Session, SessionKind, Sessions};
use crate::proto::v1::sync_event::Event;
use crate::proto::v1::sync_server::{Sync as SyncRpc, SyncServer};
use crate::proto::v1::{
    DayFinished, DayStart, DayStatus, Head, RecordBatch, StatusRequest, StatusResponse, StoredRecord, SubscribeRequest,
    SyncEvent,
};
use crate::replication::feeder::{Feed, Feeder};
use crate::store::Signal;
use crate::store::day;
use crate::store::io::{StdVfs, Vfs};
use crate::store::shared::blocking;
use crate::wire::WireRecord;

/// Most records in one `RecordBatch`.
pub const MAX_BATCH_RECORDS: usize = 4096;
/// Most bytes in one `RecordBatch` (payloads plus a small per-record overhead), unless a
/// single record is larger: it then goes alone.
pub const MAX_BATCH_BYTES: usize = 4 << 20;
/// How often a caught-up subscription looks at the files when the signal stays quiet.
/// Events queued for one replica before its task waits for the network. With the one
/// being sent, a replica that stops reading holds at most `(EVENTS_AHEAD + 1) *
/// MAX_BATCH_BYTES` of server memory (plus HTTP/2 send buffers).
const EVENTS_AHEAD: usize = 2;
/// Subscriptions open at once, by default; more are refused with `RESOURCE_EXHAUSTED`.
pub const MAX_SUBSCRIBERS: usize = 128;

/// The `modsynclog.v1.Sync` implementation (read-only on the store).
#[derive(Debug, Clone)]
pub struct SyncService {
    vfs: Arc<dyn Vfs>,
    root: PathBuf,
    signal: Arc<Signal>,
    stopping: watch::Receiver<bool>,
    max_records: usize,
    max_bytes: usize,
    /// One permit per open subscription.
    subscribers: Arc<tokio::sync::Semaphore>,
    fallback_poll: Option<Duration>,
    /// Where subscriptions register as replicas (the HTTP API's list, the lag metrics).
    sessions: Option<Arc<Sessions>>,
}

impl SyncService {
    /// Serves the store at `root`, woken by its writer's `signal`; `stopping` turns true
    /// when the server begins to shut down (open subscriptions then end with `UNAVAILABLE`).
    pub fn new(root: PathBuf, signal: Arc<Signal>, stopping: watch::Receiver<bool>) -> Self {
        SyncService {
            vfs: Arc::new(StdVfs),
            root,
            signal,
            stopping,
            max_records: MAX_BATCH_RECORDS,
            max_bytes: MAX_BATCH_BYTES,
            subscribers: Arc::new(tokio::sync::Semaphore::new(MAX_SUBSCRIBERS)),
            fallback_poll: None,
            sessions: None,
        }
    }

    /// Reads the store through `vfs` (default: the real file system), as its writer does.
    pub fn with_vfs(mut self, vfs: Arc<dyn Vfs>) -> Self {
        self.vfs = vfs;
        self
    }

    /// At most `n` subscriptions open at once (default [`MAX_SUBSCRIBERS`]).
    pub fn with_max_subscribers(mut self, n: usize) -> Self {
        self.subscribers = Arc::new(tokio::sync::Semaphore::new(n.max(1)));
        self
    }

    /// How often a caught-up subscription looks at the files when the signal stays quiet
    /// (default `None`: never; the writer raises the signal on every change).
    pub fn with_fallback_poll(mut self, every: Option<Duration>) -> Self {
        self.fallback_poll = every;
        self
    }

    /// Smaller batches (tests use this to exercise batch boundaries).
    pub fn with_batch_limits(mut self, max_records: usize, max_bytes: usize) -> Self {
        self.max_records = max_records.max(1);
        self.max_bytes = max_bytes.max(1);
        self
    }

    /// Registers every subscription in `sessions` while it is open.
    pub fn with_sessions(mut self, sessions: Arc<Sessions>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// The tonic server, gzip both ways.
    pub fn into_server(self) -> SyncServer<Self> {
        SyncServer::new(self).send_compressed(CompressionEncoding::Gzip).accept_compressed(CompressionEncoding::Gzip)
    }
}

type EventStream = Pin<Box<dyn Stream<Item = std::result::Result<SyncEvent, Status>> + Send>>;

#[tonic::async_trait]
impl SyncRpc for SyncService {
    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> std::result::Result<Response<Self::SubscribeStream>, Status> {
        let peer = crate::access::peer_addr(&request);
        let Ok(slot) = self.subscribers.clone().try_acquire_owned() else {
            tracing::warn!(?peer, "native sync: refused a subscription: too many open");
            return Err(status_from(&Error::new(
                ErrorKind::Unavailable,
                "too many replicas are subscribed (--max-subscribers); try again later",
            )));
        };
        let req = request.into_inner();
        let date = Date::parse(&req.date).map_err(|e| {
            tracing::warn!(?peer, "native sync: refused a subscription: {e}");
            status_from(&e)
        })?;
        let (vfs, root, id) = (self.vfs.clone(), self.root.clone(), req.id);
        let start = blocking(move || resolve_start(vfs.as_ref(), &root, date, id)).await.map_err(|e| {
            tracing::warn!(?peer, %date, id, "native sync: refused a subscription: {e}");
            status_from(&e)
        })?;
        tracing::info!(?peer, %date, id, start_date = %start.0, start_id = start.1, "native replica subscribed");
        let address = peer.map_or_else(|| "unknown".to_string(), |a| a.to_string());
        let session = self.sessions.as_ref().map(|s| s.open(SessionKind::NativeReplica, address));
        let (tx, rx) = mpsc::channel(EVENTS_AHEAD);
        let sub = Subscription {
            peer,
            vfs: self.vfs.clone(),
            root: self.root.clone(),
            signal: self.signal.clone(),
            stopping: self.stopping.clone(),
            max_records: self.max_records,
            max_bytes: self.max_bytes,
            fallback_poll: self.fallback_poll,
            position: start,
            session,
        };
        sub.moved();
        tokio::spawn(async move {
            sub.run(tx).await;
            drop(slot);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn status(&self, _request: Request<StatusRequest>) -> std::result::Result<Response<StatusResponse>, Status> {
        let (vfs, root) = (self.vfs.clone(), self.root.clone());
        let days = blocking(move || {
            let vfs = vfs.as_ref();
            day::list_days(vfs, &root)?
                .into_iter()
                .map(|date| {
                    Ok(DayStatus {
                        date: date.to_string(),
                        count: day::record_count(vfs, &root, date)?,
                        finished: day::is_finished(vfs, &root, date),
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .await
        .map_err(|e| status_from(&e))?;
        Ok(Response::new(StatusResponse { days }))
    }
}

/// Where a subscription to `(date, id)` begins. A day the server holds starts at `id`
/// (which must not pass its count). A day it does not hold is skipped for the next day it
/// does hold, or waited for when there is none yet; both only for `id == 0`, since a
/// replica holding records of a day the server lacks has diverged.
fn resolve_start(vfs: &dyn Vfs, root: &std::path::Path, date: Date, id: u64) -> Result<(Date, u64)> {
    if day::day_exists(vfs, root, date) {
        let count = day::record_count(vfs, root, date)?;
        if id > count {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("the replica holds {id} records of {date}, the server only {count}"),
            ));
        }
        return Ok((date, id));
    }
    if id > 0 {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("the replica holds {id} records of {date}, a day the server does not hold"),
        ));
    }
    Ok((day::next_day(vfs, root, date)?.unwrap_or(date), 0))
}

/// Why a subscription ended.
enum Stop {
    ClientLeft,
    ServerStopping,
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

/// What one look at the files found.
enum Step {
    Batch {
        records: Vec<WireRecord>,
    },
    /// The day is done: finished and fully sent (`existed`), or never written.
    DayDone {
        date: Date,
        existed: bool,
        next: Option<Date>,
    },
    /// The day after a finished one has appeared.
    NextDay(Date),
    Waiting,
}

/// One replica's stream.
struct Subscription {
    peer: Option<SocketAddr>,
    vfs: Arc<dyn Vfs>,
    root: PathBuf,
    signal: Arc<Signal>,
    stopping: watch::Receiver<bool>,
    max_records: usize,
    max_bytes: usize,
    fallback_poll: Option<Duration>,
    /// The day being sent and the next id to send, for the log lines and the session.
    position: (Date, u64),
    session: Option<Session>,
}

type EventSender = mpsc::Sender<std::result::Result<SyncEvent, Status>>;

impl Subscription {
    /// Publishes the position to the session (what the lag figures read).
    fn moved(&self) {
        if let Some(s) = &self.session {
            s.set_position(self.position.0, self.position.1);
        }
    }

    async fn run(mut self, tx: EventSender) {
        let stop = self.stream(&tx).await;
        let (date, id) = self.position;
        let peer = self.peer;
        match stop {
            Stop::ClientLeft => tracing::info!(?peer, %date, id, "native replica disconnected"),
            Stop::ServerStopping => {
                let _ = tx.try_send(Err(Status::unavailable("the server is stopping")));
                tracing::info!(?peer, %date, id, "native replica disconnected: the server is stopping");
            }
            Stop::Failed(err) => {
                tracing::warn!(?peer, %date, id, "native replica dropped: {err}");
                let _ = tx.try_send(Err(status_from(&err)));
            }
        }
    }

    /// Streams until the replica leaves, the server stops, or reading the store fails.
    async fn stream(&mut self, tx: &EventSender) -> Stop {
        match self.stream_inner(tx).await {
            Ok(never) => match never {},
            Err(stop) => stop,
        }
    }

    async fn stream_inner(&mut self, tx: &EventSender) -> std::result::Result<std::convert::Infallible, Stop> {
        let mut wake = self.signal.subscribe();
        let mut stopping = self.stopping.clone();
        let fallback_poll = self.fallback_poll;
        let (date, id) = self.position;
        // `None` after a finished day whose successor does not exist yet.
        let mut feeder = Some(
            Feeder::starting_at(self.vfs.clone(), self.root.clone(), date, id, self.max_records, self.max_bytes)
                .with_head(self.signal.clone()),
        );
        self.send(tx, &mut stopping, Event::Start(DayStart { date: date.to_string(), id })).await?;
        let mut sent_head: Option<(Date, u64)> = None;
        loop {
            if *stopping.borrow() {
                return Err(Stop::ServerStopping);
            }
            // Mark the signal seen before reading the files: a change after this point makes
            // `changed()` below return at once, so no append is missed.
            wake.borrow_and_update();
            let (vfs, root, after, signal) =
                (self.vfs.clone(), self.root.clone(), self.position.0, self.signal.clone());
            let (back, step, head) = blocking(move || {
                let mut feeder = feeder;
                let step = match feeder.as_mut() {
                    Some(f) => match f.poll()? {
                        Feed::Batch { records, .. } => Step::Batch { records },
                        Feed::DayFinished => {
                            Step::DayDone { date: f.position().0, existed: f.day_exists(), next: f.next_day()? }
                        }
                        Feed::Waiting => Step::Waiting,
                    },
                    None => match day::next_day(vfs.as_ref(), &root, after)? {
                        Some(next) => Step::NextDay(next),
                        None => Step::Waiting,
                    },
                };
                // The head is read after the files, so it is never behind the batch it
                // goes out with (the writer publishes after writing the index).
                let signalled = signal.head();
                let head = match signalled.date {
                    Some(d) => Some((d, signalled.count)),
                    None => disk_head(vfs.as_ref(), &root)?,
                };
                Ok((feeder, step, head))
            })
            .await?;
            feeder = back;

            if let Some((date, count)) = head
                && head != sent_head
            {
                self.send(tx, &mut stopping, Event::Head(Head { date: date.to_string(), count })).await?;
                sent_head = head;
            }
            let mut again = false;
            match step {
                Step::Batch { records } => {
                    let (date, first_id) = self.position;
                    let n = records.len() as u64;
                    let records = records
                        .into_iter()
                        .map(|r| StoredRecord { time: r.time, r#type: i32::from(r.ty), data: r.data })
                        .collect();
                    let batch = RecordBatch { date: date.to_string(), first_id, records };
                    self.send(tx, &mut stopping, Event::Batch(batch)).await?;
                    self.position.1 += n;
                    self.moved();
                    // Poll again at once even when no limit cut the batch: it may have
                    // emptied a finished day, and no append will come to say so.
                    again = true;
                }
                Step::DayDone { date, existed, next } => {
                    if existed {
                        tracing::debug!(peer = ?self.peer, %date, id = self.position.1, "native sync: day fully sent");
                        self.send(tx, &mut stopping, Event::Finished(DayFinished { date: date.to_string() })).await?;
                    }
                    feeder = None;
                    if let Some(next) = next {
                        feeder = Some(self.start_day(tx, &mut stopping, next).await?);
                        again = true;
                    }
                }
                Step::NextDay(next) => {
                    feeder = Some(self.start_day(tx, &mut stopping, next).await?);
                    again = true;
                }
                Step::Waiting => {}
            }
            if again {
                continue;
            }
            tokio::select! {
                biased;
                _ = stopped(&mut stopping) => return Err(Stop::ServerStopping),
                _ = tx.closed() => return Err(Stop::ClientLeft),
                // The service holds the signal, so it cannot close while this waits.
                _ = wake.changed() => {}
                _ = crate::replication::fallback(fallback_poll) => {}
            }
        }
    }

    /// Moves the stream to `date` from record 0.
    async fn start_day(
        &mut self,
        tx: &EventSender,
        stopping: &mut watch::Receiver<bool>,
        date: Date,
    ) -> std::result::Result<Feeder, Stop> {
        self.position = (date, 0);
        self.moved();
        self.send(tx, stopping, Event::Start(DayStart { date: date.to_string(), id: 0 })).await?;
        Ok(Feeder::starting_at(self.vfs.clone(), self.root.clone(), date, 0, self.max_records, self.max_bytes)
            .with_head(self.signal.clone()))
    }

    /// Queues one event, waiting for room (a slow replica slows only its own task).
    async fn send(
        &self,
        tx: &EventSender,
        stopping: &mut watch::Receiver<bool>,
        event: Event,
    ) -> std::result::Result<(), Stop> {
        tokio::select! {
            sent = tx.send(Ok(SyncEvent { event: Some(event) })) => sent.map_err(|_| Stop::ClientLeft),
            _ = stopped(stopping) => Err(Stop::ServerStopping),
        }
    }
}

/// The latest day on disk and its count, for a writer that has not appended since it started.
fn disk_head(vfs: &dyn Vfs, root: &std::path::Path) -> Result<Option<(Date, u64)>> {
    match day::list_days(vfs, root)?.last() {
        Some(&date) => Ok(Some((date, day::record_count(vfs, root, date)?))),
        None => Ok(None),
    }
}

/// Resolves when `stopping` turns true or its sender is dropped.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, NewRecord, Store, StoreOptions};

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn a_subscription_starts_where_the_server_can_serve_it() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = StoreOptions { durability: Durability::Never, ..Default::default() };
        let mut store = Store::open(tmp.path(), opts).unwrap();
        let rec = [NewRecord { time: 0, ty: 1, data: b"x" }, NewRecord { time: 0, ty: 1, data: b"y" }];
        store.append(d("2026-11-20"), &rec).unwrap();
        store.append(d("2026-11-22"), &rec).unwrap();
        let root = tmp.path();
        assert_eq!(resolve_start(&StdVfs, root, d("2026-11-20"), 1).unwrap(), (d("2026-11-20"), 1));
        assert_eq!(resolve_start(&StdVfs, root, d("2026-11-20"), 2).unwrap(), (d("2026-11-20"), 2));
        assert_eq!(resolve_start(&StdVfs, root, d("2026-11-20"), 3).unwrap_err().kind(), ErrorKind::Conflict);
        // A missing day is skipped for the next one, or waited for.
        assert_eq!(resolve_start(&StdVfs, root, d("2026-11-19"), 0).unwrap(), (d("2026-11-20"), 0));
        assert_eq!(resolve_start(&StdVfs, root, d("2026-11-21"), 0).unwrap(), (d("2026-11-22"), 0));
        assert_eq!(resolve_start(&StdVfs, root, d("2026-11-23"), 0).unwrap(), (d("2026-11-23"), 0));
        assert_eq!(resolve_start(&StdVfs, root, d("2026-11-21"), 5).unwrap_err().kind(), ErrorKind::Conflict);
        assert_eq!(disk_head(&StdVfs, root).unwrap(), Some((d("2026-11-22"), 2)));
    }
}
