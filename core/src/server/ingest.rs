//! The native ingest service `modsynclog.v1.Ingest`: batches, unary or streamed.
//!
//! `Append` stores one batch and answers with its `(date, first_id, count)`.
//! `AppendStream` is a pipeline: the handler keeps reading (and queueing) batches while
//! earlier ones are being written, up to [`MAX_IN_FLIGHT`] batches and
//! [`Limits::stream_inflight_bytes`](super::Limits::stream_inflight_bytes), and sends one ack per
//! batch in order, each only after its batch is in the store. A bad batch (over a limit,
//! a type outside `i16`) ends the stream with a `Status` after the acks of the batches
//! before it; nothing of the bad batch or of later ones is stored. When the server stops,
//! open streams stop reading, ack what they queued and end with `UNAVAILABLE`.
//!
//! A request with a `producer_id` is deduplicated (see [`super::dedup`]): a batch whose
//! `batch_seq` is not above the last one stored for that producer is acknowledged with
//! `duplicate = true` and not stored again.

use std::pin::Pin;

use futures::stream::{FuturesOrdered, Stream, StreamExt};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::writer::{Ack, Batch, Origin, WriterHandle, next_stream};
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{Session, SessionKind, Sessions};
use crate::proto::v1::ingest_server::{Ingest, IngestServer};
use crate::proto::v1::{AppendRequest, AppendResponse, StoredSeqRequest, StoredSeqResponse};

/// Most batches of one stream queued but not yet acknowledged.
pub const MAX_IN_FLIGHT: usize = 64;

pub use crate::grpc::status_from;

