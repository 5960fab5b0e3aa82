//! `modsynclog-bench server`: the server and its clients end to end, over loopback.
//!
//! 1. ingest: acknowledged records/s of 100-byte records, native `Producer` (1 and 4
//!    producers, each on its own thread) into an in-process server and, when the binary
//!    exists, into a real `modsynclog-server` process; legacy unary calls (1 and 16 callers);
//! 2. catch-up: an empty replica (native and legacy) against a server holding N records;
//! 3. live lag at a steady rate: commit-time nanos embedded in each payload, read back from
//!    the replica's folder by a following `Reader` (so the figure includes its 1 ms poll);
//! 4. the server process's RSS with 10 native, then 10 legacy replicas caught up.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use modsynclog_core::clock::{Clock, SystemClock};
use modsynclog_core::legacy::LegacyClientConfig;
use modsynclog_core::proto::legacy::log_client::LogClient;
use modsynclog_core::proto::legacy::{DbLogRequest, JsonLogRequest};
use modsynclog_core::replica::ReplicaConfig;
use modsynclog_core::sdk::{Producer, ProducerOptions};
use modsynclog_core::server::{RunningServer, ServerConfig};
use modsynclog_core::store::day;
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::{Date, Durability, NewRecord, Next, Reader, Store, StoreOptions};
use tokio::runtime::Runtime;
use tokio::sync::watch;

#[derive(Args, Debug, Clone)]
pub struct ServerBenchArgs {
    /// Sections to run (comma separated): ingest, real, legacy, catchup, lag, memory.
    #[arg(long, default_value = "ingest,real,legacy,catchup,lag,memory", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Records per native ingest run.
    #[arg(long, default_value_t = 2_000_000)]
    pub records: u64,
    /// Payload bytes per record.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Seconds per legacy unary run.
    #[arg(long, default_value_t = 3.0)]
    pub legacy_secs: f64,
    /// Producer batch size (records) of the ingest runs (SDK default 1000).
    #[arg(long)]
    pub batch_records: Option<usize>,
    /// Records the server holds for the catch-up runs.
    #[arg(long, default_value_t = 5_000_000)]
    pub catchup_records: u64,
    /// Steady rate (records/s) and duration (s) of the lag runs.
    #[arg(long, default_value_t = 50_000)]
    pub lag_rate: u64,
    #[arg(long, default_value_t = 10.0)]
    pub lag_secs: f64,
    /// Producer linger (ms) of the lag runs; the SDK default is 5.
    #[arg(long, default_value_t = 5)]
    pub lag_linger_ms: u64,
    /// Records in the store for the memory run.
    #[arg(long, default_value_t = 1_000_000)]
    pub memory_records: u64,
    /// The server binary for the `real` and `memory` sections.
    #[arg(long, default_value = "target/release/modsynclog-server")]
    pub server_bin: PathBuf,
    /// Where temporary stores go (default: the system temp dir).
    #[arg(long)]
    pub tmp: Option<PathBuf>,
}

struct Row {
    section: &'static str,
    case: String,
    value: String,
    note: String,
}

fn row(rows: &mut Vec<Row>, section: &'static str, case: impl Into<String>, value: impl Into<String>, note: &str) {
    let r = Row { section, case: case.into(), value: value.into(), note: note.to_string() };
    eprintln!("  {:<10} {:<44} {:>16}  {}", r.section, r.case, r.value, r.note);
    rows.push(r);
}

