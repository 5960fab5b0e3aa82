//! One replica's sessions: subscribe from the local count, check every event, write.
//!
//! The rules an event must follow, given where the replica stands (`day`, `next_id`,
//! whether the server already finished `day`):
//!
//! - `DayStart(d, id)`: either the day and id we stand at (the stream's opening), or a
//!   later day `d` starting at our local count of `d` (0 for a day we do not hold), once
//!   our day is finished, or while we hold nothing of our day (the server does not hold it
//!   and skips it);
//! - `RecordBatch(d, first, records)`: `d` is our day, not finished, `first` is `next_id`,
//!   at least one record, types fit 16 bits. Appended whole with one `append_at`, together
//!   with the batches that arrived behind it while the last append waited for the disk;
//! - `DayFinished(d)`: `d` is our day; it is marked finished locally, retention runs;
//! - `Head(d, n)`: only updates the lag.
//!
//! Any other event ends the session (the caller reconnects from the local count).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use tokio::sync::watch;
use tonic::Streaming;

use super::client::{self, SyncClient};
use super::{Progress, ReplicaConfig, stopped};
use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::v1::sync_event::Event;
use crate::proto::v1::{DayStart, Head, RecordBatch, SubscribeRequest, SyncEvent};
use crate::replication::retention::{apply_retention, first_needed_day};
use crate::store::shared::with_store;
use crate::store::{NewRecord, Store};

/// The day being copied and the next id expected in it.
#[derive(Debug, Clone, Copy)]
struct Position {
    day: Date,
    next_id: u64,
    /// The server sent the day's `DayFinished` and it is marked locally.
    finished: bool,
}

pub(super) struct Follower<F> {
    config: ReplicaConfig,
    /// Shared with the blocking pool, where appends and fsyncs run.
    store: Arc<Mutex<Store>>,
    progress: F,
    /// Whether the current connection appended or finished anything.
    progressed: bool,
    appended: u64,
    connected: bool,
    position: Option<Position>,
    /// The server's record count per day (from `Status`, then `Head`), for the lag.
    server_counts: BTreeMap<Date, u64>,
    head: Option<(Date, u64)>,
}

impl<F: Fn(Progress) + Send + Sync> Follower<F> {
    pub(super) fn new(config: ReplicaConfig, store: Arc<Mutex<Store>>, progress: F) -> Self {
        Follower {
            config,
            store,
            progress,
            progressed: false,
            appended: 0,
            connected: false,
            position: None,
            server_counts: BTreeMap::new(),
            head: None,
        }
    }

    pub(super) fn config(&self) -> &ReplicaConfig {
        &self.config
    }

    /// Whether the last session got anything done (and resets it).
    pub(super) fn take_progressed(&mut self) -> bool {
        std::mem::take(&mut self.progressed)
    }

    pub(super) fn disconnected(&mut self) {
        self.connected = false;
        self.report();
    }

    /// One subscription, from connect to drop. `Ok` only on shutdown.
    pub(super) async fn session(&mut self, shutdown: &mut watch::Receiver<bool>) -> Result<()> {
        let (today, history, retain) = (self.config.clock.today(), self.config.history_days, self.config.retain_days);
        let (day, next_id) = with_store(&self.store, move |store| {
            let day = first_needed_day(store, today, history);
            if let Some(retain) = retain {
                apply_retention(store, today, retain, day)?;
            }
            Ok((day, store.count(day)?))
        })
        .await?;
        self.position = Some(Position { day, next_id, finished: false });

        let cfg = self.config.clone();
        let mut client: SyncClient = tokio::select! {
            _ = stopped(shutdown) => return Ok(()),
            c = client::connect(&cfg.server, cfg.token.as_deref(), &cfg.tls) => c?,
        };
        // The server's days give the lag across days; without them only the head does.
        let status = tokio::select! {
            _ = stopped(shutdown) => return Ok(()),
            s = client::status_of(&mut client) => s,
        };
        match status {
            Ok(days) => self.server_counts = days.into_iter().map(|d| (d.date, d.count)).collect(),
            Err(e) if e.is_auth() => return Err(e),
            Err(e) => tracing::debug!("native sync: no server status: {e}"),
        }
        let request = SubscribeRequest { date: day.to_string(), id: next_id };
        let mut stream = tokio::select! {
            _ = stopped(shutdown) => return Ok(()),
            s = client.subscribe(request) => s.map_err(|s| client::error_from_status(&s))?.into_inner(),
        };
        tracing::info!(server = %cfg.server, date = %day, id = next_id, "native sync: subscribed");
        self.connected = true;
        self.report();

        // A message read while gathering batches that is not one: handled next.
        let mut lookahead = None;
        loop {
            let message = match lookahead.take() {
                Some(message) => message,
                None => tokio::select! {
                    biased;
                    _ = stopped(shutdown) => return Ok(()),
                    m = stream.message() => m,
                },
            };
            match message {
                Ok(Some(event)) => match event.event {
                    Some(Event::Batch(batch)) => {
                        let mut batches = vec![batch];
                        lookahead = self.gather(&mut stream, &mut batches)?;
                        self.on_batches(batches).await?;
                    }
                    Some(event) => self.on_event(event).await?,
                    None => tracing::debug!("native sync: ignored an event of an unknown kind"),
                },
                Ok(None) => return Err(Error::new(ErrorKind::Closed, "the server ended the stream")),
                Err(status) => return Err(client::error_from_status(&status)),
            }
            self.report();
        }
    }

