//! `modsynclog-bench`: the figures behind BENCHMARKS.md.
//!
//! - `store`: append throughput (sizes x durability x batch size), the Go original's
//!   per-record seek+write baseline, and a full scan with `Reader`, all in one run so the
//!   figures share a machine, a file system and a page cache state;
//! - `server`: ingest (native stream and legacy unary), replica catch-up (native and
//!   legacy), live replication lag and server memory with replicas connected, over
//!   plaintext and TLS (`--transport plain,tls`);
//! - `lag`: commit -> readable latency with a 1 ms producer linger at 50,000 records/s, for
//!   an in-process follower, a cross-process follower and a native replica, per fsync
//!   policy (issue 9; `lag-follow` is its cross-process follower, not for direct use);
//! - `kafka`: the Kafka bridge's export and import rates beside Kafka's own producer and
//!   consumer tools (issue 10);
//! - `agent`: lines/s from log files to acknowledged records, the log agent beside
//!   `modsynclog-client send`, with CPU and RSS (issue 11);
//! - `sdk`: one thread's acknowledged commits/s and reader scan through the Rust SDK, the
//!   Rust row of `scripts/bench-sdk.sh` (issue 13).

mod agent_bench;
mod ceiling;
mod go_baseline;
mod kafka_bench;
mod kafka_import_bench;
mod lag;
mod procstat;
mod recovery_bench;
mod report;
mod sdk_bench;
mod server_bench;
mod store_bench;
mod transport;
mod web_bench;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Append, per-record baseline and scan throughput of the on-disk store.
    Store(store_bench::StoreArgs),
    /// Ingest, catch-up, live lag and memory of the server and its replicas over loopback.
    Server(server_bench::ServerBenchArgs),
    /// Opening a store whose last day is unfinished, in each recovery mode.
    Recovery(recovery_bench::RecoveryArgs),
    /// Live lag with a short producer linger: in-process, cross-process and replica followers.
    Lag(lag::LagArgs),
    /// The Kafka export's rate beside Kafka's ProducerPerformance, against a local broker.
    Kafka(kafka_bench::KafkaArgs),
    /// Log files into a server: the log agent beside `modsynclog-client send`.
    Agent(agent_bench::AgentArgs),
    /// The HTTP endpoint: ingest with it off and on (dashboard, live tail), search speed.
    Web(web_bench::WebArgs),
    /// One thread through the Rust SDK: `sdk commit` (acknowledged/s), `sdk scan` (records/s).
    Sdk(sdk_bench::SdkArgs),
    /// The cross-process follower of `lag` (prints its latencies on stdout).
    #[command(hide = true)]
    LagFollow(lag::FollowArgs),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Store(args) => store_bench::run(&args),
        Command::Server(args) => server_bench::run(args),
        Command::Recovery(args) => recovery_bench::run(&args),
        Command::Lag(args) => lag::run(&args),
        Command::LagFollow(args) => lag::follow_main(&args),
        Command::Kafka(args) => kafka_bench::run(&args),
        Command::Agent(args) => agent_bench::run(&args),
        Command::Web(args) => web_bench::run(&args),
        Command::Sdk(args) => sdk_bench::run(&args),
    }
}
