//! modsynclog-core: everything modsynclog does, behind thin binaries and bindings.
//!
//! - [`store`]: the date-partitioned log folder, byte-compatible with the Go original,
//!   with one crash-safe batch writer;
//! - [`reader`]: walking records from `(date, id)` onwards, optionally following;
//! - [`wire`]: the legacy sync socket's frames and record batches, byte-compatible with Go;
//! - [`server`]: the single writer task, the gRPC ingest services (legacy and `v1`) and
//!   the native sync service;
//! - [`replica`]: the native replica, copying a server's store over `modsynclog.v1.Sync`;
//! - [`legacy`]: the original's sync socket, both ends (for Go replicas and Go servers);
//! - [`replication`]: what both sync protocols share: the master's feeder, the replica's
//!   retention;
//! - [`metrics`]: the Prometheus text endpoint;
//! - [`sdk`]: the producer (`commit`/`flush`/`close`) and the process-wide global SDK;
//! - [`tls`]: TLS for the gRPC port, both ends (rustls), with certificate reload;
//! - [`proto`]: the generated protobuf messages, clients and servers;
//! - [`access`]: scopes, tokens, client-certificate names and address allow-lists;
//! - [`grpc`]: the gRPC status of a core error;
//! - [`date`], [`record`], [`error`], [`clock`]: the vocabulary every front door shares.
//!
//! `fuzzing` (hidden) holds the bodies of the fuzz targets in `fuzz/`, so that the stable
//! tests replay their corpus through the same code.

pub mod access;
pub mod clock;
pub mod date;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod grpc;
pub mod legacy;
pub mod metrics;
pub mod proto;
pub mod reader;
pub mod record;
pub mod replica;
pub mod replication;
pub mod sdk;
pub mod server;
pub mod store;
pub mod tls;
pub mod wire;

pub use date::Date;
pub use error::{Error, ErrorKind, Result};
pub use reader::{Next, Reader, Stopper};
pub use record::Record;
pub use store::{Appended, Durability, NewRecord, Store, StoreOptions};
