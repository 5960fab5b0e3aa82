//! `modsynclog-bench server`: the server and its clients end to end, over loopback.
//!
//! 1. ingest: acknowledged records/s of 100-byte records, native `Producer` (1 and 4
//!    producers, each on its own thread) into an in-process server and, when the binary
//!    exists, into a real `modsynclog-server` process; legacy unary calls (1 and 16 callers);
//! 2. catch-up: an empty replica (native and legacy) against a server holding N records;
//! 3. live lag at a steady rate: commit-time nanos embedded in each payload, read back from
//!    the replica's folder by a following `Reader` (so the figure includes its 1 ms poll);
//! 4. the server process's RSS with 10 native, then 10 legacy replicas caught up.
//!
//! `--transport plain,tls` runs every native case over plaintext and over TLS, one right
//! after the other, and prints the two side by side (see `transport`); legacy cases run
//! in plaintext only.

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

use crate::procstat::{cpu_with, rss_kib};
use crate::transport::{self, Kind, Measured, Metric, Net, Transport, metric};

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
    /// Transports of the native cases, in the order they run (comma separated): plain, tls.
    /// With both, each case runs over each in turn and a side-by-side table is printed.
    #[arg(long, value_enum, default_value = "plain", value_delimiter = ',')]
    pub transport: Vec<Transport>,
    /// Records of an untimed in-process ingest run over each transport before the first
    /// timed one (0: none). Without it the first case of the process ran up to 25% slower
    /// than the same case later (allocator, page cache and CPU still cold), which decided
    /// a plaintext/TLS comparison by which transport went first.
    #[arg(long, default_value_t = 2_000_000)]
    pub warmup_records: u64,
}

struct Row {
    section: &'static str,
    case: String,
    transport: Transport,
    value: String,
    note: String,
    metrics: Vec<Metric>,
}

fn row(
    rows: &mut Vec<Row>,
    section: &'static str,
    case: impl Into<String>,
    net: &Net,
    value: impl Into<String>,
    note: &str,
    metrics: Vec<Metric>,
) {
    let (case, value, note) = (case.into(), value.into(), note.to_string());
    let transport = net.transport;
    eprintln!("  {:<10} {:<52} {:<5} {:>16}  {}", section, case, transport.name(), value, note);
    rows.push(Row { section, case, transport, value, note, metrics });
}

