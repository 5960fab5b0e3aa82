//! The producer's background task: batches to the server, acks back to the queue.
//!
//! Native mode keeps one `AppendStream` open, with up to [`MAX_IN_FLIGHT`] batches sent
//! and not yet acknowledged. When the server stops reading the stream, its remaining acks
//! and final status are still read (for up to [`STOPPED_READING_WAIT`]): the status says
//! why (e.g. `NoSpace`), which decides the backoff. When the stream fails it reconnects
//! (backoff: immediate, then 50 ms doubling up to 2 s) and first resends the
//! unacknowledged batches, in order, with their original `batch_seq`. Every batch carries
//! the producer's random `producer_id`, so a server that stored a batch but lost the ack
//! (a crash) recognises the resend and acknowledges it as a duplicate without storing it
//! again: exactly once. A batch the server refuses as invalid is dropped and reported
//! (resending it could never succeed). Legacy mode sends one unary call per
//! record, retrying each until the server answers.
//!
//! Failures to connect (refused, TLS handshake) are retried, and remembered with their
//! whole cause chain (`explain_transport_error`) for a `flush` that times out. A refusal
//! of the credentials (`Unauthenticated`, `PermissionDenied`), in either mode, is final:
//! [`Shared::failed`] ends the producer and the task returns. `NoSpace` (the server's disk
//! is full), in either mode, keeps every batch and is retried on a slower backoff (1 s
//! doubling to [`NO_SPACE_MAX_DELAY`]), never dropped, never in a tight loop;
//! [`Shared::failed`] puts the producer out of space until the next ack.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{FuturesOrdered, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use super::queue::Shared;
use super::{TYPE_APP_LOG, TYPE_DB_LOG, error_from_status};
use crate::error::{Error, ErrorKind};
use crate::proto::legacy::log_client::LogClient;
use crate::proto::legacy::{AppLogRequest, DbLogRequest, JsonLogRequest};
use crate::proto::v1::ingest_client::IngestClient;
use crate::proto::v1::{AppendRequest, AppendResponse, Record};

/// How long the acks and the final status of a stream are awaited once the server has
/// stopped reading it.
const STOPPED_READING_WAIT: Duration = Duration::from_secs(10);

/// Batches sent on the stream and not yet acknowledged.
pub(crate) const MAX_IN_FLIGHT: usize = 32;
const MAX_MESSAGE: usize = 64 << 20;

/// The first retry after the server answered `NoSpace`; each next one waits twice as long.
pub(crate) const NO_SPACE_FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between retries while the server answers `NoSpace`.
pub(crate) const NO_SPACE_MAX_DELAY: Duration = Duration::from_secs(10);

/// Delays between attempts: the first retry is immediate, then 50 ms doubling up to 2 s;
/// after `NoSpace` answers, 1 s doubling up to 10 s (a full disk is not freed in a moment).
#[derive(Default)]
pub(crate) struct Backoff {
    attempts: u32,
    no_space: u32,
}

impl Backoff {
    pub(crate) fn next(&mut self) -> Duration {
        let n = self.attempts;
        self.attempts += 1;
        if self.no_space > 0 {
            return (NO_SPACE_FIRST_DELAY * (1 << (self.no_space - 1).min(8))).min(NO_SPACE_MAX_DELAY);
        }
        let d = if n == 0 { Duration::ZERO } else { Duration::from_millis(50 << (n - 1).min(6)) };
        d.min(Duration::from_secs(2))
    }

    /// The server answered `NoSpace` (`err`'s kind): later delays are the slow ones.
    pub(crate) fn after(&mut self, err: &Error) {
        if err.kind() == ErrorKind::NoSpace {
            self.no_space += 1;
        }
    }
}

/// A random 128-bit id (32 hex digits) for one producer instance. The keys of std's
/// `RandomState` come from the OS random source; the time, the process id and a counter
/// make every call distinct.
pub(crate) fn new_producer_id() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let half = |part: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(part);
        h.write_u64(call);
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.finish()
    };
    format!("{:016x}{:016x}", half(0), half(1))
}