    async fn on_event(&mut self, event: Event) -> Result<()> {
        match event {
            Event::Start(start) => self.on_start(start).await,
            Event::Batch(batch) => self.on_batches(vec![batch]).await,
            Event::Finished(f) => self.on_finished(parse_date(&f.date)?).await,
            Event::Head(h) => self.on_head(&h),
        }
    }

    fn on_head(&mut self, h: &Head) -> Result<()> {
        let date = parse_date(&h.date)?;
        let known = self.server_counts.entry(date).or_default();
        *known = (*known).max(h.count);
        self.head = Some((date, h.count));
        Ok(())
    }

    /// Adds to `batches` the batches that have already arrived behind them (and takes the
    /// `Head` events between them), up to [`GATHER_BYTES`] of payload or [`GATHER_RECORDS`]
    /// records, so that one append,
    /// with one set of fsyncs, stores them all: while an append waits for the disk the
    /// server keeps sending, and a slow fsync is then caught up in one more, not in one per
    /// batch. Nothing is waited for. The first other message is handed back.
    fn gather(&mut self, stream: &mut Streaming<SyncEvent>, batches: &mut Vec<RecordBatch>) -> Result<Lookahead> {
        let mut bytes = payload(&batches[0]);
        let mut records = batches[0].records.len();
        while bytes < GATHER_BYTES && records < GATHER_RECORDS {
            match stream.message().now_or_never() {
                None => break,
                Some(Ok(Some(SyncEvent { event: Some(Event::Batch(batch)) }))) => {
                    bytes += payload(&batch);
                    records += batch.records.len();
                    batches.push(batch);
                }
                Some(Ok(Some(SyncEvent { event: Some(Event::Head(head)) }))) => self.on_head(&head)?,
                Some(other) => return Ok(Some(other)),
            }
        }
        Ok(None)
    }

    async fn on_start(&mut self, start: DayStart) -> Result<()> {
        let date = parse_date(&start.date)?;
        let pos = self.pos()?;
        if date == pos.day && start.id == pos.next_id && !pos.finished {
            return Ok(());
        }
        if date <= pos.day || !(pos.finished || pos.next_id == 0) {
            return Err(protocol(format!(
                "server started day {date} at {} while we stand at {} {}{}",
                start.id,
                pos.day,
                pos.next_id,
                if pos.finished { " (finished)" } else { "" }
            )));
        }
        let local = with_store(&self.store, move |store| store.count(date)).await?;
        if start.id != local {
            return Err(protocol(format!("server started day {date} at {} but we hold {local} of it", start.id)));
        }
        if !pos.finished {
            tracing::info!(skipped = %pos.day, %date, "native sync: the server does not hold the day; moving on");
        }
        self.position = Some(Position { day: date, next_id: local, finished: false });
        Ok(())
    }