pub fn run(args: ServerBenchArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let on = |s: &str| args.only.iter().any(|o| o == s);
    // Each case runs once per transport, in the order given, one right after the other.
    let nets = args.transport.iter().map(|&t| Net::new(t, args.tmp.as_ref())).collect::<Result<Vec<_>>>()?;
    let plain = nets.iter().find(|n| !n.is_tls()).cloned();
    if plain.is_none() {
        eprintln!("  (legacy unary calls and the legacy sync socket are plaintext only: skipped)");
    }
    let mut rows = Vec::new();
    if (on("ingest") || on("real")) && args.warmup_records > 0 {
        eprintln!("warming up: {} records over each transport, untimed", args.warmup_records);
        let warm = ServerBenchArgs { records: args.warmup_records, ..args.clone() };
        for net in &nets {
            let dir = tempdir(&args)?;
            let server = rt.block_on(start_server(dir.path(), false, net))?;
            native_ingest(&net.url(&server.grpc_addr().to_string()), 4, &warm, net, None)?;
            check_count(dir.path(), warm.records)?;
            rt.block_on(server.shutdown())?;
        }
    }
    eprintln!("running (each line is printed as it completes):");
    if on("ingest") {
        for producers in [1usize, 4] {
            for net in &nets {
                let dir = tempdir(&args)?;
                let server = rt.block_on(start_server(dir.path(), false, net))?;
                let addr = net.url(&server.grpc_addr().to_string());
                let (rate, cpu) = native_ingest(&addr, producers, &args, net, None)?;
                check_count(dir.path(), args.records)?;
                let case = format!("native Producer x{producers}, in-process");
                ingest_row(&mut rows, case, net, rate, cpu);
                rt.block_on(server.shutdown())?;
            }
        }
    }
    if on("real") {
        if args.server_bin.exists() {
            for producers in [1usize, 4] {
                for net in &nets {
                    let dir = tempdir(&args)?;
                    let (child, addr) = spawn_server(&args.server_bin, dir.path(), false, net)?;
                    let mut child = Kill(child);
                    let (rate, cpu) = native_ingest(&net.url(&addr), producers, &args, net, Some(child.0.id()))?;
                    child.stop();
                    check_count(dir.path(), args.records)?;
                    let case = format!("native Producer x{producers}, server process");
                    ingest_row(&mut rows, case, net, rate, cpu);
                }
            }
        } else {
            eprintln!("  (no {}: skipping the server-process runs)", args.server_bin.display());
        }
    }
    // Legacy unary calls are plaintext only (Go clients cannot speak TLS).
    if let (true, Some(net)) = (on("legacy"), &plain) {
        for (callers, json) in [(1usize, false), (16, false), (16, true)] {
            let dir = tempdir(&args)?;
            let server = rt.block_on(start_server(dir.path(), false, net))?;
            let rate =
                rt.block_on(legacy_ingest(server.grpc_addr().to_string(), callers, args.legacy_secs, args.size, json))?;
            let what = if json { "JsonLogWrite" } else { "DbLogWrite" };
            let case = format!("legacy unary {what} x{callers} callers");
            row(&mut rows, "ingest", case, net, rate_s(rate), "acked rec/s", vec![metric(RATE, rate, Kind::Rate)]);
            rt.block_on(server.shutdown())?;
        }
    }
    if on("catchup") {
        let dir = tempdir(&args)?;
        let date = today();
        let t = Instant::now();
        fill(dir.path(), date, args.catchup_records, args.size)?;
        eprintln!("  (filled {} records in {:.1} s)", args.catchup_records, t.elapsed().as_secs_f64());
        for legacy in [false, true] {
            // The legacy sync socket is plaintext only.
            for net in nets.iter().filter(|n| !(legacy && n.is_tls())) {
                let server = rt.block_on(start_server(dir.path(), true, net))?;
                let rdir = tempdir(&args)?;
                let (stop, stopped) = watch::channel(false);
                let (t, cpu0) = (Instant::now(), cpu_with(None)?);
                let task = spawn_replica(&rt, &server, rdir.path(), legacy, net, stopped);
                wait_count(rdir.path(), date, args.catchup_records, Duration::from_secs(600))?;
                let secs = t.elapsed().as_secs_f64();
                let cpu = (cpu_with(None)? - cpu0) * 1e9 / args.catchup_records as f64;
                let _ = stop.send(true);
                rt.block_on(task)??;
                rt.block_on(server.shutdown())?;
                let name = if legacy { "legacy socket replica" } else { "native replica" };
                let rate = args.catchup_records as f64 / secs;
                row(
                    &mut rows,
                    "catch-up",
                    format!("{name}, {} records", args.catchup_records),
                    net,
                    rate_s(rate),
                    &format!("rec/s ({secs:.2} s; {cpu:.0} ns CPU/rec, server + replica + 2 ms count polls)"),
                    vec![metric("rec/s", rate, Kind::Rate), metric(CPU, cpu, Kind::CpuNs)],
                );
            }
        }
    }
    if on("lag") {
        for legacy in [false, true] {
            for net in nets.iter().filter(|n| !(legacy && n.is_tls())) {
                let l = live_lag(&rt, &args, legacy, net)?;
                let name = if legacy { "legacy socket replica" } else { "native replica" };
                row(
                    &mut rows,
                    "lag",
                    format!("{name} @ {} rec/s, linger {} ms", args.lag_rate, args.lag_linger_ms),
                    net,
                    format!("p50 {:.2} ms", l.p50),
                    &format!(
                        "p99 {:.2} ms, max {:.2} ms, n={} (commit -> readable on replica, incl. 1 ms read poll); \
                         on the server: p50 {:.2} ms, p99 {:.2} ms",
                        l.p99, l.max, l.n, l.server_p50, l.server_p99
                    ),
                    vec![
                        metric("p50 ms", l.p50, Kind::Millis),
                        metric("p99 ms", l.p99, Kind::Millis),
                        metric("max ms", l.max, Kind::Millis),
                        metric("server p50", l.server_p50, Kind::Millis),
                        metric("server p99", l.server_p99, Kind::Millis),
                    ],
                );
            }
        }
    }
    if on("memory") {
        if args.server_bin.exists() {
            for net in &nets {
                memory(&rt, &args, &mut rows, net)?;
            }
        } else {
            eprintln!("  (no {}: skipping the memory runs)", args.server_bin.display());
        }
    }
    println!();
    println!("{:<10} {:<52} {:<5} {:>16}  note", "section", "case", "net", "value");
    println!("{}", "-".repeat(110));
    for r in &rows {
        println!("{:<10} {:<52} {:<5} {:>16}  {}", r.section, r.case, r.transport.name(), r.value, r.note);
    }
    transport::print_comparison(rows.iter().map(|r| Measured {
        section: r.section,
        case: &r.case,
        transport: r.transport,
        metrics: &r.metrics,
    }));
    Ok(())
}

