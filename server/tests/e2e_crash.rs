//! Exactly-once across a server crash, with the real binaries: `modsynclog-client send`
//! streams 200,000 numbered lines, the server is killed with SIGKILL mid-stream and
//! restarted on the same port and folder; `send` reconnects, resends what was not
//! acknowledged and exits 0. Every line must then be stored exactly once, in file order,
//! and `modsynclog-client verify` must pass.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use modsynclog_core::Reader;

const LINES: usize = 200_000;

/// A child process that is killed when the test ends, passed or failed.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn start(bin: &str, args: &[&str], log: &Path) -> Proc {
        let child = Command::new(bin)
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}"));
        Proc(child)
    }

    /// SIGKILL, and wait until the process is gone.
    fn kill9(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }

    /// SIGTERM, then the exit status (the process must stop by itself within 30 s).
    fn terminate(mut self) -> ExitStatus {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.wait(Duration::from_secs(30), "stop on SIGTERM")
    }

    fn wait(&mut self, limit: Duration, what: &str) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "process {} did not {what} within {limit:?}", self.0.id());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn start_server(dir: &Path, port: u16, fsync: &str, log: &Path) -> Proc {
    let addr = format!("127.0.0.1:{port}");
    let proc = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-server"),
        &["--data-dir", dir.to_str().unwrap(), "--grpc-addr", &addr, "--sync-addr", "off", "--fsync", fsync, "--utc"],
        log,
    );
    wait_for_port(port);
    proc
}

/// Records in the store: whole index entries of every day folder.
fn stored(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().len() == 8)
        .filter_map(|e| std::fs::metadata(e.path().join("index")).ok())
        .map(|m| m.len() / 12)
        .sum()
}

fn line(i: usize) -> String {
    format!("line {i:07} {}", "x".repeat(i % 40))
}

/// Sums `key=N` over the lines of a log file that contain `message`.
fn sum_field(log: &Path, message: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains(message))
        .filter_map(|l| {
            let at = l.find(&format!("{key}="))? + key.len() + 1;
            l[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok()
        })
        .sum()
}

fn crash_and_resume(fsync: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (data, file) = (tmp.path().join("data"), tmp.path().join("lines.txt"));
    let logs = |name: &str| tmp.path().join(name);
    let text: String = (0..LINES).map(|i| line(i) + "\n").collect();
    std::fs::write(&file, text).unwrap();
    let port = free_port();
    let server = start_server(&data, port, fsync, &logs("server1.log"));

    let mut send = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-client"),
        &["send", "--server", &format!("127.0.0.1:{port}"), "--type", "1201", file.to_str().unwrap()],
        &logs("send.log"),
    );
    // Let some records land, then SIGKILL the server under load.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored(&data) < 20_000 {
        assert!(Instant::now() < deadline, "records did not arrive");
        std::thread::sleep(Duration::from_millis(1));
    }
    server.kill9();
    assert!(send.running(), "send finished before the kill; the test proves nothing");
    // The page cache survives a process crash: this is what the next server will find.
    let landed = stored(&data);

    std::thread::sleep(Duration::from_millis(200));
    let server = start_server(&data, port, fsync, &logs("server2.log"));
    let status = send.wait(Duration::from_secs(120), "finish sending");
    assert!(status.success(), "send failed: {status}\n{}", std::fs::read_to_string(logs("send.log")).unwrap());
    assert!(server.terminate().success(), "server must exit 0 on SIGTERM");

    let resent_batches = sum_field(&logs("send.log"), "resending unacknowledged batches", "batches");
    let resent_records = sum_field(&logs("send.log"), "resending unacknowledged batches", "records");
    let dup_batches = sum_field(&logs("server2.log"), "not stored again", "dup_batches");
    let dup_records = sum_field(&logs("server2.log"), "not stored again", "dup_records");
    eprintln!(
        "fsync {fsync}: {landed} records stored at the kill; {resent_batches} batches ({resent_records} records) \
         in flight and resent; {dup_batches} of them ({dup_records} records) already stored, deduplicated"
    );

    let got: Vec<Vec<u8>> = Reader::open(&data).unwrap().map(|r| r.unwrap().data.to_vec()).collect();
    assert_eq!(got.len(), LINES, "every line stored exactly once (records after the kill: {landed})");
    for (i, data) in got.iter().enumerate() {
        assert_eq!(data, line(i).as_bytes(), "record {i} out of order or damaged");
    }
    assert!(resent_records >= dup_records);

    let verify = Command::new(env!("CARGO_BIN_EXE_modsynclog-client"))
        .args(["verify", "--dir"])
        .arg(&data)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(verify.status.success(), "verify: {}", String::from_utf8_lossy(&verify.stdout));
}

#[test]
fn kill_9_under_load_loses_and_duplicates_nothing_fsync_never() {
    crash_and_resume("never");
}

#[test]
fn kill_9_under_load_loses_and_duplicates_nothing_fsync_batch() {
    crash_and_resume("batch");
}
