//! `/api/follow`: the records stored from now on, as server-sent events.
//!
//! Each follower is a core [`Reader`](modsynclog_core::Reader) following the store on
//! the blocking pool, woken by the writer's signal (the server) or inotify (a replica),
//! feeding a small bounded channel: a slow browser makes its reader wait, nothing piles
//! up. The reader stops when the browser goes away (the channel closes) or the process
//! stops.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use modsynclog_core::store::day;
use modsynclog_core::{Error, ErrorKind, Next};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::Shared;
use crate::api::{bad_query, error_response, failed};
use crate::filter::Filter;
use crate::records::record_json;

/// Followers at once; more get 503.
pub const MAX_FOLLOWERS: usize = 32;
/// Events queued for one follower: each at most [`MAX_SHOWN`](crate::records::MAX_SHOWN)
/// of payload (base64 or escaped text: about 1.4 times that), so about 3 MiB a follower.
const QUEUE: usize = 32;
/// A follower whose browser takes nothing for this long is dropped (its slot and thread
/// go to someone who reads).
const STALLED: Duration = Duration::from_secs(30);
/// How often a waiting reader looks whether its follower is still there.
const CHECK_GONE: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
pub(crate) struct FollowQuery {
    r#type: Option<i16>,
    q: Option<String>,
    re: Option<String>,
}

pub(crate) async fn follow(State(state): State<Shared>, query: Result<Query<FollowQuery>, QueryRejection>) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return bad_query(e),
    };
    let Some(store) = state.store.clone() else {
        return failed(Error::new(ErrorKind::NotFound, "this process serves no store"));
    };
    let filter = match Filter::new(query.r#type, query.q.as_deref(), query.re.as_deref()) {
        Ok(f) => f,
        Err(e) => return failed(e),
    };
    let Ok(slot) = state.followers.clone().try_acquire_owned() else {
        let e = Error::new(ErrorKind::Unavailable, format!("{MAX_FOLLOWERS} followers already; try again later"));
        return error_response(StatusCode::SERVICE_UNAVAILABLE, &e);
    };
    let (tx, rx) = mpsc::channel::<Event>(QUEUE);
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        if let Err(e) = run(&store, &filter, &tx) {
            tracing::warn!(error = %e, "http follower stopped");
            send(&tx, Event::default().event("error").data(e.to_string()));
        }
    });
    let stream: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> =
        Box::pin(futures::StreamExt::map(ReceiverStream::new(rx), Ok));
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("keep-alive")).into_response()
}

/// Follows from the head (the newest day's end) until the follower goes away.
fn run(store: &crate::StoreView, filter: &Filter, tx: &mpsc::Sender<Event>) -> modsynclog_core::Result<()> {
    let vfs = store.vfs.as_ref();
    let mut reader = (store.readers)()?.follow(true);
    if let Some(newest) = day::list_days(vfs, &store.root)?.last().copied() {
        reader = reader.from(newest, day::record_count(vfs, &store.root, newest)?);
    }
    if !send(tx, Event::default().event("open").data("{}")) {
        return Ok(());
    }
    loop {
        if tx.is_closed() {
            return Ok(());
        }
        match reader.next_record(Some(CHECK_GONE))? {
            Next::Record(r) if filter.matches(&r) => {
                let event = Event::default().event("record").data(record_json(&r, true).to_string());
                if !send(tx, event) {
                    return Ok(());
                }
            }
            Next::Record(_) | Next::Timeout => {}
            Next::End => return Ok(()),
        }
    }
}

/// Queues `event`, waiting while the queue is full, at most [`STALLED`]; `false` when the
/// follower is gone or stalled.
fn send(tx: &mpsc::Sender<Event>, mut event: Event) -> bool {
    let deadline = std::time::Instant::now() + STALLED;
    loop {
        match tx.try_send(event) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
            Err(mpsc::error::TrySendError::Full(back)) => {
                if std::time::Instant::now() > deadline {
                    tracing::info!("http follower dropped: its browser took nothing for {STALLED:?}");
                    return false;
                }
                event = back;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
