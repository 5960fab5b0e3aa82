//! `modsynclog-bench web`: what the HTTP endpoint costs and how fast its search is.
//!
//! 1. ingest with the endpoint off, then on with a dashboard open (`/metrics` and the
//!    dashboard's five API calls every second, harsher than the console's 2 s and a
//!    Prometheus scrape's 15 s), then on with a live tail open as well (an unfiltered
//!    `/api/follow` reading every record): acknowledged records/s of 100-byte records
//!    from 4 native producers into the release `modsynclog-server`, the three cases
//!    alternating, `--rounds` times; the median of each;
//! 2. search: a 5,000,000-record day, scanned by `/api/records` with a text (`q`) and an
//!    expression (`re`) found in no record, so each request reads the whole day: records
//!    scanned per second, request to answer.
//!
//! The writer's instruments (ingest per type, commit and ack histograms) are always on;
//! what `--http-addr` adds is the endpoint and the work of answering it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use modsynclog_core::sdk::{Producer, ProducerOptions};
use modsynclog_core::{Date, Durability, NewRecord, Store, StoreOptions};

#[derive(Args, Debug, Clone)]
pub struct WebArgs {
    /// Sections to run (comma separated): ingest, search.
    #[arg(long, default_value = "ingest,search", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Records per ingest run.
    #[arg(long, default_value_t = 2_000_000)]
    pub records: u64,
    /// Rounds of the three ingest cases.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Records of the searched day.
    #[arg(long, default_value_t = 5_000_000)]
    pub search_records: u64,
    #[arg(long, default_value = "target/release/modsynclog-server")]
    pub server_bin: PathBuf,
    /// Where temporary stores go (default: the system temp dir).
    #[arg(long)]
    pub tmp: Option<PathBuf>,
}

const SIZE: usize = 100;
const PRODUCERS: usize = 4;