/// `endpoint` as every sender of batches uses it: a connect timeout, and HTTP/2 pings
/// even while idle, so that a server that vanished (host down, network cut after the last
/// batch was sent) is noticed within 20 s and the stream reconnected, rather than an ack
/// awaited forever.
pub(crate) fn tuned(endpoint: Endpoint) -> Endpoint {
    endpoint
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true)
}

pub(crate) fn run(shared: Arc<Shared>, endpoint: Endpoint) -> impl Future<Output = ()> + Send + 'static {
    // Made now, not at the first poll: a runtime may drop the task before it ever ran.
    let stopped = StopOnDrop(shared.clone());
    async move {
        let _stopped = stopped;
        let endpoint = tuned(endpoint);
        if shared.opts.legacy { run_legacy(shared, endpoint).await } else { run_native(shared, endpoint).await }
    }
}

/// However the task ends (a caller's runtime that shuts down drops it mid-await), flushes
/// must not wait for acks nobody will read.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stopped();
    }
}

struct Sent {
    request: AppendRequest,
    count: u64,
}

fn auth_header(shared: &Shared) -> Option<MetadataValue<tonic::metadata::Ascii>> {
    let token = shared.opts.token.as_ref()?;
    match format!("Bearer {token}").parse::<MetadataValue<tonic::metadata::Ascii>>() {
        Ok(mut v) => {
            // Kept out of HPACK tables and Debug output.
            v.set_sensitive(true);
            Some(v)
        }
        Err(_) => {
            shared.failed(&Error::invalid("the token is not valid in a gRPC header"));
            None
        }
    }
}

