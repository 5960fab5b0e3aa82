//! modsynclog-core: everything modsynclog does, behind thin binaries and bindings.
//!
//! - [`store`]: the date-partitioned log folder, byte-compatible with the Go original,
//!   with one crash-safe batch writer;
//! - [`reader`]: walking records from `(date, id)` onwards, optionally following;
//! - [`wire`]: the legacy sync socket's frames and record batches, byte-compatible with Go;
//! - [`date`], [`record`], [`error`]: the vocabulary every front door shares.

pub mod clock;
pub mod date;
pub mod error;
pub mod reader;
pub mod record;
pub mod store;
pub mod wire;

pub use date::Date;
pub use error::{Error, ErrorKind, Result};
pub use reader::{Next, Reader, Stopper};
pub use record::Record;
pub use store::{Appended, Durability, NewRecord, Store, StoreOptions};
