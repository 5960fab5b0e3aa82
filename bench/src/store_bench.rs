//! The `store` benchmark: append, the Go-style baseline and full scans, in one run.
//!
//! Every configuration writes into its own fresh folder under one scratch directory and
//! removes it afterwards, so no run inherits another's files (or its dirty page cache:
//! deleting a file discards its unwritten pages). Append-like runs stop at a record cap
//! or a time budget, whichever comes first, because `batch` durability with one record
//! per call pays an `fdatasync` per record and would otherwise run for minutes.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use modsynclog_core::{Date, Durability, NewRecord, Reader, Store, StoreOptions};

use crate::ceiling::RawWriter;
use crate::go_baseline::GoWriter;
use crate::report::{self, CpuTimes, Machine, Row, Stop};

/// Every day written by the benchmark; fixed so runs are comparable byte for byte.
pub const DATE: &str = "2026-11-21";
/// 2026-11-21T00:00:00Z, the time stamp of every record.
pub const TIME: i32 = 1_795_219_200;
/// Type stamped on every record.
pub const TY: i16 = 1;

#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// Parent folder for the scratch stores (a fresh temporary folder is made inside it
    /// and removed at the end).
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    pub dir: PathBuf,
    /// Time budget per append/baseline configuration, in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Record cap per append/baseline configuration (whichever of cap and budget comes first).
    #[arg(long, default_value_t = 6_000_000)]
    pub max_records: u64,
    /// Payload cap per append/baseline configuration, in MB (10^6 bytes). Keep it under
    /// --warmup-mb, so that no configuration writes into memory the warm-up did not touch.
    #[arg(long, default_value_t = 2_000)]
    pub max_mb: u64,
    /// MB written to a scratch file and deleted before anything is timed (0: none).
    ///
    /// On a VM the host supplies guest memory on first touch, and a balloon with free-page
    /// reporting (this one reports free 2 MiB blocks) takes freed memory back, so page-cache
    /// pages can cost a host fault each. Without a warm-up the first configuration paid for
    /// that alone (measured: the same configuration at 0.7 GB/s first, 3.5 GB/s later).
    /// Each configuration deletes its files before the next starts, so the next reuses
    /// the pages just freed.
    #[arg(long, default_value_t = 2_500)]
    pub warmup_mb: u64,
    /// Payload sizes in bytes.
    #[arg(long, value_delimiter = ',', default_value = "100,4096")]
    pub sizes: Vec<usize>,
    /// Durability policies for the append runs: never, batch, interval:MILLIS.
    #[arg(long, value_delimiter = ',', default_value = "never,batch", value_parser = parse_durability)]
    pub durability: Vec<Durability>,
    /// Records per `Store::append` call.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    pub batches: Vec<usize>,
    /// Records in each scanned store (capped by --scan-mb for large records).
    #[arg(long, default_value_t = 2_000_000)]
    pub scan_records: u64,
    /// Payload cap of each scanned store, in MB.
    #[arg(long, default_value_t = 1_024)]
    pub scan_mb: u64,
    /// Full scans per size; the best is reported (the first may still fault pages in).
    #[arg(long, default_value_t = 3)]
    pub scan_passes: u32,
    /// Split the ceiling's data writes into pieces of at most this many KiB (0: one write
    /// per batch, exactly the store's system calls).
    #[arg(long, default_value_t = 0)]
    pub ceiling_chunk_kib: usize,
    /// Runs of each append, ceiling and baseline configuration; the fastest is reported
    /// (other work on the machine only ever slows a run down).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Run only these parts (default: all).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<Part>,
    /// Also print the results as Markdown, ready for BENCHMARKS.md.
    #[arg(long)]
    pub markdown: bool,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Append,
    /// Pre-encoded batches written with two `pwrite`s: the page cache's own speed.
    Ceiling,
    Baseline,
    Scan,
}

fn parse_durability(s: &str) -> Result<Durability, String> {
    s.parse().map_err(|e: modsynclog_core::Error| e.to_string())
}

impl StoreArgs {
    fn runs(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }

    /// The cap and budget of one append-like configuration of `size`-byte records.
    fn bound(&self, size: usize) -> Bound {
        let by_bytes = self.max_mb.saturating_mul(1_000_000) / size.max(1) as u64;
        Bound { max_records: self.max_records.min(by_bytes).max(1), budget: Duration::from_secs_f64(self.seconds) }
    }
}

/// Stop after `max_records` or `budget`, whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub max_records: u64,
    pub budget: Duration,
}