fn payload() -> Bytes {
    Bytes::from((0..SIZE).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The server binary over `dir`, killed on drop.
struct Server {
    child: Child,
    grpc: String,
    http: Option<u16>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_port(addr: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens on {addr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn start(bin: &Path, dir: &Path, http: bool) -> Result<Server> {
    let grpc = format!("127.0.0.1:{}", free_port()?);
    let http = if http { Some(free_port()?) } else { None };
    let mut cmd = Command::new(bin);
    cmd.arg("--data-dir").arg(dir).args(["--grpc-addr", &grpc, "--sync-addr", "off", "--fsync", "never"]);
    if let Some(port) = http {
        cmd.args(["--http-addr", &format!("127.0.0.1:{port}")]);
    }
    let child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("start {}", bin.display()))?;
    let server = Server { child, grpc, http };
    wait_port(&server.grpc)?;
    if let Some(port) = http {
        wait_port(&format!("127.0.0.1:{port}"))?;
    }
    Ok(server)
}

/// `GET path`: the body of a 200 answer.
fn get(port: u16, path: &str) -> Result<String> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    write!(conn, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    conn.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP head")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path}: {head}");
    }
    Ok(body.to_string())
}

/// Acknowledged records/s of `total` records from [`PRODUCERS`] producers.
fn ingest(grpc: &str, total: u64) -> Result<f64> {
    let each = total / PRODUCERS as u64;
    let producers = (0..PRODUCERS)
        .map(|_| Producer::connect(grpc, ProducerOptions::default()))
        .collect::<modsynclog_core::Result<Vec<_>>>()?;
    let data = payload();
    for p in &producers {
        p.commit(1, data.clone())?;
        p.flush(Some(Duration::from_secs(20)))?;
    }
    let t = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = producers
            .iter()
            .map(|p| {
                let data = data.clone();
                s.spawn(move || -> Result<()> {
                    for _ in 0..each {
                        p.commit(1, data.clone())?;
                    }
                    p.flush(Some(Duration::from_secs(300)))?;
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().expect("producer thread"))
    })?;
    let rate = (each * PRODUCERS as u64) as f64 / t.elapsed().as_secs_f64();
    for p in &producers {
        p.close(Some(Duration::from_secs(10)))?;
    }
    Ok(rate)
}

/// What reads the endpoint while records go in.
#[derive(Clone, Copy, PartialEq)]
enum Load {
    Off,
    Dashboard,
    LiveTail,
}

impl Load {
    fn name(self) -> &'static str {
        match self {
            Load::Off => "endpoint off",
            Load::Dashboard => "on, dashboard open (6 requests/s)",
            Load::LiveTail => "on, dashboard + live tail (every record)",
        }
    }
}

/// Runs one ingest case; returns its rate and, for a live tail, the records it received.
fn ingest_case(args: &WebArgs, load: Load) -> Result<(f64, u64)> {
    let dir = tempdir(args)?;
    let server = start(&args.server_bin, dir.path(), load != Load::Off)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    if let Some(port) = server.http {
        let stop = stop.clone();
        readers.push(std::thread::spawn(move || -> Result<u64> {
            let paths = ["/metrics", "/api/status", "/api/days", "/api/replicas", "/api/producers", "/api/history"];
            while !stop.load(Ordering::Relaxed) {
                for p in paths {
                    get(port, p)?;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            Ok(0)
        }));
    }
    if let (Some(port), Load::LiveTail) = (server.http, load) {
        let mut conn = TcpStream::connect(("127.0.0.1", port))?;
        write!(conn, "GET /api/follow HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
        let mut reader = BufReader::new(conn);
        let mut line = String::new();
        // Wait for the follower to stand at the head before the records start.
        while !line.starts_with("event: open") {
            line.clear();
            reader.read_line(&mut line)?;
        }
        let expected = args.records / PRODUCERS as u64 * PRODUCERS as u64 + PRODUCERS as u64;
        readers.push(std::thread::spawn(move || -> Result<u64> {
            let mut seen = 0;
            while seen < expected {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    break;
                }
                seen += u64::from(line.starts_with("event: record"));
            }
            Ok(seen)
        }));
    }
    let rate = ingest(&server.grpc, args.records)?;
    stop.store(true, Ordering::Relaxed);
    let mut followed = 0;
    for r in readers {
        followed += r.join().expect("reader thread")?;
    }
    Ok((rate, followed))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn tempdir(args: &WebArgs) -> Result<tempfile::TempDir> {
    Ok(match &args.tmp {
        Some(t) => tempfile::tempdir_in(t)?,
        None => tempfile::tempdir()?,
    })
}

pub fn run(args: &WebArgs) -> Result<()> {
    if !args.server_bin.exists() {
        bail!("{} not found: cargo build --release -p modsynclog-server", args.server_bin.display());
    }
    let on = |s: &str| args.only.iter().any(|o| o == s);
    if on("ingest") {
        println!(
            "ingest: {} records of {SIZE} B, {PRODUCERS} native producers, release server, fsync never",
            args.records
        );
        let cases = [Load::Off, Load::Dashboard, Load::LiveTail];
        let mut rates = vec![Vec::new(); cases.len()];
        for round in 0..args.rounds {
            for (i, load) in cases.iter().enumerate() {
                let (rate, followed) = ingest_case(args, *load)?;
                let tail = if *load == Load::LiveTail {
                    format!(" (live tail got {followed} records)")
                } else {
                    String::new()
                };
                println!("  round {}: {:<42} {:>12.0} records/s{tail}", round + 1, load.name(), rate);
                rates[i].push(rate);
            }
        }
        let off = median(rates[0].clone());
        for (load, r) in cases.iter().zip(rates) {
            let m = median(r);
            println!("  median  {:<42} {:>12.0} records/s  {:+.1}%", load.name(), m, (m / off - 1.0) * 100.0);
        }
    }
    if on("search") {
        search(args)?;
    }
    Ok(())
}

/// Fills one day with `n` records and times full scans of it through `/api/records`.
fn search(args: &WebArgs) -> Result<()> {
    let dir = tempdir(args)?;
    let date = Date::today_local();
    let mut store = Store::open(dir.path(), StoreOptions { durability: Durability::Never, ..StoreOptions::default() })?;
    let data = payload();
    let mut left = args.search_records;
    while left > 0 {
        let k = left.min(50_000) as usize;
        let records: Vec<NewRecord<'_>> = (0..k).map(|_| NewRecord { time: 0, ty: 1, data: &data }).collect();
        store.append(date, &records)?;
        left -= k as u64;
    }
    drop(store);
    let server = start(&args.server_bin, dir.path(), true)?;
    let port = server.http.context("http port")?;
    println!(
        "search: one day of {} records of {SIZE} B, nothing matches (every request scans the day)",
        args.search_records
    );
    for (what, query) in [("text (q)", "q=needle-absent"), ("expression (re)", "re=needle-%5Cd%2B"), ("type", "type=7")]
    {
        for round in 0..3 {
            let t = Instant::now();
            let body = get(port, &format!("/api/records?date={date}&{query}"))?;
            let secs = t.elapsed().as_secs_f64();
            let scanned: u64 = body
                .split("\"scanned\":")
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|s| s.parse().ok())
                .context("no scanned count")?;
            println!(
                "  {what:<16} round {}: {scanned} records in {:.3} s = {:.1} M records/s",
                round + 1,
                secs,
                scanned as f64 / secs / 1e6
            );
        }
    }
    Ok(())
}
