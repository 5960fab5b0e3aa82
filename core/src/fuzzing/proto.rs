//! Target for the protobuf messages of both gRPC services, as the server and our clients
//! decode them (tonic hands the handlers what prost decoded; see [`crate::proto`]).
//!
//! The same bytes are decoded as every message type. A request that decodes then goes
//! through what the handler does before anything is queued: `modsynclog.v1.Ingest`'s
//! conversion and limits (default and tiny, to reach every refusal), the legacy
//! service's conversion, the sync service's date parsing. Every message that decodes
//! must encode to bytes that decode to the same message.

use bytes::Bytes;
use prost::Message;

use crate::date::Date;
use crate::error::ErrorKind;
use crate::proto::legacy::{
    AppLogData, AppLogRequest, AppLogResponse, DbLogData, DbLogRequest, DbLogResponse, JsonLogRequest, JsonLogResponse,
};
use crate::proto::v1::{AppendRequest, AppendResponse, StatusRequest, StatusResponse, SubscribeRequest, SyncEvent};
use crate::server::Limits;
use crate::server::dedup::check_producer_id;
use crate::server::ingest::to_batch;
use crate::server::legacy_grpc::legacy_record;

/// `data` is the body of a gRPC message; see the module docs.
pub fn proto_messages(data: &[u8]) {
    if let Some(req) = decoded::<AppendRequest>(data) {
        append_request(req);
    }
    for (data_type, payload) in [
        decoded::<DbLogRequest>(data).map(|r| (r.data_type, r.data)),
        decoded::<AppLogRequest>(data).map(|r| (r.data_type, r.data)),
        decoded::<JsonLogRequest>(data).map(|r| (r.data_type, r.data)),
    ]
    .into_iter()
    .flatten()
    {
        legacy_request(data_type, payload);
    }
    if let Some(req) = decoded::<SubscribeRequest>(data)
        && let Ok(date) = Date::parse(&req.date)
    {
        assert_eq!(date.to_string(), req.date);
    }
    decoded::<StatusRequest>(data);
    // What our clients (the SDK, the replica, `status`) and the Go SDK decode.
    decoded::<AppendResponse>(data);
    decoded::<SyncEvent>(data);
    decoded::<StatusResponse>(data);
    decoded::<DbLogResponse>(data);
    decoded::<AppLogResponse>(data);
    decoded::<JsonLogResponse>(data);
    decoded::<DbLogData>(data);
    decoded::<AppLogData>(data);
}

/// `data` decoded as `M`, after checking that its encoding decodes to the same message.
fn decoded<M: Message + Default + PartialEq + std::fmt::Debug>(data: &[u8]) -> Option<M> {
    let msg = M::decode(data).ok()?;
    let again = M::decode(msg.encode_to_vec().as_slice()).expect("our own encoding decodes");
    assert!(again == msg, "a message changed across an encode and a decode: {msg:?}");
    Some(msg)
}

/// What `Append` and `AppendStream` do with a request before queueing it: convert it
/// (`to_batch`), then the writer handle's checks (`WriterHandle::submit_from`).
fn append_request(req: AppendRequest) {
    let wire: Vec<(i32, Bytes)> = req.records.iter().map(|r| (r.r#type, r.data.clone())).collect();
    let producer = req.producer_id.clone();
    let (origin, batch) = match to_batch(req, 1) {
        Ok(converted) => converted,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
            assert!(wire.iter().any(|(ty, _)| i16::try_from(*ty).is_err()), "refused a batch of 16-bit types: {e}");
            return;
        }
    };
    assert_eq!(origin.as_ref().map(|o| o.producer.as_str()), (!producer.is_empty()).then_some(producer.as_str()));
    assert_eq!(batch.len(), wire.len());
    for ((ty, data), (wire_ty, wire_data)) in batch.iter().zip(&wire) {
        assert_eq!((i32::from(*ty), data), (*wire_ty, wire_data));
    }
    check_limits(&batch);
    if let Some(origin) = origin
        && let Err(e) = check_producer_id(&origin.producer)
    {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    }
}

/// What the legacy `grpc_proto_log.Log` methods do with a request before queueing it.
fn legacy_request(data_type: i32, data: Bytes) {
    let (ty, stored) = legacy_record(data_type, data.clone());
    assert_eq!(ty.to_be_bytes(), data_type.to_be_bytes()[2..], "not the low 16 bits of the type");
    assert_eq!(stored, data);
    check_limits(&[(ty, stored)]);
}

/// The writer's limits, as configured by default and tiny; a refusal is `TooLarge`.
fn check_limits(batch: &[(i16, Bytes)]) {
    let tiny = Limits { max_record_len: 16, max_batch_records: 4, max_batch_bytes: 32, ..Limits::default() };
    for limits in [Limits::default(), tiny] {
        if let Err(e) = limits.check_batch(batch) {
            assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
            let total: usize = batch.iter().map(|(_, d)| d.len()).sum();
            let over = batch.len() > limits.max_batch_records
                || batch.iter().any(|(_, d)| d.len() > limits.max_record_len)
                || total > limits.max_batch_bytes;
            assert!(over, "a batch within the limits was refused: {e}");
        }
    }
}
