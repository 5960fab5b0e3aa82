//! The legacy gRPC ingest service `grpc_proto_log.Log`, as the Go SDK calls it.
//!
//! Each of the three unary methods stores `(int16)DataType` and `Data` verbatim (the
//! method only tells which kind of payload the Go SDK sent) and answers `errCode = 0,
//! errMessage = "ok"` — unlike the original, only once the record is in the store. A
//! refused record (over the size limit, server stopping, I/O failure) gets a non-zero
//! `errCode` (the [`ErrorKind`](crate::ErrorKind) code) and a message, with gRPC status OK,
//! because the Go SDK looks at `errCode`.
//!
//! Each call holds its record while it waits for the writer, so calls in progress are
//! capped like native ingest calls ([`super::ingest::MAX_INGEST_CALLS`] by default, its
//! own count): one more is answered `errCode` = `Unavailable` at once, and what the
//! service holds stays at most that many records of the message limit.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use super::writer::WriterHandle;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::legacy::log_server::{Log, LogServer};
use crate::proto::legacy::{
    AppLogRequest, AppLogResponse, DbLogRequest, DbLogResponse, JsonLogRequest, JsonLogResponse,
};
use crate::store::Appended;

/// The `grpc_proto_log.Log` implementation.
#[derive(Debug, Clone)]
pub struct LegacyLogService {
    writer: WriterHandle,
    /// One permit per call in progress.
    calls: Arc<Semaphore>,
}

impl LegacyLogService {
    pub fn new(writer: WriterHandle) -> Self {
        LegacyLogService { writer, calls: Arc::new(Semaphore::new(super::ingest::MAX_INGEST_CALLS)) }
    }

    /// At most `n` calls in progress at once (see the module docs).
    pub fn with_max_calls(mut self, n: usize) -> Self {
        self.calls = Arc::new(Semaphore::new(n.max(1)));
        self
    }

    /// The tonic service, accepting messages as large as the limits allow.
    pub fn into_server(self) -> LogServer<Self> {
        let max = self.writer.limits().max_message_len();
        LogServer::new(self).max_decoding_message_size(max)
    }

    /// Stores one record; `(errCode, errMessage)` for the reply.
    async fn store(&self, data_type: i32, data: Bytes) -> (i32, String) {
        let Ok(_call) = self.calls.try_acquire() else {
            let e = Error::new(
                ErrorKind::Unavailable,
                "too many legacy calls in progress (--max-ingest-calls); try again later",
            );
            return (e.code(), e.to_string());
        };
        let result: Result<Appended> = self.writer.append(vec![legacy_record(data_type, data)]).await;
        match result {
            Ok(_) => (0, "ok".to_string()),
            Err(e) => {
                tracing::warn!(error = %e, "legacy write refused");
                (e.code(), e.to_string())
            }
        }
    }
}

/// The record a legacy request stores: `(int16)DataType` in Go, so the low 16 bits of
/// the type, and the payload verbatim. `pub(crate)` for the fuzz targets ([`crate::fuzzing`]).
pub(crate) fn legacy_record(data_type: i32, data: Bytes) -> (i16, Bytes) {
    (data_type as i16, data)
}

#[tonic::async_trait]
impl Log for LegacyLogService {
    async fn db_log_write(&self, request: Request<DbLogRequest>) -> Result<Response<DbLogResponse>, Status> {
        let r = request.into_inner();
        let (err_code, err_message) = self.store(r.data_type, r.data).await;
        Ok(Response::new(DbLogResponse { err_code, err_message, data: String::new() }))
    }

    async fn app_log_write(&self, request: Request<AppLogRequest>) -> Result<Response<AppLogResponse>, Status> {
        let r = request.into_inner();
        let (err_code, err_message) = self.store(r.data_type, r.data).await;
        Ok(Response::new(AppLogResponse { err_code, err_message, data: String::new() }))
    }

    async fn json_log_write(&self, request: Request<JsonLogRequest>) -> Result<Response<JsonLogResponse>, Status> {
        let r = request.into_inner();
        let (err_code, err_message) = self.store(r.data_type, r.data).await;
        Ok(Response::new(JsonLogResponse { err_code, err_message, data: String::new() }))
    }
}
