//! The log agent: ships growing log files into a modsynclog server, through rotations and
//! restarts, without loss or duplicates.
//!
//! - [`config`]: the inputs (`[[input]]`: globs, record type, multi-line rule, maximum
//!   record size, rate), from a TOML file (reloaded on SIGHUP) and from the config
//!   [`centre`], an etcd key the agent watches.
//! - [`lines`]: a file's bytes into records. [`tracked`]: one file being shipped (read
//!   position, acknowledged position, rename and truncation). [`files`]: all of them,
//!   found by [`discover`], resumed from [`checkpoint`]s ([`resume`]); [`copies`]: the
//!   copies rotations leave beside a file.
//! - [`run`]: the loop. Records go over one ingest stream
//!   ([`SeqSender`](modsynclog_core::sdk::sequenced::SeqSender)) as batches of one file
//!   each: the batch's producer id names the agent and the file ([`identity`]), its seq
//!   is the file offset after its last record. The server's exactly-once table keeps, per
//!   file, the offset up to which it stored; a restarted agent resumes there (or at its
//!   checkpoint, when the server forgot), so a `kill -9` of the agent, the server or both
//!   loses nothing and doubles nothing.

pub mod centre;
pub mod checkpoint;
pub mod config;
pub mod copies;
pub mod discover;
pub mod figures;
pub mod files;
pub mod identity;
pub mod lines;
pub mod rate;
pub mod resume;
pub mod run;
pub mod tracked;
mod watch;
