//! [`SeqSender`]: batches with the caller's own producer ids and seqs over one ingest
//! stream, for clients whose resume point is their own state (the log agent: one producer
//! id per file, a batch's seq the byte offset after its last line).
//!
//! The caller reserves room for a [`SeqBatch`] with [`SeqSender::reserve`], which waits
//! while `max_in_flight_bytes` of payload are unacknowledged (back-pressure: a server that
//! is down or slow stops the caller, memory stays bounded; waiting is cancel-safe, so a
//! caller can take acks meanwhile), queues it with [`SeqSender::send`], and takes one
//! [`SeqAck`] per batch, in the order sent, from the receiver [`SeqSender::connect`]
//! returned (which the caller must keep draining). A broken
//! stream is reconnected with the producer's backoff and every unacknowledged batch is
//! resent with its seq; the server acknowledges a batch it stored before as a duplicate
//! (see [`Delivered`]). A refusal of the credentials ends the sender: one last ack carries
//! the error and the receiver closes. [`SeqSender::stored_seq`] asks the server up to
//! where a producer is stored, for resuming after the caller lost track.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tonic::Request;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Endpoint;

use super::error_from_status;
use super::transport::{Backoff, MAX_IN_FLIGHT, open_stream, tuned};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::v1::ingest_client::IngestClient;
use crate::proto::v1::{AppendRequest, Record, StoredSeqRequest};
use crate::tls::ClientTls;

/// A batch of one producer with its seq (above the producer's last one, except resends).
#[derive(Debug, Clone)]
pub struct SeqBatch {
    pub producer: String,
    pub seq: u64,
    pub records: Vec<(i16, Bytes)>,
}

/// What became of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Stored,
    /// Stored before (a resend after a lost ack or a restart); not stored again.
    Duplicate,
}

/// The answer for one batch, in the order the batches were sent.
#[derive(Debug)]
pub struct SeqAck {
    pub producer: String,
    pub seq: u64,
    pub records: usize,
    /// `Err`: refused for good (`TooLarge`, `InvalidArgument`; the sender goes on) or the
    /// sender ended (`Unauthenticated`, `PermissionDenied`; the last ack).
    pub result: Result<Delivered>,
}

/// Sends [`SeqBatch`]es; see the module docs.
#[derive(Debug)]
pub struct SeqSender {
    /// Unbounded in count, bounded by the byte budget: every queued batch holds permits.
    tx: mpsc::UnboundedSender<(AppendRequest, OwnedSemaphorePermit)>,
    budget: Arc<Semaphore>,
    max_bytes: usize,
    endpoint: Endpoint,
    auth: Option<AsciiMetadataValue>,
    /// Why the sender ended (a refusal of the credentials), for later calls.
    ended: Ended,
    /// The connection of [`stored_seq`](SeqSender::stored_seq) calls, once made.
    queries: tokio::sync::Mutex<Option<tonic::transport::Channel>>,
}

type Ended = Arc<Mutex<Option<Error>>>;

/// Room reserved for one batch ([`SeqSender::reserve`]).
#[derive(Debug)]
pub struct Reserved(OwnedSemaphorePermit);