/// Calls `step` (which writes `per_step` records) until the bound is reached; returns the
/// records written, the time taken, why it stopped and how busy the machine was meanwhile.
///
/// The clock is read only every `check_every` steps: at a few hundred nanoseconds per
/// record, reading it every time would be a visible share of what is measured.
pub fn bounded(
    bound: Bound,
    per_step: usize,
    check_every: u64,
    mut step: impl FnMut() -> Result<()>,
) -> Result<(u64, Duration, Stop, Option<f64>)> {
    let cpu = CpuTimes::now();
    let start = Instant::now();
    let (mut done, mut steps) = (0u64, 0u64);
    loop {
        if done >= bound.max_records {
            let elapsed = start.elapsed();
            return Ok((done, elapsed, Stop::Cap, cpu.and_then(|c| c.busy_percent_since())));
        }
        if steps.is_multiple_of(check_every) {
            let elapsed = start.elapsed();
            if elapsed >= bound.budget {
                return Ok((done, elapsed, Stop::Budget, cpu.and_then(|c| c.busy_percent_since())));
            }
        }
        step()?;
        done += per_step as u64;
        steps += 1;
    }
}

/// The fixed payload: byte `i` is `i % 251` (a prime, so the pattern does not line up
/// with any power-of-two block and cannot look like zeroes to anything).
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 251) as u8).collect()
}

