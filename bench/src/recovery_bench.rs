//! How long opening a store takes when its last day is unfinished (after a crash), in each
//! recovery mode and durability policy: `tail` under `batch` checks only the tail; `tail`
//! under `never`/`interval` and `strict` check every record of the day.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use modsynclog_core::store::Recovery;
use modsynclog_core::{Date, Durability, NewRecord, Store, StoreOptions};

#[derive(Args, Debug)]
pub struct RecoveryArgs {
    /// Records in the unfinished day.
    #[arg(long, default_value_t = 10_000_000)]
    records: u64,
    /// Payload bytes per record.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Folder for the store (default: a temporary folder, removed at the end).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Empty the page cache before each open (`/proc/sys/vm/drop_caches`, needs root), as
    /// after a power loss; otherwise the files are read from memory.
    #[arg(long)]
    cold: bool,
}

pub fn run(args: &RecoveryArgs) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let root = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let day = Date::parse("2026-11-21")?;
    let payload = vec![b'x'; args.size];
    let started = Instant::now();
    {
        let mut store = Store::open(&root, StoreOptions { durability: Durability::Never, ..Default::default() })?;
        let batch = vec![NewRecord { time: 1, ty: 1, data: &payload }; 10_000];
        let mut left = args.records;
        while left > 0 {
            let n = left.min(batch.len() as u64) as usize;
            store.append(day, &batch[..n])?;
            left -= n as u64;
        }
        store.sync()?;
    }
    println!(
        "store: one unfinished day of {} records of {} B, written in {:.1} s",
        args.records,
        args.size,
        started.elapsed().as_secs_f64()
    );
    let cache = if args.cold { "page cache dropped before each open" } else { "page cache warm" };
    println!("{:<28} {:>12} {:>14}   ({cache})", "open with", "seconds", "records/s");
    let cases = [
        ("tail, --fsync batch", Durability::Batch, Recovery::Tail),
        ("tail, --fsync never", Durability::Never, Recovery::Tail),
        ("strict, --fsync batch", Durability::Batch, Recovery::Strict),
    ];
    for (name, durability, recovery) in cases {
        if args.cold {
            std::fs::write("/proc/sys/vm/drop_caches", "3")
                .map_err(|e| anyhow::anyhow!("--cold: cannot drop the page cache ({e}); run as root"))?;
        }
        let t = Instant::now();
        let store = Store::open(&root, StoreOptions { durability, recovery, ..Default::default() })?;
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(store.count(day)? == args.records, "{name}: the day lost records");
        drop(store);
        // Only the tail was read: a rate per record of the day would mean nothing.
        let rate = if secs < 0.001 { "-".to_string() } else { format!("{:.0}", args.records as f64 / secs) };
        println!("{name:<28} {secs:>12.3} {rate:>14}");
    }
    Ok(())
}