impl SeqSender {
    /// Starts the sender's task on the current tokio runtime. Connects lazily (an
    /// unreachable server is retried, not reported here); `addr` and `tls` as for
    /// [`Producer::connect`](super::Producer::connect).
    pub fn connect(
        addr: &str,
        token: Option<&str>,
        tls: &ClientTls,
        max_in_flight_bytes: usize,
    ) -> Result<(SeqSender, mpsc::Receiver<SeqAck>)> {
        let endpoint = tuned(crate::tls::endpoint(addr, tls)?);
        let auth = match token {
            Some(t) => {
                let mut v: AsciiMetadataValue = format!("Bearer {t}")
                    .parse()
                    .map_err(|_| Error::invalid("the token cannot be sent in a gRPC header (printable ASCII only)"))?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let max_bytes = max_in_flight_bytes.clamp(1, u32::MAX as usize);
        let (tx, rx) = mpsc::unbounded_channel();
        let (acks_tx, acks) = mpsc::channel(MAX_IN_FLIGHT * 2);
        let ended = Ended::default();
        tokio::spawn(run(endpoint.clone(), auth.clone(), rx, acks_tx, ended.clone()));
        let budget = Arc::new(Semaphore::new(max_bytes));
        let queries = tokio::sync::Mutex::new(None);
        Ok((SeqSender { tx, budget, max_bytes, endpoint, auth, ended, queries }, acks))
    }

    /// Room for a batch of `bytes` payload bytes, once the unacknowledged batches leave it
    /// (a batch larger than `max_in_flight_bytes` waits for all of them). Cancel-safe.
    pub async fn reserve(&self, bytes: usize) -> Result<Reserved> {
        let permits = bytes.clamp(1, self.max_bytes) as u32;
        let permit = self.budget.clone().acquire_many_owned(permits).await.map_err(|_| self.closed())?;
        Ok(Reserved(permit))
    }

    /// Queues `batch` in the room `reserved` for it. Once the sender ended: the error that
    /// ended it.
    pub fn send(&self, reserved: Reserved, batch: SeqBatch) -> Result<()> {
        let records = batch.records.into_iter().map(|(ty, data)| Record { r#type: i32::from(ty), data }).collect();
        let request = AppendRequest { batch_seq: batch.seq, records, producer_id: batch.producer };
        self.tx.send((request, reserved.0)).map_err(|_| self.closed())
    }

    fn closed(&self) -> Error {
        match &*self.ended.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Error::new(e.kind(), e.message().to_string()),
            None => Error::new(ErrorKind::Closed, "the sender has ended"),
        }
    }

    /// The last seq the server stored for `producer` (`None`: it has none, or forgot it).
    pub async fn stored_seq(&self, producer: &str) -> Result<Option<u64>> {
        let mut queries = self.queries.lock().await;
        let channel = match &*queries {
            Some(c) => c.clone(),
            None => {
                let c = self.endpoint.connect().await.map_err(|e| {
                    let why = crate::tls::explain_transport_error(&e);
                    Error::new(ErrorKind::Unavailable, format!("cannot connect: {why}"))
                })?;
                queries.insert(c).clone()
            }
        };
        let mut request = Request::new(StoredSeqRequest { producer_id: producer.to_string() });
        if let Some(v) = &self.auth {
            request.metadata_mut().insert("authorization", v.clone());
        }
        let resp = match IngestClient::new(channel).stored_seq(request).await {
            Ok(r) => r.into_inner(),
            Err(status) => {
                // A broken connection is made again at the next call.
                *queries = None;
                return Err(error_from_status(&status));
            }
        };
        Ok(resp.known.then_some(resp.batch_seq))
    }
}

struct Sent {
    request: AppendRequest,
    _permit: OwnedSemaphorePermit,
}

impl Sent {
    fn ack(&self, result: Result<Delivered>) -> SeqAck {
        let r = &self.request;
        SeqAck { producer: r.producer_id.clone(), seq: r.batch_seq, records: r.records.len(), result }
    }
}

/// The connection loop: one stream at a time, every unacknowledged batch resent first.
async fn run(
    endpoint: Endpoint,
    auth: Option<AsciiMetadataValue>,
    mut batches: mpsc::UnboundedReceiver<(AppendRequest, OwnedSemaphorePermit)>,
    acks: mpsc::Sender<SeqAck>,
    ended: Ended,
) {
    let mut unacked: VecDeque<Sent> = VecDeque::new();
    let mut backoff = Backoff::default();
    let mut outage = Outage::default();
    let mut input_closed = false;
    loop {
        if input_closed && unacked.is_empty() {
            return;
        }
        let delay = backoff.next();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let resend = unacked.iter().map(|s| s.request.clone());
        let (tx, mut stream) = match open_stream(&endpoint, auth.as_ref(), resend).await {
            Ok(stream) => stream,
            Err(err) => {
                if end_if_final(&err, &mut unacked, &acks, &ended).await {
                    return;
                }
                outage.failed(&err, "cannot reach the server");
                backoff.after(&err);
                continue;
            }
        };
        if !unacked.is_empty() {
            tracing::info!(batches = unacked.len(), "resending unacknowledged batches");
        }
        loop {
            if input_closed && unacked.is_empty() {
                return;
            }
            tokio::select! {
                ack = stream.message() => match ack {
                    Ok(Some(ack)) => {
                        if unacked.front().is_none_or(|f| f.request.batch_seq != ack.batch_seq) {
                            tracing::warn!(batch_seq = ack.batch_seq, "an ack out of order; reconnecting");
                            break;
                        }
                        outage.over();
                        let front = unacked.pop_front().expect("checked above");
                        let delivered = if ack.duplicate { Delivered::Duplicate } else { Delivered::Stored };
                        backoff = Backoff::default();
                        // The batch's room is free before its ack is handed on.
                        let ack = front.ack(Ok(delivered));
                        drop(front);
                        if acks.send(ack).await.is_err() {
                            return; // nobody listens any more
                        }
                    }
                    Ok(None) => break,
                    Err(status) => {
                        let err = error_from_status(&status);
                        if err.is_refusal()
                            && let Some(bad) = unacked.pop_front()
                        {
                            let _ = acks.send(bad.ack(Err(err))).await;
                            backoff = Backoff::default();
                        } else if end_if_final(&err, &mut unacked, &acks, &ended).await {
                            return;
                        } else {
                            outage.failed(&err, "the stream to the server failed");
                            backoff.after(&err);
                        }
                        break;
                    }
                },
                next = batches.recv(), if !input_closed && unacked.len() < MAX_IN_FLIGHT => match next {
                    Some((request, permit)) => {
                        let ok = tx.send(request.clone()).await.is_ok();
                        unacked.push_back(Sent { request, _permit: permit });
                        if !ok {
                            break; // the stream is gone; the batch is resent on the next one
                        }
                    }
                    None => input_closed = true,
                },
            }
        }
    }
}

/// A refusal of the credentials ends the sender: every unacknowledged batch is answered
/// with it. Returns whether it was one.
async fn end_if_final(err: &Error, unacked: &mut VecDeque<Sent>, acks: &mpsc::Sender<SeqAck>, ended: &Ended) -> bool {
    if !err.is_auth() {
        return false;
    }
    tracing::error!(error = %err, "the server refused the credentials; the sender stops");
    *ended.lock().unwrap_or_else(|p| p.into_inner()) = Some(Error::new(err.kind(), err.message().to_string()));
    for sent in unacked.drain(..) {
        let _ = acks.send(sent.ack(Err(Error::new(err.kind(), err.message().to_string())))).await;
    }
    true
}

/// Logs an outage at `warn` when it begins and once a minute while it lasts (every retry
/// at `debug`), and its end: what an operator watching the agent's or bridge's log needs.
#[derive(Default)]
struct Outage {
    since: Option<std::time::Instant>,
    warned: Option<std::time::Instant>,
}

impl Outage {
    const WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

    fn failed(&mut self, err: &Error, what: &str) {
        let now = std::time::Instant::now();
        let since = *self.since.get_or_insert(now);
        if self.warned.is_none_or(|w| now - w >= Self::WARN_EVERY) {
            self.warned = Some(now);
            tracing::warn!(error = %err, down_for = ?(now - since), "{what}; retrying (batches are kept)");
        } else {
            tracing::debug!(error = %err, "{what}; will retry");
        }
    }

    fn over(&mut self) {
        if let Some(since) = self.since.take() {
            self.warned = None;
            tracing::info!(after = ?since.elapsed(), "the server acknowledges again");
        }
    }
}