pub fn run(args: ServerBenchArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let on = |s: &str| args.only.iter().any(|o| o == s);
    let mut rows = Vec::new();
    eprintln!("running (each line is printed as it completes):");
    if on("ingest") {
        for producers in [1usize, 4] {
            let dir = tempdir(&args)?;
            let server = rt.block_on(start_server(dir.path(), false))?;
            let rate = native_ingest(&server.grpc_addr().to_string(), producers, &args)?;
            check_count(dir.path(), args.records)?;
            row(&mut rows, "ingest", format!("native Producer x{producers}, in-process"), rate_s(rate), "acked rec/s");
            rt.block_on(server.shutdown())?;
        }
    }
    if on("real") {
        if args.server_bin.exists() {
            for producers in [1usize, 4] {
                let dir = tempdir(&args)?;
                let (child, addr) = spawn_server(&args.server_bin, dir.path(), false)?;
                let mut child = Kill(child);
                let rate = native_ingest(&addr, producers, &args)?;
                child.stop();
                check_count(dir.path(), args.records)?;
                row(
                    &mut rows,
                    "ingest",
                    format!("native Producer x{producers}, server process"),
                    rate_s(rate),
                    "acked rec/s",
                );
            }
        } else {
            eprintln!("  (no {}: skipping the server-process runs)", args.server_bin.display());
        }
    }
    if on("legacy") {
        for (callers, json) in [(1usize, false), (16, false), (16, true)] {
            let dir = tempdir(&args)?;
            let server = rt.block_on(start_server(dir.path(), false))?;
            let rate =
                rt.block_on(legacy_ingest(server.grpc_addr().to_string(), callers, args.legacy_secs, args.size, json))?;
            let what = if json { "JsonLogWrite" } else { "DbLogWrite" };
            row(&mut rows, "ingest", format!("legacy unary {what} x{callers} callers"), rate_s(rate), "acked rec/s");
            rt.block_on(server.shutdown())?;
        }
    }
    if on("catchup") {
        let dir = tempdir(&args)?;
        let date = today();
        let t = Instant::now();
        fill(dir.path(), date, args.catchup_records, args.size)?;
        eprintln!("  (filled {} records in {:.1} s)", args.catchup_records, t.elapsed().as_secs_f64());
        let server = rt.block_on(start_server(dir.path(), true))?;
        for legacy in [false, true] {
            let rdir = tempdir(&args)?;
            let (stop, stopped) = watch::channel(false);
            let t = Instant::now();
            let task = spawn_replica(&rt, &server, rdir.path(), legacy, stopped);
            wait_count(rdir.path(), date, args.catchup_records, Duration::from_secs(600))?;
            let secs = t.elapsed().as_secs_f64();
            let _ = stop.send(true);
            rt.block_on(task)??;
            let name = if legacy { "legacy socket replica" } else { "native replica" };
            row(
                &mut rows,
                "catch-up",
                format!("{name}, {} records", args.catchup_records),
                rate_s(args.catchup_records as f64 / secs),
                &format!("rec/s ({secs:.2} s)"),
            );
        }
        rt.block_on(server.shutdown())?;
    }
    if on("lag") {
        for legacy in [false, true] {
            let (p50, p99, max, n) = live_lag(&rt, &args, legacy)?;
            let name = if legacy { "legacy socket replica" } else { "native replica" };
            row(
                &mut rows,
                "lag",
                format!("{name} @ {} rec/s, linger {} ms", args.lag_rate, args.lag_linger_ms),
                format!("p50 {:.2} ms", p50),
                &format!(
                    "p99 {p99:.2} ms, max {max:.2} ms, n={n} (commit -> readable on replica, incl. 1 ms read poll)"
                ),
            );
        }
    }
    if on("memory") {
        if args.server_bin.exists() {
            memory(&rt, &args, &mut rows)?;
        } else {
            eprintln!("  (no {}: skipping the memory runs)", args.server_bin.display());
        }
    }
    println!();
    println!("{:<10} {:<48} {:>16}  note", "section", "case", "value");
    println!("{}", "-".repeat(100));
    for r in &rows {
        println!("{:<10} {:<48} {:>16}  {}", r.section, r.case, r.value, r.note);
    }
    Ok(())
}