    /// Checks consecutive batches against the position and appends them whole with one
    /// `append_at`, or refuses them whole (the session ends; nothing of them is stored).
    async fn on_batches(&mut self, batches: Vec<RecordBatch>) -> Result<()> {
        let pos = self.pos()?;
        let date = parse_date(&batches[0].date)?;
        let first = batches[0].first_id;
        let mut next = first;
        let mut types = Vec::new();
        for batch in &batches {
            let batch_date = parse_date(&batch.date)?;
            if batch_date != pos.day || batch.first_id != next || pos.finished {
                return Err(protocol(format!(
                    "server sent records {batch_date} {}.. where {} {next} was expected{}",
                    batch.first_id,
                    pos.day,
                    if pos.finished { " (finished)" } else { "" }
                )));
            }
            if batch.records.is_empty() {
                return Err(protocol(format!("server sent an empty batch at {batch_date} {}", batch.first_id)));
            }
            for r in &batch.records {
                types.push(
                    i16::try_from(r.r#type)
                        .map_err(|_| protocol(format!("record type {} is not 16 bits", r.r#type)))?,
                );
            }
            next = next.checked_add(batch.records.len() as u64).ok_or_else(|| {
                protocol(format!("server sent record ids past the end at {batch_date} {}", batch.first_id))
            })?;
        }
        let appended = with_store(&self.store, move |store| {
            let records: Vec<NewRecord<'_>> = batches
                .iter()
                .flat_map(|b| &b.records)
                .zip(types)
                .map(|(r, ty)| NewRecord { time: r.time, ty, data: &r.data })
                .collect();
            store.append_at(date, first, &records)
        })
        .await?;
        self.position = Some(Position { day: date, next_id: appended.first_id + appended.count, finished: false });
        self.appended += appended.count;
        self.progressed = true;
        Ok(())
    }

    /// Marks the day finished locally and applies retention.
    async fn on_finished(&mut self, date: Date) -> Result<()> {
        let pos = self.pos()?;
        if date != pos.day || pos.finished {
            return Err(protocol(format!("server finished day {date} while we stand at {}", pos.day)));
        }
        let (today, retain) = (self.config.clock.today(), self.config.retain_days);
        let records = pos.next_id;
        with_store(&self.store, move |store| {
            store.finish_at(date, records)?;
            if let Some(retain) = retain {
                apply_retention(store, today, retain, date.succ())?;
            }
            Ok(())
        })
        .await?;
        tracing::info!(%date, records = pos.next_id, "native sync: day complete");
        self.position = Some(Position { finished: true, ..pos });
        self.progressed = true;
        Ok(())
    }

    fn pos(&self) -> Result<Position> {
        self.position.ok_or_else(|| protocol("an event before the subscription".into()))
    }

    /// Records the server holds from our day on that we do not.
    fn lag(&self) -> Option<u64> {
        let pos = self.position?;
        if self.server_counts.is_empty() {
            return None;
        }
        let ahead: u64 = self.server_counts.range(pos.day..).map(|(_, n)| n).sum();
        Some(ahead.saturating_sub(pos.next_id))
    }

    fn report(&self) {
        let Some(pos) = self.position else { return };
        (self.progress)(Progress {
            connected: self.connected,
            date: pos.day,
            next_id: pos.next_id,
            head: self.head,
            lag: self.lag(),
            appended: self.appended,
        });
    }
}

/// How much payload one gathered append may hold (see [`Follower::gather`]): the batches
/// are in memory already (the stream's flow-control window bounds them); this bounds one
/// append's write.
const GATHER_BYTES: usize = 8 << 20;

/// How many records one gathered append may hold (empty payloads count for nothing in
/// [`GATHER_BYTES`]).
const GATHER_RECORDS: usize = 64 * 1024;

/// The message [`Follower::gather`] read that is not a batch.
type Lookahead = Option<std::result::Result<Option<SyncEvent>, tonic::Status>>;

fn payload(batch: &RecordBatch) -> usize {
    batch.records.iter().map(|r| r.data.len()).sum()
}

fn parse_date(s: &str) -> Result<Date> {
    Date::parse(s).map_err(|e| protocol(format!("the server sent a bad date: {e}")))
}

fn protocol(message: String) -> Error {
    Error::new(ErrorKind::Protocol, message)
}