async fn run_native(shared: Arc<Shared>, endpoint: Endpoint) {
    let mut unacked: VecDeque<Sent> = VecDeque::new();
    // The seq keeps growing across reconnects; resends keep their original seq.
    let mut next_seq = 0u64;
    let producer_id = new_producer_id();
    let (mut resent_batches, mut duplicate_batches) = (0u64, 0u64);
    let mut backoff = Backoff::default();
    let auth = auth_header(&shared);
    loop {
        if unacked.is_empty() && shared.drained() {
            log_delivered(resent_batches, duplicate_batches);
            return;
        }
        let delay = backoff.next();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let (tx, mut acks) =
            match open_stream(&endpoint, auth.as_ref(), unacked.iter().map(|s| s.request.clone())).await {
                Ok(stream) => stream,
                Err(err) => {
                    if shared.failed(&err) {
                        return;
                    }
                    backoff.after(&err);
                    continue;
                }
            };
        if !unacked.is_empty() {
            resent_batches += unacked.len() as u64;
            tracing::info!(
                batches = unacked.len(),
                records = unacked.iter().map(|s| s.count).sum::<u64>(),
                "resending unacknowledged batches"
            );
        }
        let mut draining = false;
        // Set when the server stopped reading this stream: no more sends, but its acks and
        // the status saying why (e.g. `NoSpace` for a batch) are still read, for a while.
        let mut stopped_reading: Option<tokio::time::Instant> = None;
        loop {
            if draining && unacked.is_empty() {
                log_delivered(resent_batches, duplicate_batches);
                return;
            }
            tokio::select! {
                ack = acks.message() => match ack {
                    Ok(Some(ack)) => {
                        match unacked.front() {
                            Some(front) if front.request.batch_seq == ack.batch_seq => {
                                if ack.duplicate {
                                    duplicate_batches += 1;
                                    tracing::debug!(
                                        batch_seq = ack.batch_seq,
                                        records = front.count,
                                        "the server had stored this batch already"
                                    );
                                }
                                shared.acked(front.count);
                                unacked.pop_front();
                                backoff = Backoff::default();
                            }
                            _ => {
                                shared.failed(&Error::new(ErrorKind::Protocol, "unexpected ack from the server"));
                                break;
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(status) => {
                        let err = error_from_status(&status);
                        if err.is_refusal()
                            && let Some(bad) = unacked.pop_front()
                        {
                            shared.rejected(bad.count, &err);
                            backoff = Backoff::default();
                        } else if shared.failed(&err) {
                            return;
                        }
                        // `NoSpace`: every batch is kept (the failed one first) and resent
                        // after a slow backoff.
                        backoff.after(&err);
                        break;
                    }
                },
                _ = tokio::time::sleep_until(stopped_reading.unwrap_or_else(tokio::time::Instant::now)),
                    if stopped_reading.is_some() =>
                {
                    shared.failed(&Error::new(ErrorKind::Unavailable, "the server stopped reading the stream"));
                    break;
                }
                batch = shared.next_batch(usize::MAX),
                    if !draining && stopped_reading.is_none() && unacked.len() < MAX_IN_FLIGHT =>
                {
                    let Some(batch) = batch else {
                        draining = true;
                        continue;
                    };
                    let count = batch.len() as u64;
                    let records = batch.into_iter().map(|(ty, data)| Record { r#type: i32::from(ty), data }).collect();
                    let request = AppendRequest { batch_seq: next_seq, records, producer_id: producer_id.clone() };
                    next_seq += 1;
                    let ok = tx.send(request.clone()).await.is_ok();
                    unacked.push_back(Sent { request, count });
                    if !ok {
                        // The stream is ending: read the acks and the status (which says why
                        // and sets the backoff) before reconnecting, not in a hurry.
                        stopped_reading = Some(tokio::time::Instant::now() + STOPPED_READING_WAIT);
                    }
                }
            }
        }
    }
}

/// Connects and opens an ingest stream whose first batches are `resend`, in order: the
/// sender of further batches and the acks. A connection that fails is `Unavailable`.
pub(crate) async fn open_stream(
    endpoint: &Endpoint,
    auth: Option<&MetadataValue<tonic::metadata::Ascii>>,
    resend: impl Iterator<Item = AppendRequest>,
) -> Result<(mpsc::Sender<AppendRequest>, tonic::Streaming<AppendResponse>), Error> {
    let channel = endpoint.connect().await.map_err(|e| {
        Error::new(ErrorKind::Unavailable, format!("cannot connect: {}", crate::tls::explain_transport_error(&e)))
    })?;
    let mut client = IngestClient::new(channel).max_decoding_message_size(MAX_MESSAGE);
    let (tx, rx) = mpsc::channel::<AppendRequest>(MAX_IN_FLIGHT + 1);
    for request in resend {
        let _ = tx.try_send(request);
    }
    let mut request = Request::new(ReceiverStream::new(rx));
    if let Some(v) = auth {
        request.metadata_mut().insert("authorization", v.clone());
    }
    let acks = client.append_stream(request).await.map_err(|s| error_from_status(&s))?.into_inner();
    Ok((tx, acks))
}

async fn run_legacy(shared: Arc<Shared>, endpoint: Endpoint) {
    let client = LogClient::new(endpoint.connect_lazy()).max_decoding_message_size(MAX_MESSAGE);
    let limit = shared.opts.legacy_concurrency.max(1);
    let mut in_flight = FuturesOrdered::new();
    let mut draining = false;
    loop {
        if draining && in_flight.is_empty() {
            return;
        }
        let room = limit.saturating_sub(in_flight.len());
        tokio::select! {
            Some(outcome) = in_flight.next(), if !in_flight.is_empty() => {
                let outcome: Result<(), Error> = outcome;
                match outcome {
                    Ok(()) => shared.acked(1),
                    // The credentials were refused: the producer ended, the rest is dropped.
                    Err(_) if shared.is_ended() => return,
                    Err(e) => shared.rejected(1, &e),
                }
            }
            batch = shared.next_batch(room), if !draining && room > 0 => {
                match batch {
                    Some(batch) => {
                        for (ty, data) in batch {
                            in_flight.push_back(send_legacy(shared.clone(), client.clone(), ty, data));
                        }
                    }
                    None => draining = true,
                }
            }
        }
    }
}

/// One record through the legacy service, retried until the server answers. A non-zero
/// `errCode`, or a status refusing the record (`InvalidArgument`, `TooLarge`), is final,
/// except "closed" (that server is stopping: try again) and `NoSpace`
/// (its disk is full: try again, slowly; the producer is out of space meanwhile). A refusal
/// of the credentials (status or `errCode`) ends the whole producer.
async fn send_legacy(shared: Arc<Shared>, mut client: LogClient<Channel>, ty: i16, data: Bytes) -> Result<(), Error> {
    let mut backoff = Backoff::default();
    loop {
        let delay = backoff.next();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let data_type = i32::from(ty);
        let data = data.clone();
        let reply = match ty {
            TYPE_DB_LOG => {
                client.db_log_write(DbLogRequest { data_type, data }).await.map(|r| r.into_inner().into_parts())
            }
            TYPE_APP_LOG => {
                client.app_log_write(AppLogRequest { data_type, data }).await.map(|r| r.into_inner().into_parts())
            }
            _ => client.json_log_write(JsonLogRequest { data_type, data }).await.map(|r| r.into_inner().into_parts()),
        };
        match reply {
            Ok((0, _)) => return Ok(()),
            Ok((code, message)) if code == ErrorKind::Closed.code() => {
                shared.failed(&Error::new(ErrorKind::Unavailable, message));
            }
            Ok((code, message)) => {
                let kind = ErrorKind::ALL.iter().copied().find(|k| k.code() == code).unwrap_or(ErrorKind::Protocol);
                let err = Error::new(kind, format!("server errCode {code}: {message}"));
                if kind == ErrorKind::NoSpace {
                    shared.failed(&err);
                    backoff.after(&err);
                    continue;
                }
                if err.is_auth() {
                    shared.failed(&err);
                }
                return Err(err);
            }
            Err(status) => {
                let err = error_from_status(&status);
                // The server refused this record (a message over its limit, as the Go
                // server answers with a status): resending it cannot help, and retrying
                // would hold every record behind it.
                if err.is_refusal() || shared.failed(&err) {
                    return Err(err);
                }
                backoff.after(&err);
            }
        }
    }
}

/// `(errCode, errMessage)` of the three legacy replies.
trait Parts {
    fn into_parts(self) -> (i32, String);
}

macro_rules! parts {
    ($($t:ty),*) => {$(
        impl Parts for $t {
            fn into_parts(self) -> (i32, String) {
                (self.err_code, self.err_message)
            }
        }
    )*};
}
parts!(
    crate::proto::legacy::DbLogResponse,
    crate::proto::legacy::AppLogResponse,
    crate::proto::legacy::JsonLogResponse
);

/// The closing line of a producer that had to resend after a reconnect.
fn log_delivered(resent_batches: u64, duplicate_batches: u64) {
    if resent_batches > 0 {
        tracing::info!(
            resent_batches,
            duplicate_batches,
            "delivered; resends the server had already stored were not stored twice"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_quick_for_failures_and_slow_while_the_disk_is_full() {
        let mut b = Backoff::default();
        let ms = |b: &mut Backoff| b.next().as_millis();
        assert_eq!([ms(&mut b), ms(&mut b), ms(&mut b)], [0, 50, 100]);
        let full = Error::new(ErrorKind::NoSpace, "full");
        let mut slow = Vec::new();
        for _ in 0..6 {
            b.after(&full);
            slow.push(ms(&mut b));
        }
        assert_eq!(slow, [1000, 2000, 4000, 8000, 10_000, 10_000]);
        b.after(&Error::new(ErrorKind::Unavailable, "down"));
        assert_eq!(ms(&mut b), 10_000, "still out of space: no quick retries");
    }
}
