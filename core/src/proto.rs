//! Generated protobuf messages and gRPC clients, and servers with the `server` feature
//! (from `proto/`).
//!
//! - [`legacy`]: `grpc_proto_log.Log`, the service of the Go original (wire-compatible);
//! - [`v1`]: `modsynclog.v1.Ingest` (batched and streaming ingest) and `modsynclog.v1.Sync`.

/// The legacy `grpc_proto_log` package.
#[allow(clippy::all, clippy::pedantic, missing_docs, non_snake_case)]
pub mod legacy {
    tonic::include_proto!("grpc_proto_log");
}

/// The `modsynclog.v1` package.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("modsynclog.v1");
}
