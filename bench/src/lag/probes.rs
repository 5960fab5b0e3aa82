//! Small measurements and helpers around the runs: this disk's write+fdatasync latency,
//! tokio's timer, the number of cores, waiting for a folder to fill, and scratch folders.
//!
//! The two probes are context for the analysis, not part of the lag: the disk's fsync
//! latency bounds the server's and the replica's appends when they sync, and the timer
//! probe shows what a short tokio sleep really takes on this machine.

use std::fs::OpenOptions;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use modsynclog_core::Date;
use modsynclog_core::store::day;
use modsynclog_core::store::io::StdVfs;
use tokio::runtime::Runtime;

use super::args::LagArgs;
use super::stats::Dist;

/// The machine's cores (1 if unknown).
pub(super) fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

/// A scratch folder under `--tmp` (default: the system temp dir), removed when dropped.
pub(super) fn tempdir(args: &LagArgs) -> Result<tempfile::TempDir> {
    Ok(match &args.tmp {
        Some(t) => tempfile::tempdir_in(t)?,
        None => tempfile::tempdir()?,
    })
}

/// Waits until the folder holds `n` records of `date` (polled every 2 ms).
pub(super) fn wait_count(dir: &Path, date: Date, n: u64, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    while day::record_count(&StdVfs, dir, date).unwrap_or(0) < n {
        if Instant::now() > deadline {
            bail!("{} did not reach {n} records in {limit:?}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// `n` appending writes of 4 KiB, each followed by `fdatasync`, timed one by one.
pub(super) fn fdatasync_probe(dir: &Path, n: usize) -> Result<Dist> {
    use std::os::unix::fs::FileExt;
    let path = dir.join("fdatasync.probe");
    let file = OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&path)?;
    let block = vec![0x5au8; 4096];
    let mut ns = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let t = Instant::now();
        file.write_all_at(&block, i * 4096)?;
        file.sync_data()?;
        ns.push(t.elapsed().as_nanos() as u64);
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Dist::of(ns).context("no probes")
}

/// How long `tokio::time::sleep(want)` really takes on this runtime (the SDK's linger was
/// such a wait; on Linux it now sleeps on a timerfd, `core/src/sdk/linger.rs`).
pub(super) fn timer_probe(rt: &Runtime, want: Duration, n: usize) -> Dist {
    let ns = rt.block_on(async {
        let mut ns = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            tokio::time::sleep(want).await;
            ns.push(t.elapsed().as_nanos() as u64);
        }
        ns
    });
    Dist::of(ns).expect("n > 0")
}