fn rate_s(r: f64) -> String {
    let r = r.round() as u64;
    let s = r.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn tempdir(args: &ServerBenchArgs) -> Result<tempfile::TempDir> {
    Ok(match &args.tmp {
        Some(t) => tempfile::tempdir_in(t)?,
        None => tempfile::tempdir()?,
    })
}

fn today() -> Date {
    SystemClock { utc: false }.today()
}

async fn start_server(dir: &Path, legacy_sync: bool) -> Result<RunningServer> {
    let config = ServerConfig {
        data_dir: dir.to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse()?,
        durability: Durability::Never,
        sync_addr: legacy_sync.then(|| "127.0.0.1:0".parse()).transpose()?,
        ..ServerConfig::default()
    };
    Ok(modsynclog_core::server::start(config).await?)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Kills the child on drop.
struct Kill(Child);
impl Kill {
    fn stop(&mut self) {
        // SIGTERM for a graceful stop (it syncs), then wait.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server binary; returns it and its gRPC `host:port` once it accepts.
fn spawn_server(bin: &Path, dir: &Path, legacy_sync: bool) -> Result<(Child, String)> {
    let grpc = format!("127.0.0.1:{}", free_port()?);
    let sync = if legacy_sync { format!("127.0.0.1:{}", free_port()?) } else { "off".into() };
    let child = Command::new(bin)
        .arg("--data-dir")
        .arg(dir)
        .args(["--grpc-addr", &grpc, "--sync-addr", &sync, "--fsync", "never"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&grpc).is_err() {
        if Instant::now() > deadline {
            bail!("the server process did not listen on {grpc}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((child, if legacy_sync { format!("{grpc} {sync}") } else { grpc }))
}

fn payload(size: usize) -> Bytes {
    Bytes::from((0..size).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>())
}

/// `producers` threads, each with its own `Producer`, commit `total` records between them
/// and flush; acknowledged records/s from the first commit to the last ack.
fn native_ingest(addr: &str, producers: usize, args: &ServerBenchArgs) -> Result<f64> {
    let (total, size) = (args.records, args.size);
    let each = total / producers as u64;
    let mut opts = ProducerOptions::default();
    if let Some(n) = args.batch_records {
        opts.batch_max_records = n;
    }
    let list =
        (0..producers).map(|_| Producer::connect(addr, opts.clone())).collect::<modsynclog_core::Result<Vec<_>>>()?;
    // Warm the connections up.
    for p in &list {
        p.commit(1201, payload(size))?;
        p.flush(Some(Duration::from_secs(20)))?;
    }
    let data = payload(size);
    let t = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = list
            .iter()
            .map(|p| {
                let data = data.clone();
                s.spawn(move || -> Result<()> {
                    for _ in 0..each {
                        p.commit(1201, data.clone())?;
                    }
                    let committed = t.elapsed();
                    p.flush(Some(Duration::from_secs(120)))?;
                    if std::env::var_os("MSL_BENCH_SLOW").is_some() {
                        eprintln!("    (commits done at {committed:?}, all acked at {:?})", t.elapsed());
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().expect("producer thread"))
    })?;
    let secs = t.elapsed().as_secs_f64();
    for p in &list {
        p.close(Some(Duration::from_secs(10)))?;
    }
    Ok((each * producers as u64) as f64 / secs)
}

fn check_count(dir: &Path, expected_at_least: u64) -> Result<()> {
    let n = day::record_count(&StdVfs, dir, today())?;
    if n < expected_at_least {
        bail!("the store holds {n} records, expected at least {expected_at_least}");
    }
    Ok(())
}

/// `callers` concurrent loops of unary calls on one channel for `secs`; acked records/s.
async fn legacy_ingest(addr: String, callers: usize, secs: f64, size: usize, json: bool) -> Result<f64> {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?.tcp_nodelay(true).connect().await?;
    let done = Arc::new(AtomicU64::new(0));
    let data = payload(size);
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    let t = Instant::now();
    for _ in 0..callers {
        let mut client = LogClient::new(channel.clone());
        let (done, data) = (done.clone(), data.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let code = if json {
                    client
                        .json_log_write(JsonLogRequest { data_type: 1201, data: data.clone() })
                        .await?
                        .into_inner()
                        .err_code
                } else {
                    client
                        .db_log_write(DbLogRequest { data_type: 1001, data: data.clone() })
                        .await?
                        .into_inner()
                        .err_code
                };
                if code != 0 {
                    bail!("errCode {code}");
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64())
}

/// Writes `n` records of `size` bytes to `date` in batches of 50 000.
fn fill(dir: &Path, date: Date, n: u64, size: usize) -> Result<()> {
    let mut store = Store::open(dir, StoreOptions { durability: Durability::Never, ..StoreOptions::default() })?;
    let data = payload(size);
    let time = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i32;
    let mut left = n;
    while left > 0 {
        let k = left.min(50_000) as usize;
        let records: Vec<NewRecord<'_>> = (0..k).map(|_| NewRecord { time, ty: 1201, data: &data }).collect();
        store.append(date, &records)?;
        left -= k as u64;
    }
    store.sync()?;
    Ok(())
}

fn spawn_replica(
    rt: &Runtime,
    server: &RunningServer,
    dir: &Path,
    legacy: bool,
    stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<modsynclog_core::Result<()>> {
    spawn_replica_at(
        rt,
        &server.grpc_addr().to_string(),
        server.sync_addr().map(|a| a.to_string()),
        dir,
        legacy,
        stopped,
    )
}

fn spawn_replica_at(
    rt: &Runtime,
    grpc: &str,
    sync: Option<String>,
    dir: &Path,
    legacy: bool,
    stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<modsynclog_core::Result<()>> {
    if legacy {
        let config = LegacyClientConfig::new(sync.expect("legacy sync socket"), dir);
        rt.spawn(modsynclog_core::legacy::run(config, stopped))
    } else {
        let config = ReplicaConfig::new(grpc.to_string(), dir);
        rt.spawn(modsynclog_core::replica::run(config, stopped, |_| {}))
    }
}

/// Waits until the replica's folder holds `n` records of `date` (polled every 2 ms).
fn wait_count(dir: &Path, date: Date, n: u64, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if day::record_count(&StdVfs, dir, date).unwrap_or(0) >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the replica at {} did not reach {n} records in {limit:?}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// (p50, p99, max) in ms and the number of samples.
fn live_lag(rt: &Runtime, args: &ServerBenchArgs, legacy: bool) -> Result<(f64, f64, f64, usize)> {
    let sdir = tempdir(args)?;
    let rdir = tempdir(args)?;
    let date = today();
    let server = rt.block_on(start_server(sdir.path(), true))?;
    let addr = server.grpc_addr().to_string();
    let opts = ProducerOptions { linger: Duration::from_millis(args.lag_linger_ms), ..ProducerOptions::default() };
    let producer = Producer::connect(&addr, opts)?;
    let stamped = |size: usize| {
        let mut v = vec![b'x'; size.max(8)];
        v[..8].copy_from_slice(&now_nanos().to_le_bytes());
        Bytes::from(v)
    };
    // A first record so that the day exists on both sides before the reader opens.
    producer.commit(1201, stamped(args.size))?;
    producer.flush(Some(Duration::from_secs(10)))?;
    let (stop, stopped) = watch::channel(false);
    let task = spawn_replica(rt, &server, rdir.path(), legacy, stopped);
    wait_count(rdir.path(), date, 1, Duration::from_secs(30))?;

    let total = (args.lag_rate as f64 * args.lag_secs) as u64;
    let reader_done = Arc::new(AtomicBool::new(false));
    let reader = follow_latencies(rdir.path().to_path_buf(), date, total, reader_done.clone());
    // The same on the server's folder: how much of the lag is ingest.
    let server_reader = follow_latencies(sdir.path().to_path_buf(), date, total, reader_done.clone());
    // Pace: every 1 ms, commit what is due.
    let t = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let due = ((t.elapsed().as_secs_f64() * args.lag_rate as f64) as u64).min(total);
        while sent < due {
            producer.commit(1201, stamped(args.size))?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    producer.flush(Some(Duration::from_secs(30)))?;
    std::thread::sleep(Duration::from_millis(500));
    reader_done.store(true, Ordering::Relaxed);
    let mut lat = reader.join().expect("reader thread")?;
    let mut on_server = server_reader.join().expect("reader thread")?;
    on_server.sort_unstable();
    if !on_server.is_empty() {
        let q = |p: f64| on_server[((on_server.len() as f64 * p) as usize).min(on_server.len() - 1)] as f64 / 1e6;
        eprintln!(
            "    (commit -> readable on the server: p50 {:.2} ms, p90 {:.2}, p99 {:.2}, max {:.2})",
            q(0.5),
            q(0.9),
            q(0.99),
            q(1.0)
        );
    }
    let _ = stop.send(true);
    rt.block_on(task)??;
    producer.close(Some(Duration::from_secs(5)))?;
    rt.block_on(server.shutdown())?;
    if lat.len() as u64 != total {
        bail!("read {} of {total} records back from the replica", lat.len());
    }
    lat.sort_unstable();
    let q = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1e6;
    eprintln!("    (commit -> readable on the replica: p90 {:.2} ms, p99.9 {:.2})", q(0.9), q(0.999));
    Ok((q(0.50), q(0.99), *lat.last().unwrap_or(&0) as f64 / 1e6, lat.len()))
}

/// A thread following the folder from record 1 of `date`: commit-to-read latency (ns) of
/// each record, from the nanos in its first 8 bytes.
fn follow_latencies(
    dir: PathBuf,
    date: Date,
    total: u64,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<Vec<u64>>> {
    std::thread::spawn(move || -> Result<Vec<u64>> {
        let mut r = Reader::open(&dir)?.from(date, 1).follow(true).poll_interval(Duration::from_millis(1));
        let mut lat = Vec::with_capacity(total as usize);
        let mut slow = Vec::new();
        while (lat.len() as u64) < total {
            match r.next_record(Some(Duration::from_millis(200)))? {
                Next::Record(rec) => {
                    let sent = u64::from_le_bytes(rec.data[..8].try_into()?);
                    let l = now_nanos().saturating_sub(sent);
                    if l > 20_000_000 && std::env::var_os("MSL_BENCH_SLOW").is_some() {
                        slow.push((sent, l));
                    }
                    lat.push(l);
                }
                Next::Timeout if done.load(Ordering::Relaxed) => break,
                Next::Timeout => {}
                Next::End => break,
            }
        }
        if let Some(&(first, _)) = slow.first() {
            let mut last = 0;
            for &(sent, l) in &slow {
                if sent - last > 1_000_000 {
                    eprintln!(
                        "    slow: sent at +{:.1} ms, latency {:.1} ms",
                        (sent - first) as f64 / 1e6,
                        l as f64 / 1e6
                    );
                }
                last = sent;
            }
            eprintln!("    slow records: {} (first sent at {first})", slow.len());
        }
        Ok(lat)
    })
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
}

fn memory(rt: &Runtime, args: &ServerBenchArgs, rows: &mut Vec<Row>) -> Result<()> {
    let dir = tempdir(args)?;
    let date = today();
    fill(dir.path(), date, args.memory_records, args.size)?;
    let (child, addrs) = spawn_server(&args.server_bin, dir.path(), true)?;
    let mut child = Kill(child);
    let pid = child.0.id();
    let mut it = addrs.split(' ');
    let (grpc, sync) = (it.next().unwrap_or_default().to_string(), it.next().map(str::to_string));
    std::thread::sleep(Duration::from_millis(300));
    row(
        rows,
        "memory",
        format!("server process, idle, {} records", args.memory_records),
        format!("{} KiB", rss_kib(pid)?),
        "VmRSS",
    );
    for legacy in [false, true] {
        let (stop, stopped) = watch::channel(false);
        let dirs = (0..10).map(|_| tempdir(args)).collect::<Result<Vec<_>>>()?;
        let tasks: Vec<_> =
            dirs.iter().map(|d| spawn_replica_at(rt, &grpc, sync.clone(), d.path(), legacy, stopped.clone())).collect();
        let mut peak = 0;
        for d in &dirs {
            let deadline = Instant::now() + Duration::from_secs(600);
            while day::record_count(&StdVfs, d.path(), date).unwrap_or(0) < args.memory_records {
                peak = peak.max(rss_kib(pid)?);
                if Instant::now() > deadline {
                    bail!("replica did not catch up");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        let name = if legacy { "legacy socket" } else { "native" };
        row(
            rows,
            "memory",
            format!("server process, 10 {name} replicas caught up"),
            format!("{} KiB", rss_kib(pid)?),
            &format!("VmRSS (peak seen while catching up: {peak} KiB)"),
        );
        let _ = stop.send(true);
        for t in tasks {
            rt.block_on(t)??;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    child.stop();
    Ok(())
}
