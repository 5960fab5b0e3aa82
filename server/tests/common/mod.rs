//! Helpers for tests that run the real binaries: processes that are always stopped,
//! free loopback ports, waiting for a listener.

#![allow(dead_code)]

pub mod http;

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process that is killed when the test ends, passed or failed.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    pub fn start(bin: &str, args: &[&str]) -> Proc {
        Proc::spawn(bin, args, "warn", Stdio::inherit())
    }

    /// Starts with `info` logs written to `log` (for tests that read what happened).
    pub fn start_logged(bin: &str, args: &[&str], log: &Path) -> Proc {
        Proc::spawn(bin, args, "info", Stdio::from(File::create(log).unwrap()))
    }

    fn spawn(bin: &str, args: &[&str], level: &str, stderr: Stdio) -> Proc {
        let child = Command::new(bin)
            .args(args)
            .env("RUST_LOG", level)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}"));
        Proc(child)
    }

    /// SIGKILL, and wait until the process is gone.
    pub fn kill9(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }

    /// SIGTERM, then the exit status (the process must stop by itself within 30 s).
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.wait(Duration::from_secs(30), "stop on SIGTERM")
    }

    pub fn wait(&mut self, limit: Duration, what: &str) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "process {} did not {what} within {limit:?}", self.0.id());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server storing in `dir`, gRPC on `127.0.0.1:port` (no sync socket), days in UTC, its
/// `info` logs in `log`; returns once it listens.
pub fn start_server_logged(dir: &Path, port: u16, log: &Path) -> Proc {
    let addr = format!("127.0.0.1:{port}");
    let proc = Proc::start_logged(
        env!("CARGO_BIN_EXE_modsynclog-server"),
        &["--data-dir", dir.to_str().unwrap(), "--grpc-addr", &addr, "--sync-addr", "off", "--utc"],
        log,
    );
    wait_for_port(port);
    proc
}

/// Records in the store at `dir`: whole index entries of every day folder.
pub fn stored(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().len() == 8)
        .filter_map(|e| std::fs::metadata(e.path().join("index")).ok())
        .map(|m| m.len() / 12)
        .sum()
}

pub fn client() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_modsynclog-client"));
    c.env("RUST_LOG", "warn");
    c
}

/// Every file below `root`, relative path and bytes.
pub fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            // The server's private state (the ingest journal) is not part of the store.
            if p.file_name().is_some_and(|n| n == ".modsynclog") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The day folders of `root`, file by file (not the server's private state).
pub fn day_tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    tree(root).into_iter().filter(|(p, _)| !p.to_string_lossy().starts_with('.')).collect()
}
