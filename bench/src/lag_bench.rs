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
//!   the writer's [`Signal`] between looks, no poll and no inotify (see [`in_process`]);
//! - **cross-process**: this binary run again (`lag-follow`), following the server's folder
//!   with the default `Reader::open(dir).follow(true)` (inotify, fallback poll 1 s); it
//!   prints its latencies on stdout once done;
//! - **replica**: a native replica ([`modsynclog_core::replica`], its own store syncing each
//!   batch) in this process, and a default following `Reader` on the replica's folder.
//!
//! Each server fsync policy (`--fsync batch,never`) is one run, with this disk's
//! write+fdatasync latency (4 KiB) measured just before and just after it; tokio's timer
//! (on which the SDK's linger waits) is measured once, first. Both are for the analysis,
//! as are the extra lines printed per follower (how the in-process follower's wake-ups
//! split, when the replica's appends returned). `--source writer` replaces the SDK and gRPC with batches
//! queued straight on the server's writer, cut by the same linger rule but timed with a
//! thread sleep instead of tokio's millisecond timer (with `--linger-ms 0`: the server side
//! alone); `--followers` runs a subset (alone, they share the cores with nothing else).

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use modsynclog_core::replica::{Progress, ReplicaConfig};
use modsynclog_core::sdk::{Producer, ProducerOptions};
use modsynclog_core::server::{Origin, RunningServer, ServerConfig, WriterHandle};
use modsynclog_core::store::Signal;
use modsynclog_core::store::day;
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::{Date, Durability, Next, Reader};
use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::procstat::cpu_with;
use crate::report::{CpuTimes, Machine, load_average};

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
    fn label(self) -> &'static str {
        match self {
            Follower::InProcess => "in-process (writer's signal)",
            Follower::CrossProcess => "cross-process (inotify)",
            Follower::Replica => "native replica (its folder, inotify)",
        }
    }

    /// The target for p99, in ms.
    fn target_p99(self) -> Option<f64> {
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

/// The hidden `lag-follow` subcommand: the cross-process follower.
#[derive(Args, Debug, Clone)]
pub struct FollowArgs {
    #[arg(long)]
    pub dir: PathBuf,
    /// The day to follow, YYYY-MM-DD.
    #[arg(long)]
    pub date: String,
    #[arg(long, default_value_t = 1)]
    pub from_id: u64,
    /// Records to read before ending.
    #[arg(long)]
    pub count: u64,
    /// Ends early after this long without a record.
    #[arg(long, default_value_t = 10.0)]
    pub idle_secs: f64,
}

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process of the machine.
fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A record of `size` bytes: the commit time, then the filler.
fn stamped(size: usize, filler: Filler) -> Bytes {
    let mut v = vec![b'x'; size.max(8)];
    if filler == Filler::Random {
        thread_local!(static STATE: std::cell::Cell<u64> = const { std::cell::Cell::new(0x9e37_79b9_7f4a_7c15) });
        STATE.with(|state| {
            let mut x = state.get();
            for chunk in v[8..].chunks_mut(8) {
                // xorshift64: fast, and gzip finds nothing to squeeze.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
            }
            state.set(x);
        });
    }
    v[..8].copy_from_slice(&mono_ns().to_le_bytes());
    Bytes::from(v)
}

fn commit_time(data: &[u8]) -> Result<u64> {
    Ok(u64::from_le_bytes(data.get(..8).context("record shorter than its timestamp")?.try_into()?))
}

/// A distribution of latencies, in ms.
#[derive(Debug, Clone, Copy)]
struct Dist {
    n: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

impl Dist {
    /// Nearest-rank quantiles of nanosecond samples.
    fn of(mut ns: Vec<u64>) -> Option<Dist> {
        if ns.is_empty() {
            return None;
        }
        ns.sort_unstable();
        let n = ns.len();
        let q = |p: f64| ns[((n as f64 * p).ceil() as usize).clamp(1, n) - 1] as f64 / 1e6;
        Some(Dist { n, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: q(1.0) })
    }

    fn line(&self) -> String {
        format!(
            "p50 {:.3} ms, p90 {:.3}, p99 {:.3}, p99.9 {:.3}, max {:.3} (n={})",
            self.p50, self.p90, self.p99, self.p999, self.max, self.n
        )
    }
}

/// Records read after one wake-up of the in-process follower.
#[derive(Debug, Clone, Copy)]
struct Group {
    records: usize,
    /// Latency of the group's newest record (the least lingered one).
    newest: u64,
    /// From the wake-up to the first record decoded.
    wake_to_read: u64,
    /// Commit times of the group's oldest and newest records.
    first_sent: u64,
    last_sent: u64,
}

/// What a follower saw: `(commit ns, latency ns)` per record, in id order.
#[derive(Default)]
struct Followed {
    samples: Vec<(u64, u64)>,
    groups: Vec<Group>,
    /// Wake-ups that found nothing new (in-process only).
    empty_wakes: u64,
    /// Replica only: when its store returned from each append, `(ns, next_id)`.
    appended: Vec<(u64, u64)>,
}

struct Outcome {
    follower: Follower,
    fsync: String,
    expected: u64,
    followed: Followed,
}

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
        let mut out = BufWriter::new(std::fs::File::create(path).with_context(|| format!("{}", path.display()))?);
        writeln!(out, "follower,fsync,commit_ns,latency_ns")?;
        for o in &outcomes {
            let name = o.follower.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
            for (sent, lat) in &o.followed.samples {
                writeln!(out, "{name},{},{sent},{lat}", o.fsync)?;
            }
        }
        out.flush()?;
        // And when the replica's store returned from each append.
        let path = path.with_extension("appends.csv");
        let mut out = BufWriter::new(std::fs::File::create(&path).with_context(|| format!("{}", path.display()))?);
        writeln!(out, "fsync,ns,next_id")?;
        for o in &outcomes {
            for (ns, next_id) in &o.followed.appended {
                writeln!(out, "{},{ns},{next_id}", o.fsync)?;
            }
        }
        out.flush()?;
        eprintln!(
            "samples written to {} and its .appends.csv",
            args.dump.as_ref().map_or(path.display(), |p| p.display())
        );
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
    println!("| server fsync | follower | records | p50 | p90 | p99 | p99.9 | max | p99 target |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---|");
    for o in &outcomes {
        let d = Dist::of(o.followed.samples.iter().map(|s| s.1).collect());
        let read = format!("{} of {}", o.followed.samples.len(), o.expected);
        let target = match (o.follower.target_p99(), d) {
            (Some(t), Some(d)) => format!("≤ {t} ms: {}", if d.p99 <= t { "**held**" } else { "**missed**" }),
            (Some(t), None) => format!("≤ {t} ms: no samples"),
            (None, _) => "-".into(),
        };
        match d {
            Some(d) => println!(
                "| {} | {} | {read} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {target} |",
                o.fsync,
                o.follower.label(),
                d.p50,
                d.p90,
                d.p99,
                d.p999,
                d.max
            ),
            None => println!("| {} | {} | {read} | - | - | - | - | - | {target} |", o.fsync, o.follower.label()),
        }
    }
    println!();
    println!(
        "tokio sleep(1 ms): p50 {:.3} ms, p99 {:.3}; sleep(0.3 ms): p50 {:.3} ms, p99 {:.3}",
        timer_1ms.p50, timer_1ms.p99, timer_300us.p50, timer_300us.p99
    );
    Ok(())
}

/// Machine-wide and this benchmark's (both processes') share of all cores, in percent.
type Busy = Option<(f64, f64)>;

/// The conditions of one run.
struct Run {
    name: String,
    load_before: String,
    load_after: String,
    /// Machine-wide and this benchmark's (both processes') share of all cores while committing.
    busy: Busy,
    /// This disk's write+fdatasync latency (4 KiB) just before and just after the run.
    fsync_before: Option<Dist>,
    fsync_after: Option<Dist>,
}

impl Run {
    fn describe(&self) -> String {
        let busy = match self.busy {
            Some((all, ours)) => format!("cores busy {all:.0}% (this benchmark {ours:.0}%, the rest other work)"),
            None => "cores busy ?".into(),
        };
        let fsync = |d: &Option<Dist>| d.map_or("-".into(), |d| format!("p50 {:.2} ms, p99 {:.2} ms", d.p50, d.p99));
        format!(
            "run --fsync {}: load average {} before, {} after; {busy}; write+fdatasync 4 KiB before the run {}, after {}",
            self.name,
            self.load_before,
            self.load_after,
            fsync(&self.fsync_before),
            fsync(&self.fsync_after)
        )
    }
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

fn print_run(outcomes: &[Outcome]) {
    for o in outcomes {
        print_outcome(o);
    }
    let Some(replica) = outcomes.iter().find(|o| o.follower == Follower::Replica) else { return };
    let appended = &replica.followed.appended;
    if appended.is_empty() {
        return;
    }
    // Sample i is record i + 1 for every follower (they all start at id 1).
    let mut at = Vec::with_capacity(replica.followed.samples.len());
    let mut k = 0;
    for (i, &(sent, _)) in replica.followed.samples.iter().enumerate() {
        let id = i as u64 + 1;
        while k < appended.len() && appended[k].1 <= id {
            k += 1;
        }
        match appended.get(k) {
            Some(&(t, _)) => at.push((sent, t)),
            None => break,
        }
    }
    let records = appended.last().map_or(0, |a| a.1) - appended[0].1;
    eprintln!(
        "    replica appends: {} ({:.1} records each)",
        appended.len(),
        records as f64 / appended.len().max(2).saturating_sub(1) as f64
    );
    if let Some(d) = Dist::of(at.iter().map(|&(sent, t)| t.saturating_sub(sent)).collect()) {
        eprintln!("    commit -> replica's append returned (its fsyncs done): {}", d.line());
    }
    if let Some(inp) = outcomes.iter().find(|o| o.follower == Follower::InProcess) {
        let d = Dist::of(
            at.iter().zip(&inp.followed.samples).map(|(&(_, t), &(sent, lat))| t.saturating_sub(sent + lat)).collect(),
        );
        if let Some(d) = d {
            eprintln!("    readable on the server (in-process) -> replica's append returned: {}", d.line());
        }
    }
}

fn print_outcome(o: &Outcome) {
    let f = &o.followed;
    match Dist::of(f.samples.iter().map(|s| s.1).collect()) {
        Some(d) => eprintln!("  {:<38} {}", o.follower.label(), d.line()),
        None => eprintln!("  {:<38} no samples", o.follower.label()),
    }
    if f.samples.len() as u64 != o.expected {
        eprintln!("    read {} of {} records", f.samples.len(), o.expected);
    }
    if !f.groups.is_empty() {
        let records: usize = f.groups.iter().map(|g| g.records).sum();
        eprintln!(
            "    {} wake-ups with records ({:.1} records each), {} found nothing new",
            f.groups.len(),
            records as f64 / f.groups.len() as f64,
            f.empty_wakes
        );
        if let Some(d) = Dist::of(f.groups.iter().map(|g| g.last_sent - g.first_sent).collect()) {
            eprintln!("    commit-time spread of a wake-up's records (about the linger): {}", d.line());
        }
        if let Some(d) = Dist::of(f.groups.iter().map(|g| g.newest).collect()) {
            eprintln!("    newest record of each wake-up: {}", d.line());
        }
        if let Some(d) = Dist::of(f.groups.iter().map(|g| g.wake_to_read).collect()) {
            eprintln!("    wake-up -> first record decoded: {}", d.line());
        }
    }
}

fn tempdir(args: &LagArgs) -> Result<tempfile::TempDir> {
    Ok(match &args.tmp {
        Some(t) => tempfile::tempdir_in(t)?,
        None => tempfile::tempdir()?,
    })
}

/// One run under one fsync policy: every follower's samples, and how busy the machine's
/// cores were while records were committed (all work, and this benchmark's processes).
fn lag_run(
    rt: &Runtime,
    args: &LagArgs,
    durability: Durability,
    fsync: &str,
    total: u64,
) -> Result<(Vec<Outcome>, Busy)> {
    let (sdir, rdir) = (tempdir(args)?, tempdir(args)?);
    let date = Date::today_local();
    let config = ServerConfig {
        data_dir: sdir.path().to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse()?,
        durability,
        sync_addr: None,
        ..ServerConfig::default()
    };
    let server = rt.block_on(modsynclog_core::server::start(config))?;
    let addr = server.grpc_addr().to_string();
    let linger = Duration::from_secs_f64(args.linger_ms.max(0.0) / 1e3);
    let on = |f: Follower| args.followers.contains(&f);

    // The first record (id 0), so the day exists everywhere before the followers open it.
    let producer = match args.source {
        Source::Producer => {
            let opts = ProducerOptions { linger, ..ProducerOptions::default() };
            let p = Producer::connect(&addr, opts)?;
            p.commit(1201, stamped(args.size, args.filler))?;
            p.flush(Some(Duration::from_secs(10)))?;
            Some(p)
        }
        Source::Writer => {
            rt.block_on(server.writer().append(vec![(1201, stamped(args.size, args.filler))]))?;
            None
        }
    };
    let (stop_replica, stopped) = watch::channel(false);
    // When the replica's store returned from each append (after its own fsyncs): `(ns, next_id)`.
    let appended = Arc::new(Mutex::new(Vec::<(u64, u64)>::new()));
    let replica = on(Follower::Replica).then(|| {
        let config = ReplicaConfig { durability: args.replica_fsync, ..ReplicaConfig::new(addr.clone(), rdir.path()) };
        let appended = appended.clone();
        let progress = move |p: Progress| {
            let t = mono_ns();
            let mut a = appended.lock().unwrap_or_else(|e| e.into_inner());
            if a.last().is_none_or(|&(_, n)| n < p.next_id) {
                a.push((t, p.next_id));
            }
        };
        rt.spawn(modsynclog_core::replica::run(config, stopped, progress))
    });
    if replica.is_some() {
        wait_count(rdir.path(), date, 1, Duration::from_secs(30))?;
    }

    let done = Arc::new(AtomicBool::new(false));
    let mut child = None;
    if on(Follower::CrossProcess) {
        child = Some(spawn_follower(sdir.path(), date, total)?);
    }
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut threads: Vec<(Follower, JoinHandle<Result<Followed>>)> = Vec::new();
    if on(Follower::InProcess) {
        let t = in_process(&server, date, total, done.clone(), ready_tx.clone());
        threads.push((Follower::InProcess, t));
    }
    if on(Follower::Replica) {
        let (dir, done, ready) = (rdir.path().to_path_buf(), done.clone(), ready_tx.clone());
        let t = std::thread::Builder::new().name("lag-replica-reader".into()).spawn(move || {
            follow_folder(
                &dir,
                date,
                1,
                total,
                || done.load(Ordering::Relaxed),
                Duration::from_secs(2),
                || {
                    let _ = ready.send(());
                },
            )
        })?;
        threads.push((Follower::Replica, t));
    }
    drop(ready_tx);
    for _ in &threads {
        ready_rx.recv_timeout(Duration::from_secs(30)).context("a follower did not start")?;
    }

    let child_pid = child.as_ref().and_then(|(c, _)| c.0.as_ref()).map(Child::id);
    let (cpu, ours, t) = (CpuTimes::now(), cpu_with(child_pid)?, Instant::now());
    match &producer {
        Some(p) => pace_producer(p, args, total)?,
        None => pace_writer(rt, &server.writer(), args, total, linger)?,
    }
    let ours = (cpu_with(child_pid)? - ours) / t.elapsed().as_secs_f64() / cores() * 100.0;
    let busy = cpu.and_then(CpuTimes::busy_percent_since).map(|b| (b, ours));
    done.store(true, Ordering::Relaxed);

    let mut outcomes = Vec::new();
    for (follower, t) in threads {
        let followed = t.join().map_err(|_| anyhow::anyhow!("a follower thread panicked"))??;
        outcomes.push(Outcome { follower, fsync: fsync.to_string(), expected: total, followed });
    }
    if let Some((c, out)) = child.take() {
        let followed = finish_follower(c, out)?;
        outcomes.insert(
            outcomes.iter().position(|o| o.follower == Follower::Replica).unwrap_or(outcomes.len()),
            Outcome { follower: Follower::CrossProcess, fsync: fsync.to_string(), expected: total, followed },
        );
    }
    let _ = stop_replica.send(true);
    if let Some(task) = replica {
        rt.block_on(task)??;
    }
    let appended = std::mem::take(&mut *appended.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(o) = outcomes.iter_mut().find(|o| o.follower == Follower::Replica) {
        o.followed.appended = appended;
    }
    if let Some(p) = producer {
        p.close(Some(Duration::from_secs(10)))?;
    }
    rt.block_on(server.shutdown())?;
    Ok((outcomes, busy))
}

/// Commits `total` stamped records at `args.rate`: every 200 µs, what is due.
fn pace_producer(producer: &Producer, args: &LagArgs, total: u64) -> Result<()> {
    let t = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let due = ((t.elapsed().as_secs_f64() * args.rate as f64) as u64).min(total);
        while sent < due {
            producer.commit(1201, stamped(args.size, args.filler))?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    producer.flush(Some(Duration::from_secs(30)))?;
    Ok(())
}

/// The producer's batching without the SDK and gRPC: records are stamped when committed
/// (every 200 µs, what is due, as [`pace_producer`] does) and queued on the server's writer
/// once the oldest has waited `linger` (0: at once), tagged like a native producer's
/// batches (so the ingest journal is written too). The linger is timed with
/// `std::thread::sleep` (about 0.1 ms late here), not tokio's 1 ms timer wheel.
fn pace_writer(rt: &Runtime, writer: &WriterHandle, args: &LagArgs, total: u64, linger: Duration) -> Result<()> {
    let step = Duration::from_micros(200);
    let producer = format!("lag-bench-{}", std::process::id());
    let t = Instant::now();
    let (mut made, mut seq, mut last) = (0u64, 0u64, None);
    let (mut pending, mut oldest): (Vec<(i16, Bytes)>, Option<Instant>) = (Vec::new(), None);
    loop {
        let due = ((t.elapsed().as_secs_f64() * args.rate as f64) as u64).min(total);
        while made < due {
            pending.push((1201, stamped(args.size, args.filler)));
            oldest.get_or_insert_with(Instant::now);
            made += 1;
        }
        if !pending.is_empty() && (made >= total || oldest.is_some_and(|o| o.elapsed() >= linger)) {
            seq += 1;
            let origin = Origin { producer: producer.clone(), seq };
            last = Some(rt.block_on(writer.submit_from(Some(origin), std::mem::take(&mut pending)))?);
            oldest = None;
        }
        if made >= total && pending.is_empty() {
            break;
        }
        let to_step = step.as_nanos() - t.elapsed().as_nanos() % step.as_nanos();
        let mut wait = Duration::from_nanos(to_step as u64);
        if let Some(o) = oldest {
            wait = wait.min(linger.saturating_sub(o.elapsed()));
        }
        std::thread::sleep(wait);
    }
    if let Some(ack) = last {
        rt.block_on(ack.wait())?;
    }
    Ok(())
}

/// The in-process follower: a `Reader` (not following) over the server's folder, read to
/// its end each time the writer's signal moves, and asleep on that signal in between.
/// This is the loop `Reader::of(store).follow(true)` runs (note the signal's sequence,
/// look at the files, sleep until the sequence moves; no poll, no inotify), built from
/// [`RunningServer::signal`] because the store is owned by the writer thread and `Reader`
/// has no public constructor taking a signal. The wait's 250 ms timeout only lets the
/// thread notice the end of the run; a lost wake-up would show as a 250 ms sample.
fn in_process(
    server: &RunningServer,
    date: Date,
    total: u64,
    done: Arc<AtomicBool>,
    ready: mpsc::Sender<()>,
) -> JoinHandle<Result<Followed>> {
    let (root, signal): (PathBuf, Arc<Signal>) = (server.store_root().to_path_buf(), server.signal());
    std::thread::Builder::new()
        .name("lag-in-process".into())
        .spawn(move || -> Result<Followed> {
            let mut reader = Reader::open(&root)?.from(date, 1);
            let mut out = Followed { samples: Vec::with_capacity(total as usize), ..Followed::default() };
            let _ = ready.send(());
            let (mut woke, mut last_record) = (mono_ns(), Instant::now());
            while (out.samples.len() as u64) < total {
                let seq = signal.head().seq;
                let mut group: Option<Group> = None;
                while let Next::Record(rec) = reader.next_record(None)? {
                    let now = mono_ns();
                    let sent = commit_time(&rec.data)?;
                    let lat = now.saturating_sub(sent);
                    out.samples.push((sent, lat));
                    let g = group.get_or_insert(Group {
                        records: 0,
                        newest: lat,
                        wake_to_read: now - woke,
                        first_sent: sent,
                        last_sent: sent,
                    });
                    g.records += 1;
                    g.newest = g.newest.min(lat);
                    g.first_sent = g.first_sent.min(sent);
                    g.last_sent = g.last_sent.max(sent);
                    if out.samples.len() as u64 >= total {
                        break;
                    }
                }
                match group {
                    Some(g) => {
                        out.groups.push(g);
                        last_record = Instant::now();
                    }
                    None => out.empty_wakes += 1,
                }
                if (out.samples.len() as u64) >= total
                    || (done.load(Ordering::Relaxed) && last_record.elapsed() > Duration::from_secs(2))
                {
                    break;
                }
                signal.wait_past(seq, Duration::from_millis(250));
                woke = mono_ns();
            }
            Ok(out)
        })
        .expect("spawning a thread")
}

/// Follows `dir` from `(date, from)` with the default `Reader::open(dir).follow(true)`
/// until `total` records were read, or `end()` holds and `idle` passed without a record.
/// `ready` runs once the reader watches the folder (its first look is done).
fn follow_folder(
    dir: &Path,
    date: Date,
    from: u64,
    total: u64,
    end: impl Fn() -> bool,
    idle: Duration,
    ready: impl FnOnce(),
) -> Result<Followed> {
    let mut reader = Reader::open(dir)?.from(date, from).follow(true);
    let mut out = Followed { samples: Vec::with_capacity(total as usize), ..Followed::default() };
    // The first call starts watching and looks once (nothing is there yet).
    if let Next::Record(rec) = reader.next_record(Some(Duration::ZERO))? {
        let sent = commit_time(&rec.data)?;
        out.samples.push((sent, mono_ns().saturating_sub(sent)));
    }
    ready();
    let mut last_record = Instant::now();
    while (out.samples.len() as u64) < total {
        match reader.next_record(Some(Duration::from_millis(250)))? {
            Next::Record(rec) => {
                let sent = commit_time(&rec.data)?;
                out.samples.push((sent, mono_ns().saturating_sub(sent)));
                last_record = Instant::now();
            }
            Next::Timeout if end() && last_record.elapsed() > idle => break,
            Next::Timeout => {}
            Next::End => break,
        }
    }
    Ok(out)
}

/// The `lag-follow` subcommand: prints `ready`, follows, then prints `commit_ns latency_ns`
/// per record and `end N`.
pub fn follow_main(args: &FollowArgs) -> Result<()> {
    let date = Date::parse(&args.date)?;
    let idle = Duration::from_secs_f64(args.idle_secs);
    let followed = follow_folder(
        &args.dir,
        date,
        args.from_id,
        args.count,
        || true,
        idle,
        || {
            println!("ready");
            let _ = std::io::stdout().flush();
        },
    )?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (sent, lat) in &followed.samples {
        writeln!(out, "{sent} {lat}")?;
    }
    writeln!(out, "end {}", followed.samples.len())?;
    out.flush()?;
    Ok(())
}

/// Kills the child when dropped before [`finish_follower`] took it.
struct ChildGuard(Option<Child>);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts this binary as the cross-process follower of `dir`; returns once it watches.
fn spawn_follower(dir: &Path, date: Date, total: u64) -> Result<(ChildGuard, BufReader<ChildStdout>)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("lag-follow")
        .arg("--dir")
        .arg(dir)
        .args(["--date", &date.to_string(), "--from-id", "1", "--count", &total.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the cross-process follower")?;
    let stdout = child.stdout.take().context("the follower's stdout")?;
    let guard = ChildGuard(Some(child));
    let mut out = BufReader::new(stdout);
    let mut line = String::new();
    out.read_line(&mut line)?;
    if line.trim() != "ready" {
        bail!("the cross-process follower said {line:?} instead of ready");
    }
    Ok((guard, out))
}

fn finish_follower(mut guard: ChildGuard, out: BufReader<ChildStdout>) -> Result<Followed> {
    let mut followed = Followed::default();
    let mut ended = None;
    for line in out.lines() {
        let line = line?;
        if let Some(n) = line.strip_prefix("end ") {
            ended = Some(n.parse::<usize>()?);
            break;
        }
        let (sent, lat) = line.split_once(' ').context("a follower line")?;
        followed.samples.push((sent.parse()?, lat.parse()?));
    }
    let mut child = guard.0.take().context("the follower")?;
    let status = child.wait()?;
    if !status.success() || ended != Some(followed.samples.len()) {
        bail!("the cross-process follower failed ({status}, {ended:?} of {} lines)", followed.samples.len());
    }
    Ok(followed)
}

/// Waits until the folder holds `n` records of `date` (polled every 2 ms).
fn wait_count(dir: &Path, date: Date, n: u64, limit: Duration) -> Result<()> {
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
fn fdatasync_probe(dir: &Path, n: usize) -> Result<Dist> {
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

/// How long `tokio::time::sleep(want)` really takes on this runtime (the SDK's linger is
/// such a wait).
fn timer_probe(rt: &Runtime, want: Duration, n: usize) -> Dist {
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
