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
//! Cargo features (all on by default) choose the parts: `sdk` ([`proto`], [`sdk`], the
//! client end of [`tls`]), `reader` ([`store`], [`reader`]) and `server` (everything else,
//! with `sdk` and `reader`). The bindings build with `sdk` and `reader` only.
//!
//! `fuzzing` (hidden) holds the bodies of the fuzz targets in `fuzz/`, so that the stable
//! tests replay their corpus through the same code.

pub mod bytesize;
pub mod clock;
pub mod date;
pub mod error;
pub mod record;

#[cfg(feature = "sdk")]
pub mod proto;
#[cfg(feature = "sdk")]
pub mod sdk;
#[cfg(feature = "sdk")]
pub mod tls;

#[cfg(feature = "reader")]
pub mod columns;
#[cfg(feature = "reader")]
pub mod reader;
#[cfg(feature = "reader")]
pub mod store;

#[cfg(feature = "server")]
pub mod access;
#[cfg(feature = "server")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "server")]
pub mod grpc;
#[cfg(feature = "server")]
pub mod legacy;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod replica;
#[cfg(feature = "server")]
pub mod replication;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod throttle;
#[cfg(feature = "server")]
pub mod wire;

#[cfg(feature = "reader")]
pub use columns::{Columns, Filled};
pub use date::Date;
pub use error::{Error, ErrorKind, Result};
#[cfg(feature = "reader")]
pub use reader::{Next, Reader, Stopper};
pub use record::Record;
#[cfg(feature = "reader")]
pub use store::{Appended, Durability, NewRecord, Store, StoreOptions};