const RATE: &str = "acked rec/s";
const CPU: &str = "CPU ns/rec";

fn ingest_row(rows: &mut Vec<Row>, case: String, net: &Net, rate: f64, cpu: f64) {
    let note = format!("acked rec/s ({cpu:.0} ns CPU/rec, producers + server)");
    row(
        rows,
        "ingest",
        case,
        net,
        rate_s(rate),
        &note,
        vec![metric(RATE, rate, Kind::Rate), metric(CPU, cpu, Kind::CpuNs)],
    );
}

fn rate_s(r: f64) -> String {
    transport::thousands(r)
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

async fn start_server(dir: &Path, legacy_sync: bool, net: &Net) -> Result<RunningServer> {
    let config = ServerConfig {
        data_dir: dir.to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse()?,
        durability: Durability::Never,
        sync_addr: legacy_sync.then(|| "127.0.0.1:0".parse()).transpose()?,
        tls: net.server_tls(),
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
fn spawn_server(bin: &Path, dir: &Path, legacy_sync: bool, net: &Net) -> Result<(Child, String)> {
    let grpc = format!("127.0.0.1:{}", free_port()?);
    let sync = if legacy_sync { format!("127.0.0.1:{}", free_port()?) } else { "off".into() };
    let child = Command::new(bin)
        .arg("--data-dir")
        .arg(dir)
        .args(["--grpc-addr", &grpc, "--sync-addr", &sync, "--fsync", "never"])
        .args(net.server_flags())
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
/// and flush; acknowledged records/s from the first commit to the last ack, and the CPU
/// time per record of this process plus `server` (a server process), if given.
fn native_ingest(
    addr: &str,
    producers: usize,
    args: &ServerBenchArgs,
    net: &Net,
    server: Option<u32>,
) -> Result<(f64, f64)> {
    let (total, size) = (args.records, args.size);
    let each = total / producers as u64;
    let mut opts = ProducerOptions { tls: net.client_tls(), ..ProducerOptions::default() };
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
    let (t, cpu0) = (Instant::now(), cpu_with(server)?);
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
    let n = each * producers as u64;
    let cpu = (cpu_with(server)? - cpu0) * 1e9 / n as f64;
    for p in &list {
        p.close(Some(Duration::from_secs(10)))?;
    }
    Ok((n as f64 / secs, cpu))
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
    net: &Net,
    stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<modsynclog_core::Result<()>> {
    let (grpc, sync) = (server.grpc_addr().to_string(), server.sync_addr().map(|a| a.to_string()));
    spawn_replica_at(rt, &grpc, sync, dir, legacy, net, stopped)
}

fn spawn_replica_at(
    rt: &Runtime,
    grpc: &str,
    sync: Option<String>,
    dir: &Path,
    legacy: bool,
    net: &Net,
    stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<modsynclog_core::Result<()>> {
    if legacy {
        let config = LegacyClientConfig::new(sync.expect("legacy sync socket"), dir);
        rt.spawn(modsynclog_core::legacy::run(config, stopped))
    } else {
        let config = ReplicaConfig { tls: net.client_tls(), ..ReplicaConfig::new(net.url(grpc), dir) };
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

/// Commit-to-readable latencies (ms) of a live lag run.
struct Lag {
    p50: f64,
    p99: f64,
    max: f64,
    /// Samples read back from the replica.
    n: usize,
    /// The same on the server's own folder: how much of the lag is ingest.
    server_p50: f64,
    server_p99: f64,
}

fn live_lag(rt: &Runtime, args: &ServerBenchArgs, legacy: bool, net: &Net) -> Result<Lag> {
    let sdir = tempdir(args)?;
    let rdir = tempdir(args)?;
    let date = today();
    let server = rt.block_on(start_server(sdir.path(), true, net))?;
    let addr = net.url(&server.grpc_addr().to_string());
    let opts = ProducerOptions {
        linger: Duration::from_millis(args.lag_linger_ms),
        tls: net.client_tls(),
        ..ProducerOptions::default()
    };
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
    let task = spawn_replica(rt, &server, rdir.path(), legacy, net, stopped);
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
    let server_q = |p: f64| match on_server.len() {
        0 => f64::NAN,
        n => on_server[((n as f64 * p) as usize).min(n - 1)] as f64 / 1e6,
    };
    eprintln!(
        "    (commit -> readable on the server: p50 {:.2} ms, p90 {:.2}, p99 {:.2}, max {:.2})",
        server_q(0.5),
        server_q(0.9),
        server_q(0.99),
        server_q(1.0)
    );
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
    Ok(Lag {
        p50: q(0.50),
        p99: q(0.99),
        max: *lat.last().unwrap_or(&0) as f64 / 1e6,
        n: lat.len(),
        server_p50: server_q(0.50),
        server_p99: server_q(0.99),
    })
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

fn memory(rt: &Runtime, args: &ServerBenchArgs, rows: &mut Vec<Row>, net: &Net) -> Result<()> {
    let dir = tempdir(args)?;
    let date = today();
    fill(dir.path(), date, args.memory_records, args.size)?;
    let (child, addrs) = spawn_server(&args.server_bin, dir.path(), true, net)?;
    let mut child = Kill(child);
    let pid = child.0.id();
    let mut it = addrs.split(' ');
    let (grpc, sync) = (it.next().unwrap_or_default().to_string(), it.next().map(str::to_string));
    std::thread::sleep(Duration::from_millis(300));
    let idle = rss_kib(pid)?;
    let case = format!("server process, idle, {} records", args.memory_records);
    row(rows, "memory", case, net, format!("{idle} KiB"), "VmRSS", vec![metric("KiB", idle as f64, Kind::KiB)]);
    // The legacy sync socket is plaintext only.
    for legacy in [false, true].into_iter().filter(|&l| !(l && net.is_tls())) {
        let (stop, stopped) = watch::channel(false);
        let dirs = (0..10).map(|_| tempdir(args)).collect::<Result<Vec<_>>>()?;
        let tasks: Vec<_> = dirs
            .iter()
            .map(|d| spawn_replica_at(rt, &grpc, sync.clone(), d.path(), legacy, net, stopped.clone()))
            .collect();
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
        let rss = rss_kib(pid)?;
        row(
            rows,
            "memory",
            format!("server process, 10 {name} replicas caught up"),
            net,
            format!("{rss} KiB"),
            &format!("VmRSS (peak seen while catching up: {peak} KiB)"),
            vec![metric("KiB", rss as f64, Kind::KiB), metric("peak KiB", peak as f64, Kind::KiB)],
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
