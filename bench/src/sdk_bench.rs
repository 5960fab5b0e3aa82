//! The Rust row of the SDK parity table (issue 13; `scripts/bench-sdk.sh` runs every
//! language the same way). One thread, used the way an application would:
//!
//! - `sdk commit --addr A --n N`: a `Producer` with default options; 10,000 records and a
//!   flush to warm up (connection, stream; `--warm-up`), then N commits of 100-byte records (a fresh
//!   `Vec` each, a counter in the first 8 bytes) and a flush. Prints
//!   `RESULT commit <acknowledged records/s>` (N / time from the first commit to the
//!   flush's return).
//! - `sdk scan --dir D [--passes 3]`: reads the store folder D with `Reader` (opened inside
//!   the timing), summing the payload lengths. Prints `RESULT scan <records/s>`, the best
//!   of the passes; then the same passes with `Reader::next_columns` (default limits),
//!   summing each batch's payload bytes: `RESULT scan-columns <records/s>`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use modsynclog_core::columns::{DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS};
use modsynclog_core::sdk::{Producer, ProducerOptions, TYPE_APP_LOG};
use modsynclog_core::{Columns, Filled, Reader};

#[derive(clap::Args, Debug)]
pub struct SdkArgs {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(clap::Subcommand, Debug)]
enum Mode {
    /// Acknowledged commits/s of one thread through a default `Producer`.
    Commit {
        /// Server address (host:port).
        #[arg(long)]
        addr: String,
        /// Records to commit (after the warm-up).
        #[arg(long, default_value_t = 1_000_000)]
        n: u64,
        /// Payload bytes per record (at least 8).
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// Records committed and flushed before the timing.
        #[arg(long, default_value_t = 10_000)]
        warm_up: u64,
    },
    /// Records/s of one thread reading a store folder with `Reader`.
    Scan {
        /// The store folder (a stopped server's --data-dir).
        #[arg(long)]
        dir: PathBuf,
        /// Passes over the folder; the best is reported.
        #[arg(long, default_value_t = 3)]
        passes: u32,
    },
}

pub fn run(args: &SdkArgs) -> Result<()> {
    match &args.mode {
        Mode::Commit { addr, n, size, warm_up } => {
            let p = Producer::connect(addr, ProducerOptions::default())?;
            commit(&p, *warm_up, *size)?;
            let start = Instant::now();
            commit(&p, *n, *size)?;
            let secs = start.elapsed().as_secs_f64();
            p.close(None)?;
            println!("Rust Producer, default options: {n} x {size} B acknowledged in {secs:.3} s");
            println!("RESULT commit {:.0}", *n as f64 / secs);
        }
        Mode::Scan { dir, passes } => {
            let mut best = f64::INFINITY;
            for pass in 1..=*passes {
                let start = Instant::now();
                let (mut n, mut bytes) = (0u64, 0u64);
                for record in Reader::open(dir)? {
                    n += 1;
                    bytes += record?.data.len() as u64;
                }
                let secs = start.elapsed().as_secs_f64();
                black_box(bytes);
                println!("Rust Reader scan, pass {pass}: {n} records, {bytes} B in {secs:.3} s");
                best = best.min(secs / n as f64);
            }
            println!("RESULT scan {:.0}", 1.0 / best);
            let mut best = f64::INFINITY;
            let mut batch = Columns::default();
            for pass in 1..=*passes {
                let start = Instant::now();
                let (mut n, mut bytes) = (0u64, 0u64);
                let mut reader = Reader::open(dir)?;
                while reader.next_columns(&mut batch, DEFAULT_MAX_RECORDS, DEFAULT_MAX_BYTES, None)? == Filled::Records
                {
                    n += batch.len() as u64;
                    bytes += batch.data.len() as u64;
                }
                let secs = start.elapsed().as_secs_f64();
                black_box(bytes);
                println!("Rust Reader columns scan, pass {pass}: {n} records, {bytes} B in {secs:.3} s");
                best = best.min(secs / n as f64);
            }
            println!("RESULT scan-columns {:.0}", 1.0 / best);
        }
    }
    Ok(())
}

/// Commits `n` records of `size` bytes, then waits until all are acknowledged.
fn commit(p: &Producer, n: u64, size: usize) -> Result<()> {
    let mut rec = vec![b'x'; size];
    for i in 0..n {
        rec[..8].copy_from_slice(&i.to_le_bytes());
        p.commit(TYPE_APP_LOG, rec.clone())?;
    }
    p.flush(None)?;
    Ok(())
}
