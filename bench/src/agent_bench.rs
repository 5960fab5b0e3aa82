//! `modsynclog-bench agent`: lines/s from log files to acknowledged records, for the log
//! agent (`modsynclog-agent --once`) and, beside it in the same run, `modsynclog-client
//! send FILE` (the loop of `send --follow`, ending at the end of the file), one process per
//! file. Each case gets a fresh server process and store (`--fsync batch`, the default)
//! and files of 100-byte lines written before the shipper starts; the time runs from the
//! shipper's start to its exit with everything acknowledged, and the store is counted
//! after. CPU and peak RSS are the shipper's (from `wait4`), CPU also the server's.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::procstat::cpu_secs;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Lines shipped per case (split evenly over the files).
    #[arg(long, default_value_t = 2_000_000)]
    pub lines: u64,
    /// File counts, one case each (comma separated).
    #[arg(long, default_value = "1,16", value_delimiter = ',')]
    pub files: Vec<u64>,
    #[arg(long, default_value = "target/release/modsynclog-server")]
    pub server_bin: PathBuf,
    #[arg(long, default_value = "target/release/modsynclog-agent")]
    pub agent_bin: PathBuf,
    #[arg(long, default_value = "target/release/modsynclog-client")]
    pub client_bin: PathBuf,
    /// Where temporary stores and files go (default: the system temp dir).
    #[arg(long)]
    pub tmp: Option<PathBuf>,
}

/// What one shipper used.
struct Used {
    secs: f64,
    cpu: f64,
    /// Peak RSS in KiB (of the largest process, and summed over them).
    max_rss: u64,
    sum_rss: u64,
    server_cpu: f64,
}

pub fn run(args: &AgentArgs) -> Result<()> {
    for bin in [&args.server_bin, &args.agent_bin, &args.client_bin] {
        if !bin.exists() {
            bail!("{} is missing: cargo build --release --workspace first", bin.display());
        }
    }
    println!(
        "{:<34} {:>5} {:>10} {:>7} {:>12} {:>9} {:>10} {:>10}",
        "shipper", "files", "lines", "s", "lines/s", "CPU s", "RSS MiB", "server CPU"
    );
    for &files in &args.files {
        for shipper in ["modsynclog-agent --once", "modsynclog-client send (per file)"] {
            let used = case(args, files, shipper)?;
            let rss = if files == 1 {
                format!("{:.1}", used.max_rss as f64 / 1024.0)
            } else {
                format!("{:.1}/{:.1}", used.max_rss as f64 / 1024.0, used.sum_rss as f64 / 1024.0)
            };
            println!(
                "{:<34} {:>5} {:>10} {:>7.2} {:>12.0} {:>9.2} {:>10} {:>10.2}",
                shipper,
                files,
                args.lines,
                used.secs,
                args.lines as f64 / used.secs,
                used.cpu,
                rss,
                used.server_cpu
            );
        }
    }
    println!("(RSS with several processes: the largest / their sum)");
    Ok(())
}

fn case(args: &AgentArgs, files: u64, shipper: &str) -> Result<Used> {
    let tmp = match &args.tmp {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let (data, logs) = (tmp.path().join("data"), tmp.path().join("logs"));
    std::fs::create_dir_all(&logs)?;
    let each = args.lines / files;
    let paths: Vec<PathBuf> = (0..files).map(|f| logs.join(format!("app-{f:02}.log"))).collect();
    for (f, path) in paths.iter().enumerate() {
        write_lines(path, f, each)?;
    }
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let mut server = Server(
        Command::new(&args.server_bin)
            .arg("--data-dir")
            .arg(&data)
            .args(["--grpc-addr", &addr, "--sync-addr", "off"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("start the server")?,
    );
    wait_port(&addr)?;
    let server_cpu0 = cpu_secs(Some(server.0.id()))?;
    let started = Instant::now();
    let children: Vec<Child> = if shipper.starts_with("modsynclog-agent") {
        vec![
            Command::new(&args.agent_bin)
                .args(["--server", &addr, "--agent-id", "bench", "--once", "--path"])
                .arg(logs.join("*.log"))
                .arg("--state-dir")
                .arg(tmp.path().join("state"))
                .env("RUST_LOG", "warn")
                .spawn()?,
        ]
    } else {
        paths
            .iter()
            .map(|p| {
                Command::new(&args.client_bin).args(["send", "--server", &addr]).arg(p).env("RUST_LOG", "warn").spawn()
            })
            .collect::<std::io::Result<_>>()?
    };
    let (mut cpu, mut max_rss, mut sum_rss) = (0.0, 0, 0);
    for child in children {
        let (ok, c, rss) = reap(child)?;
        if !ok {
            bail!("{shipper} failed");
        }
        (cpu, max_rss, sum_rss) = (cpu + c, max_rss.max(rss), sum_rss + rss);
    }
    let secs = started.elapsed().as_secs_f64();
    let server_cpu = cpu_secs(Some(server.0.id()))? - server_cpu0;
    server.stop();
    let stored = stored(&data);
    if stored != each * files {
        bail!("{shipper}: {stored} records stored of {}", each * files);
    }
    Ok(Used { secs, cpu, max_rss, sum_rss, server_cpu })
}

/// `n` lines of 100 bytes (99 and the newline), numbered.
fn write_lines(path: &Path, file: usize, n: u64) -> Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let pad = "x".repeat(99 - 24);
    for i in 0..n {
        writeln!(out, "file {file:02} line {i:010} {pad}")?;
    }
    out.flush()?;
    Ok(())
}

/// Waits for `child`; whether it exited 0, its CPU seconds and peak RSS (KiB).
fn reap(child: Child) -> Result<(bool, f64, u64)> {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet reaped (std's Child is dropped without a wait).
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r != pid {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((ok, secs(usage.ru_utime) + secs(usage.ru_stime), usage.ru_maxrss as u64))
}

struct Server(Child);

impl Server {
    fn stop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_port(addr: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            bail!("the server did not listen on {addr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Records in the store: whole index entries of every day folder.
fn stored(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::metadata(e.path().join("index")).ok())
        .map(|m| m.len() / 12)
        .sum()
}
