//! The `lag` subcommand's flags ([`LagArgs`]) and the choices they take: which followers
//! read, what fills a record, and where the records come from.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use modsynclog_core::Durability;

#[derive(Args, Debug, Clone)]
pub struct LagArgs {
    /// Records per second, committed steadily (a few records every 200 µs).
    #[arg(long, default_value_t = 50_000)]
    pub rate: u64,
    /// Seconds of steady load per run.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Payload bytes per record (the first 8 carry the commit time).
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// What follows the commit time in a record: `x` bytes (gzip, which the sync stream
    /// uses, squeezes them to almost nothing) or random bytes (incompressible).
    #[arg(long, value_enum, default_value = "x")]
    pub filler: Filler,
    /// The producer's linger in ms (`ProducerOptions::linger`; fractions allowed, 0 sends
    /// whatever is queued at once); `--source writer` batches with the same rule.
    #[arg(long, default_value_t = 1.0)]
    pub linger_ms: f64,
    /// The server's fsync policies (`--fsync` of the server: batch, never, interval:MS),
    /// one run each, in the order given.
    #[arg(long, default_value = "batch,never", value_delimiter = ',')]
    pub fsync: Vec<String>,
    /// The native replica's own fsync policy (`modsynclog-client sync --fsync`): `batch`
    /// syncs every append (the default), `never` or `interval:MS` leave it to the kernel.
    #[arg(long, default_value = "batch")]
    pub replica_fsync: Durability,
    /// The followers, all reading during the same run.
    #[arg(long, value_enum, default_value = "in-process,cross-process,replica", value_delimiter = ',')]
    pub followers: Vec<Follower>,
    /// Where the records come from.
    #[arg(long, value_enum, default_value = "producer")]
    pub source: Source,
    /// write+fdatasync probes of 4 KiB just before and just after each run (0: none).
    #[arg(long, default_value_t = 1000)]
    pub fsync_probes: usize,
    /// Where temporary stores go (default: the system temp dir).
    #[arg(long)]
    pub tmp: Option<PathBuf>,
    /// Write every follower's samples (`follower,fsync,commit_ns,latency_ns`) to this CSV,
    /// and the replica's appends (`fsync,ns,next_id`) beside it (`.appends.csv`).
    #[arg(long)]
    pub dump: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follower {
    /// A thread of the server's process, woken by the writer's signal.
    InProcess,
    /// Another process following the folder with `Reader::open(dir).follow(true)`.
    CrossProcess,
    /// A native replica, read back from its folder.
    Replica,
}

impl Follower {
    pub(super) fn label(self) -> &'static str {
        match self {
            Follower::InProcess => "in-process (writer's signal)",
            Follower::CrossProcess => "cross-process (inotify)",
            Follower::Replica => "native replica (its folder, inotify)",
        }
    }

    /// The target for p99, in ms.
    pub(super) fn target_p99(self) -> Option<f64> {
        match self {
            Follower::InProcess => Some(2.0),
            Follower::CrossProcess => None,
            Follower::Replica => Some(5.0),
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filler {
    X,
    Random,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The SDK's `Producer` over loopback gRPC (native ingest, exactly-once journal).
    Producer,
    /// Batches queued straight on the server's writer (`WriterHandle::submit_from`, with a
    /// producer origin like native ingest) once their oldest record waited the linger,
    /// timed with a thread sleep: no SDK, no gRPC, no tokio timer.
    Writer,
}
