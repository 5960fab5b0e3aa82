//! Exactly-once across a server crash, with the real binaries: `modsynclog-client send`
//! streams 200,000 numbered lines, the server is killed with SIGKILL mid-stream and
//! restarted on the same port and folder; `send` reconnects, resends what was not
//! acknowledged and exits 0. Every line must then be stored exactly once, in file order,
//! and `modsynclog-client verify` must pass.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Proc, free_port, stored, wait_for_port};
use modsynclog_core::Reader;

const LINES: usize = 200_000;

fn start_server(dir: &Path, port: u16, fsync: &str, log: &Path) -> Proc {
    let addr = format!("127.0.0.1:{port}");
    let proc = Proc::start_logged(
        env!("CARGO_BIN_EXE_modsynclog-server"),
        &["--data-dir", dir.to_str().unwrap(), "--grpc-addr", &addr, "--sync-addr", "off", "--fsync", fsync, "--utc"],
        log,
    );
    wait_for_port(port);
    proc
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

    let mut send = Proc::start_logged(
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