/// Turns the wire records into a writer batch (types must fit an `i16`) and its origin,
/// sent on the ingest call numbered `stream` ([`next_stream`]).
/// `pub(crate)` for the fuzz targets ([`crate::fuzzing`]), which feed it decoded requests.
pub(crate) fn to_batch(req: AppendRequest, stream: u64) -> Result<(Option<Origin>, Batch)> {
    let origin = (!req.producer_id.is_empty()).then(|| Origin::new(req.producer_id, req.batch_seq).on_stream(stream));
    let batch = req
        .records
        .into_iter()
        .map(|r| {
            let ty = i16::try_from(r.r#type)
                .map_err(|_| Error::invalid(format!("record type {} does not fit in 16 bits", r.r#type)))?;
            Ok((ty, r.data))
        })
        .collect::<Result<Batch>>()?;
    Ok((origin, batch))
}

/// The wire ack of a batch.
fn response(batch_seq: u64, ack: Ack) -> AppendResponse {
    match ack {
        Ack::Stored(a) => AppendResponse {
            batch_seq,
            date: a.date.to_string(),
            first_id: a.first_id,
            count: a.count,
            duplicate: false,
        },
        Ack::Duplicate(Some(a)) => AppendResponse {
            batch_seq,
            date: a.date.to_string(),
            first_id: a.first_id,
            count: a.count,
            duplicate: true,
        },
        Ack::Duplicate(None) => {
            AppendResponse { batch_seq, date: String::new(), first_id: 0, count: 0, duplicate: true }
        }
    }
}

/// The `modsynclog.v1.Ingest` implementation.
#[derive(Debug, Clone)]
pub struct IngestService {
    writer: WriterHandle,
    stopping: watch::Receiver<bool>,
    /// One permit per ingest call (stream or unary) in progress.
    calls: Arc<Semaphore>,
    /// Where open streams register as producers (the HTTP API's list).
    sessions: Option<Arc<Sessions>>,
}

/// Ingest calls (streams, unary appends and `StoredSeq`) in progress at once, by default.
pub const MAX_INGEST_CALLS: usize = 256;

impl IngestService {
    /// `stopping` turns true when the server begins to shut down.
    pub fn new(writer: WriterHandle, stopping: watch::Receiver<bool>) -> Self {
        IngestService { writer, stopping, calls: Arc::new(Semaphore::new(MAX_INGEST_CALLS)), sessions: None }
    }

    /// At most `n` ingest calls in progress at once (default [`MAX_INGEST_CALLS`]); more
    /// are refused with `Unavailable` (producers retry with backoff). With the per-stream
    /// budget this bounds what ingest holds: `n` x (stream budget + one message).
    pub fn with_max_calls(mut self, n: usize) -> Self {
        self.calls = Arc::new(Semaphore::new(n.max(1)));
        self
    }

    /// Registers every ingest stream in `sessions` while it is open.
    pub fn with_sessions(mut self, sessions: Arc<Sessions>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    fn call_slot(&self) -> Result<OwnedSemaphorePermit, Status> {
        self.calls.clone().try_acquire_owned().map_err(|_| {
            status_from(&Error::new(
                ErrorKind::Unavailable,
                "too many ingest calls in progress (--max-ingest-calls); try again later",
            ))
        })
    }

    pub fn into_server(self) -> IngestServer<Self> {
        let max = self.writer.limits().max_message_len();
        IngestServer::new(self).max_decoding_message_size(max)
    }
}

type AckStream = Pin<Box<dyn Stream<Item = Result<AppendResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Ingest for IngestService {
    async fn append(&self, request: Request<AppendRequest>) -> Result<Response<AppendResponse>, Status> {
        let _slot = self.call_slot()?;
        let req = request.into_inner();
        let batch_seq = req.batch_seq;
        let (origin, batch) = to_batch(req, next_stream()).map_err(|e| status_from(&e))?;
        let pending = self.writer.submit_from(origin, batch).await.map_err(|e| status_from(&e))?;
        let ack = pending.wait_ack().await.map_err(|e| status_from(&e))?;
        Ok(Response::new(response(batch_seq, ack)))
    }

    async fn stored_seq(&self, request: Request<StoredSeqRequest>) -> Result<Response<StoredSeqResponse>, Status> {
        let producer = request.into_inner().producer_id;
        crate::server::dedup::check_producer_id(&producer).map_err(|e| status_from(&e))?;
        // It waits in the writer's queue like a batch, so it counts like one.
        let _slot = self.call_slot()?;
        let seq = self.writer.stored_seq(&producer).await.map_err(|e| status_from(&e))?;
        Ok(Response::new(StoredSeqResponse { known: seq.is_some(), batch_seq: seq.unwrap_or(0) }))
    }

    type AppendStreamStream = AckStream;

    async fn append_stream(
        &self,
        request: Request<Streaming<AppendRequest>>,
    ) -> Result<Response<Self::AppendStreamStream>, Status> {
        let slot = self.call_slot()?;
        let peer = crate::access::peer_addr(&request).map_or_else(|| "unknown".to_string(), |a| a.to_string());
        let session = self.sessions.as_ref().map(|s| s.open(SessionKind::Producer, peer));
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(MAX_IN_FLIGHT);
        let (writer, stopping, stream) = (self.writer.clone(), self.stopping.clone(), next_stream());
        tokio::spawn(async move {
            pipeline(inbound, tx, writer, stopping, stream, session.as_ref()).await;
            drop(slot);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Reads batches, queues them for the writer and forwards their acks in order.
async fn pipeline(
    mut inbound: Streaming<AppendRequest>,
    out: mpsc::Sender<Result<AppendResponse, Status>>,
    writer: WriterHandle,
    mut stopping: watch::Receiver<bool>,
    stream: u64,
    session: Option<&Session>,
) {
    let mut pending = FuturesOrdered::new();
    // Payload bytes of the batches in `pending`; reading stops at the stream's budget.
    let (mut inflight, budget) = (0usize, writer.limits().stream_inflight_bytes.max(1));
    // Set once no more input will be read: `Some(status)` ends the stream with that status.
    let mut input_done = false;
    let mut final_status: Option<Status> = None;
    let mut stop = *stopping.borrow();
    loop {
        if stop && !input_done {
            input_done = true;
            final_status = Some(Status::unavailable("the server is stopping"));
        }
        if input_done && pending.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            Some((ack, bytes, records)) = pending.next(), if !pending.is_empty() => {
                let ack: Result<AppendResponse, Status> = ack;
                inflight -= bytes;
                match ack {
                    Ok(resp) => {
                        // A resend stored before is not stored again: not counted twice.
                        if let Some(s) = session.filter(|_| !resp.duplicate) {
                            s.add(records as u64, bytes as u64);
                        }
                        if out.send(Ok(resp)).await.is_err() {
                            return; // the client went away
                        }
                    }
                    Err(status) => {
                        let _ = out.send(Err(status)).await;
                        return;
                    }
                }
            }
            changed = stopping.changed(), if !stop => {
                stop = changed.is_err() || *stopping.borrow();
            }
            msg = inbound.message(), if !input_done && pending.len() < MAX_IN_FLIGHT && inflight < budget => {
                match msg {
                    Ok(Some(req)) => {
                        let batch_seq = req.batch_seq;
                        let bytes: usize = req.records.iter().map(|r| r.data.len()).sum();
                        let records = req.records.len();
                        inflight += bytes;
                        let queued = match to_batch(req, stream) {
                            Ok((origin, batch)) => writer.submit_from(origin, batch).await,
                            Err(e) => Err(e),
                        };
                        match queued {
                            Ok(ack) => pending.push_back(futures::future::Either::Left(async move {
                                let ack = ack.wait_ack().await.map_err(|e| status_from(&e));
                                (ack.map(|ack| response(batch_seq, ack)), bytes, records)
                            })),
                            Err(e) => {
                                // Acks of earlier batches go first, then the stream ends.
                                pending.push_back(futures::future::Either::Right(futures::future::ready((
                                    Err(status_from(&e)),
                                    bytes,
                                    records,
                                ))));
                                input_done = true;
                            }
                        }
                    }
                    Ok(None) => input_done = true,
                    Err(status) => {
                        // Tell the producer why (e.g. a message over the size limit), after
                        // the acks of earlier batches: ending with OK would make it resend
                        // the same batch forever.
                        tracing::debug!(%status, "ingest stream broke");
                        final_status.get_or_insert(status);
                        input_done = true;
                    }
                }
            }
        }
    }
    if let Some(status) = final_status {
        let _ = out.send(Err(status)).await;
    }
}
