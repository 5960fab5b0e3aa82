//! `modsynclog-bench lag`: commit -> readable latency with a 1 ms producer linger (issue 9).
//!
//! One producer (the SDK over loopback gRPC, `linger` 1 ms by default) commits a steady
//! 50,000 records/s of 100 bytes into a server running in this process
//! ([`modsynclog_core::server::start`]); each record carries its commit time
//! (`CLOCK_MONOTONIC` nanoseconds, the same clock in every process) in its first 8 bytes.
//! Three followers read the records back at the same time and note when each one became
//! readable:
//!
//! - **in-process**: a thread of this process reading the server's folder and sleeping on
//!   the writer's [`Signal`](modsynclog_core::store::Signal) between looks, no poll and no
//!   inotify (see [`followers::in_process`]);
//! - **cross-process**: this binary run again (`lag-follow`), following the server's folder
//!   with the default `Reader::open(dir).follow(true)` (inotify, fallback poll 1 s); it
//!   prints its latencies on stdout once done;
//! - **replica**: a native replica ([`modsynclog_core::replica`]) in this process, and a
//!   default following `Reader` on the replica's folder. The replica's own store syncs each
//!   append by default (`--replica-fsync never` turns that off), and batches that arrive
//!   while an append waits are appended together.
//!
//! Each server fsync policy (`--fsync batch,never`) is one run, with this disk's
//! write+fdatasync latency (4 KiB) measured just before and just after it; tokio's timer
//! (on which the SDK's linger waited before it moved to a timerfd on Linux) is measured
//! once, first. Both are for the analysis,
//! as are the extra lines printed per follower (how the in-process follower's wake-ups
//! split, when the replica's appends returned). `--source writer` replaces the SDK and
//! gRPC with batches queued straight on the server's writer, cut by the same linger rule
//! but timed with a thread sleep instead of tokio's millisecond timer (with
//! `--linger-ms 0`: the server side alone); `--followers` runs a subset (alone, they share
//! the cores with nothing else).
//!
//! The parts: [`args`] (the flags), [`source`] (stamping and pacing the records),
//! [`followers`] (the three followers, and the `lag-follow` child), [`run_one`] (one run
//! under one fsync policy), [`stats`] (distributions, stderr lines, the table, `--dump`)
//! and [`probes`] (disk and timer probes, scratch folders).

mod args;
mod followers;
mod probes;
mod run_one;
mod source;
mod stats;

use std::time::Duration;

use anyhow::{Result, bail};
use modsynclog_core::Durability;

pub use args::LagArgs;
pub use followers::{FollowArgs, follow_main};

use crate::report::{Machine, load_average};
use probes::{fdatasync_probe, tempdir, timer_probe};
use run_one::{Run, lag_run};
use stats::{print_run, print_table, write_dump};

/// The `lag` subcommand: one run per server fsync policy, then the summary and the table.
pub fn run(args: &LagArgs) -> Result<()> {
    if args.size < 8 {
        bail!("--size must be at least 8 (the commit time)");
    }
    let policies = args
        .fsync
        .iter()
        .map(|s| s.parse::<Durability>().map(|d| (s.clone(), d)).map_err(|e| anyhow::anyhow!("--fsync {s}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let scratch = tempdir(args)?;
    let machine = Machine::probe(scratch.path());
    eprintln!("{}", machine.describe());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let total = (args.rate as f64 * args.secs) as u64;
    eprintln!(
        "source {:?}, {} records/s for {} s ({total} records of {} B, filler {:?}), linger {} ms, followers {:?}",
        args.source, args.rate, args.secs, args.size, args.filler, args.linger_ms, args.followers
    );

    let probe = || (args.fsync_probes > 0).then(|| fdatasync_probe(scratch.path(), args.fsync_probes)).transpose();
    let timer_1ms = timer_probe(&rt, Duration::from_millis(1), 300);
    let timer_300us = timer_probe(&rt, Duration::from_micros(300), 300);
    eprintln!("tokio sleep(1 ms) takes:   {}", timer_1ms.line());
    eprintln!("tokio sleep(0.3 ms) takes: {}", timer_300us.line());

    let mut outcomes = Vec::new();
    let mut runs = Vec::new();
    for (name, durability) in &policies {
        let fsync_before = probe()?;
        let load_before = load_average();
        eprintln!("run: --fsync {name} (load average {load_before})");
        let (mut got, busy) = lag_run(&rt, args, *durability, name, total)?;
        let load_after = load_average();
        let fsync_after = probe()?;
        let run = Run { name: name.clone(), load_before, load_after, busy, fsync_before, fsync_after };
        eprintln!("  {}", run.describe());
        print_run(&got);
        runs.push(run);
        outcomes.append(&mut got);
    }

    if let Some(path) = &args.dump {
        write_dump(path, &outcomes)?;
    }

    println!();
    println!("{}", machine.describe());
    println!(
        "source {:?}, {} records/s for {} s, {} B records (filler {:?}), linger {} ms, followers running together: {:?}, \
         replica fsync {:?}",
        args.source, args.rate, args.secs, args.size, args.filler, args.linger_ms, args.followers, args.replica_fsync
    );
    for run in &runs {
        println!("  {}", run.describe());
    }
    println!();
    print_table(&outcomes);
    println!();
    println!(
        "tokio sleep(1 ms): p50 {:.3} ms, p99 {:.3}; sleep(0.3 ms): p50 {:.3} ms, p99 {:.3}",
        timer_1ms.p50, timer_1ms.p99, timer_300us.p50, timer_300us.p99
    );
    Ok(())
}