pub fn run(args: &StoreArgs) -> Result<()> {
    let date = Date::parse(DATE)?;
    std::fs::create_dir_all(&args.dir).with_context(|| format!("create {}", args.dir.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix("modsynclog-bench-")
        .tempdir_in(&args.dir)
        .with_context(|| format!("create a scratch folder in {}", args.dir.display()))?;
    let machine = Machine::probe(scratch.path());
    eprintln!("{}", machine.describe());
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; figures mean nothing, use --release");
    }

    let root = scratch.path();
    if args.warmup_mb > 0 {
        let (mb, secs) = warm_up(root, args.warmup_mb)?;
        eprintln!("warm-up: wrote and deleted {mb} MB at {:.0} MB/s", mb as f64 / secs);
    }
    let ceiling_batch = args.batches.iter().copied().max().unwrap_or(1000).max(1);
    let mut configs = Vec::new();
    for &size in &args.sizes {
        // The two references first, then the store: all of one size within a few seconds.
        if args.runs(Part::Baseline) {
            configs.push(Config::Baseline { size });
        }
        if args.runs(Part::Ceiling) {
            configs.push(Config::Ceiling { size, batch: ceiling_batch });
        }
        if args.runs(Part::Append) {
            for &durability in &args.durability {
                for &batch in &args.batches {
                    configs.push(Config::Append { size, durability, batch: batch.max(1) });
                }
            }
        }
    }
    // Repeats go round the whole list rather than one configuration at a time, so a burst
    // of other work on the machine (or the file system's writeback) cannot land on every
    // run of the same configuration; each configuration keeps its fastest run.
    let repeat = args.repeat.max(1);
    let mut best: Vec<Option<Row>> = vec![None; configs.len()];
    for round in 1..=repeat {
        for (config, best) in configs.iter().zip(&mut best) {
            let row = config.run(root, date, args)?;
            eprintln!("{} (run {round}/{repeat})", row.progress());
            if best.as_ref().is_none_or(|b| row.records_per_sec() > b.records_per_sec()) {
                *best = Some(row);
            }
        }
    }
    let mut rows: Vec<Row> = best.into_iter().flatten().map(|r| r.best_of(repeat)).collect();
    if args.runs(Part::Scan) {
        for &size in &args.sizes {
            let count = args.scan_records.min(args.scan_mb.saturating_mul(1_000_000) / size.max(1) as u64).max(1);
            let row = scan_run(scratch.path(), date, size, count, args.scan_passes.max(1))?;
            eprintln!("{}", row.progress());
            rows.push(row);
        }
    }

    let load_after = report::load_average();
    println!("{}", report::text(&machine, &rows, &load_after));
    if args.markdown {
        println!("{}", report::markdown(&machine, &rows, &load_after));
    }
    scratch.close().context("remove the scratch folder")?;
    Ok(())
}

/// Writes `mb` MB to a scratch file in 4 MiB writes, then deletes it; returns (MB, seconds).
fn warm_up(root: &Path, mb: u64) -> Result<(u64, f64)> {
    use std::io::Write;
    let path = root.join("warm-up");
    let chunk = payload(4 << 20);
    let mut file = std::fs::File::create(&path).with_context(|| format!("create {}", path.display()))?;
    let start = Instant::now();
    let mut left = mb * 1_000_000;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
    Ok((mb, secs))
}

/// One append-like configuration of the run.
#[derive(Debug, Clone, Copy)]
enum Config {
    Baseline { size: usize },
    Ceiling { size: usize, batch: usize },
    Append { size: usize, durability: Durability, batch: usize },
}

impl Config {
    fn run(self, root: &Path, date: Date, args: &StoreArgs) -> Result<Row> {
        match self {
            Config::Baseline { size } => baseline_run(root, date, size, args.bound(size)),
            Config::Ceiling { size, batch } => {
                let chunk = if args.ceiling_chunk_kib == 0 { usize::MAX } else { args.ceiling_chunk_kib << 10 };
                ceiling_run(root, date, size, batch, chunk, args.bound(size))
            }
            Config::Append { size, durability, batch } => {
                append_run(root, date, size, durability, batch, args.bound(size))
            }
        }
    }
}

fn append_run(root: &Path, date: Date, size: usize, durability: Durability, batch: usize, bound: Bound) -> Result<Row> {
    let dir = root.join(format!("append-{size}-{}-{batch}", durability.to_string().replace(':', "-")));
    let data = payload(size);
    // One batch built once and appended again and again: the loop measures the store only.
    let records = vec![NewRecord { time: TIME, ty: TY, data: &data }; batch];
    let mut store = Store::open(&dir, StoreOptions { durability, ..Default::default() })?;
    // An untimed first record opens the day folder and its files, as the baseline opens
    // its files before its clock starts.
    store.append(date, &records[..1])?;
    // Under `batch` every call fsyncs (milliseconds), so the clock is cheap to read each time.
    let check_every = if durability == Durability::Never { (1024 / batch).max(1) as u64 } else { 1 };
    let (written, elapsed, stop, busy) = bounded(bound, batch, check_every, || {
        store.append(date, &records)?;
        Ok(())
    })?;
    ensure!(store.count(date)? == written + 1, "store holds {} records, expected {}", store.count(date)?, written + 1);
    drop(store);
    std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    Ok(Row::new("append", size, durability.to_string(), Some(batch), written, elapsed, stop).with_busy(busy))
}

fn baseline_run(root: &Path, date: Date, size: usize, bound: Bound) -> Result<Row> {
    let dir = root.join(format!("baseline-{size}"));
    let data = payload(size);
    let mut writer = GoWriter::create(&dir.join(date.folder_name()))?;
    let (written, elapsed, stop, busy) = bounded(bound, 1, 256, || {
        writer.write(TIME, TY, &data)?;
        Ok(())
    })?;
    writer.check(written)?;
    drop(writer);
    std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    Ok(Row::new("baseline", size, "none (Go way)".into(), Some(1), written, elapsed, stop).with_busy(busy))
}

fn ceiling_run(root: &Path, date: Date, size: usize, batch: usize, chunk: usize, bound: Bound) -> Result<Row> {
    let dir = root.join(format!("ceiling-{size}"));
    let mut writer = RawWriter::create(&dir.join(date.folder_name()), TIME, TY, &payload(size), batch, chunk)?;
    let (written, elapsed, stop, busy) = bounded(bound, batch, (1024 / batch).max(1) as u64, || writer.write_batch())?;
    drop(writer);
    std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    let label =
        if chunk == usize::MAX { "none (raw pwrite)".into() } else { format!("none (pwrite <= {} KiB)", chunk >> 10) };
    Ok(Row::new("ceiling", size, label, Some(batch), written, elapsed, stop).with_busy(busy))
}

fn scan_run(root: &Path, date: Date, size: usize, count: u64, passes: u32) -> Result<Row> {
    let dir = root.join(format!("scan-{size}"));
    let data = payload(size);
    {
        let mut store = Store::open(&dir, StoreOptions { durability: Durability::Never, ..Default::default() })?;
        let batch = vec![NewRecord { time: TIME, ty: TY, data: &data }; 1000];
        let mut left = count;
        while left > 0 {
            let n = left.min(batch.len() as u64) as usize;
            store.append(date, &batch[..n])?;
            left -= n as u64;
        }
    }
    let (mut best, mut best_busy) = (Duration::MAX, None);
    for _ in 0..passes {
        let cpu = CpuTimes::now();
        let start = Instant::now();
        let (mut n, mut bytes, mut touch) = (0u64, 0u64, 0u64);
        for record in Reader::open(&dir)? {
            let record = record?;
            n += 1;
            bytes += record.data.len() as u64;
            // Read a payload byte too, so the scan cannot skip the data it hands out.
            touch = touch.wrapping_add(record.data.last().copied().unwrap_or(0) as u64);
        }
        let elapsed = start.elapsed();
        black_box(touch);
        ensure!(n == count && bytes == count * size as u64, "scan saw {n} records of {bytes} bytes, expected {count}");
        if elapsed < best {
            (best, best_busy) = (elapsed, cpu.and_then(|c| c.busy_percent_since()));
        }
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    Ok(Row::new("scan", size, "-".into(), None, count, best, Stop::BestOf(passes)).with_busy(best_busy))
}
