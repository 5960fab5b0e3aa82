//! The commands behind the `modsynclog-server` and `modsynclog-client` binaries.
//!
//! Each sub-command is a module with a clap `Args` struct and a `run` function; the
//! binaries only parse the command line, set up logging and dispatch here. All real work
//! is in `modsynclog-core`.

pub mod agent_cli;
pub mod agent_metrics;
pub mod agent_run;
pub mod client_auth;
pub mod config;
pub mod http;
pub mod kafka_bridge;
pub mod kafka_config;
pub mod kafka_export;
pub mod logging;
pub mod read;
pub mod send;
pub mod serve;
pub mod status;
pub mod status_kafka;
pub mod sync;
pub mod verify;
