//! End to end with the real binaries: a server, a replica and `send`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Proc, day_tree, free_port, tree, wait_for_port};

struct Server {
    proc: Proc,
    grpc: String,
    sync: String,
}

fn start_server(dir: &Path, grpc: u16, sync: u16) -> Server {
    let (g, s) = (format!("127.0.0.1:{grpc}"), format!("127.0.0.1:{sync}"));
    let dir = dir.to_str().unwrap();
    let proc = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-server"),
        &["--data-dir", dir, "--grpc-addr", &g, "--sync-addr", &s, "--fsync", "never", "--utc"],
    );
    wait_for_port(grpc);
    wait_for_port(sync);
    Server { proc, grpc: g, sync: s }
}

fn start_replica(server: &str, dir: &Path) -> Proc {
    Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-client"),
        &[
            "sync",
            "--protocol",
            "legacy",
            "--utc",
            "--fsync",
            "interval:20",
            "--server",
            server,
            "--dir",
            dir.to_str().unwrap(),
        ],
    )
}

fn send_lines(server: &str, first: usize, n: usize, tmp: &Path) {
    let file = tmp.join(format!("lines-{first}.txt"));
    let text: String = (first..first + n).map(|i| format!("line {i} {}\n", "x".repeat(i % 50))).collect();
    std::fs::write(&file, text).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_modsynclog-client"))
        .args(["send", "--server", server, "--type", "1201"])
        .arg(&file)
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success(), "send failed: {status}");
}

/// Waits until the replica's folder equals the server's, file for file.
fn wait_identical(master: &Path, replica: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (a, b) = (tree(master), tree(replica));
        if a == b {
            return;
        }
        if Instant::now() > deadline {
            let names = |t: &[(PathBuf, Vec<u8>)]| t.iter().map(|(p, d)| (p.clone(), d.len())).collect::<Vec<_>>();
            panic!("{what}: folders differ: master {:?} replica {:?}", names(&a), names(&b));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count_records(dir: &Path) -> usize {
    let out = Command::new(env!("CARGO_BIN_EXE_modsynclog-client")).args(["read", "--dir"]).arg(dir).output().unwrap();
    assert!(out.status.success());
    out.stdout.iter().filter(|&&b| b == b'\n').count()
}

#[test]
fn send_200k_lines_and_the_replica_becomes_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (master, replica) = (tmp.path().join("master"), tmp.path().join("replica"));
    let server = start_server(&master, free_port(), free_port());
    let rep = start_replica(&server.sync, &replica);
    send_lines(&server.grpc, 0, 200_000, tmp.path());
    wait_identical(&master, &replica, "after 200,000 lines");
    assert_eq!(count_records(&replica), 200_000);

    // kill -9 the replica mid-stream; it resumes from its own count after a restart.
    drop(rep);
    let rep = start_replica(&server.sync, &replica);
    let sender = {
        let grpc = server.grpc.clone();
        let t = tmp.path().to_path_buf();
        std::thread::spawn(move || send_lines(&grpc, 200_000, 100_000, &t))
    };
    std::thread::sleep(Duration::from_millis(300));
    drop(rep); // SIGKILL while records are streaming
    let rep = start_replica(&server.sync, &replica);
    sender.join().unwrap();
    wait_identical(&master, &replica, "after the replica was killed and restarted");
    assert_eq!(count_records(&replica), 300_000);

    // A graceful server stop and restart on the same folder: the replica reconnects.
    assert!(server.proc.terminate().success(), "server must exit 0 on SIGTERM");
    let server = start_server(&master, free_port(), free_port());
    drop(rep);
    let _rep = start_replica(&server.sync, &replica);
    send_lines(&server.grpc, 300_000, 1_000, tmp.path());
    wait_identical(&master, &replica, "after a server restart");
    assert_eq!(count_records(&master), 301_000);
}

/// The day folders of `root` (the server's `.modsynclog` state is not replicated).
/// Waits until the replica's day folders equal the server's, file for file.
fn wait_identical_days(master: &Path, replica: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (a, b) = (day_tree(master), day_tree(replica));
        if a == b && !a.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let names = |t: &[(PathBuf, Vec<u8>)]| t.iter().map(|(p, d)| (p.clone(), d.len())).collect::<Vec<_>>();
            panic!("{what}: folders differ: master {:?} replica {:?}", names(&a), names(&b));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const TOKEN: &str = "e2e-s3cret";

fn start_token_server(dir: &Path, grpc: u16) -> (Proc, String) {
    let g = format!("127.0.0.1:{grpc}");
    let proc = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-server"),
        &[
            "--data-dir",
            dir.to_str().unwrap(),
            "--grpc-addr",
            &g,
            "--sync-addr",
            "off",
            "--fsync",
            "never",
            "--utc",
            "--token",
            TOKEN,
        ],
    );
    wait_for_port(grpc);
    (proc, g)
}

/// The native protocol is the default: no `--protocol` flag.
fn start_native_replica(server: &str, dir: &Path) -> Proc {
    Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-client"),
        &["sync", "--utc", "--fsync", "never", "--token", TOKEN, "--server", server, "--dir", dir.to_str().unwrap()],
    )
}

fn send_lines_with_token(server: &str, first: usize, n: usize, tmp: &Path) {
    let file = tmp.join(format!("native-lines-{first}.txt"));
    let text: String = (first..first + n).map(|i| format!("native {i} {}\n", "z".repeat(i % 70))).collect();
    std::fs::write(&file, text).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_modsynclog-client"))
        .args(["send", "--server", server, "--type", "1201", "--token", TOKEN])
        .arg(&file)
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success(), "send failed: {status}");
}

#[test]
fn native_sync_survives_kill_9_and_ends_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (master, replica) = (tmp.path().join("master"), tmp.path().join("replica"));
    let (server, grpc) = start_token_server(&master, free_port());
    let rep = start_native_replica(&grpc, &replica);
    send_lines_with_token(&grpc, 0, 150_000, tmp.path());
    wait_identical_days(&master, &replica, "after 150,000 lines");
    assert_eq!(count_records(&replica), 150_000);

    // kill -9 the replica while records stream; it resumes from its own count.
    let sender = {
        let (grpc, t) = (grpc.clone(), tmp.path().to_path_buf());
        std::thread::spawn(move || send_lines_with_token(&grpc, 150_000, 100_000, &t))
    };
    std::thread::sleep(Duration::from_millis(300));
    drop(rep); // SIGKILL mid-stream
    let rep = start_native_replica(&grpc, &replica);
    std::thread::sleep(Duration::from_millis(400));
    drop(rep); // and once more
    let rep = start_native_replica(&grpc, &replica);
    sender.join().unwrap();
    wait_identical_days(&master, &replica, "after the replica was killed and restarted");
    assert_eq!(count_records(&replica), 250_000);

    // `status --server --dir` sees both sides with no lag.
    let out = Command::new(env!("CARGO_BIN_EXE_modsynclog-client"))
        .args(["status", "--server", &grpc, "--token", TOKEN, "--dir"])
        .arg(&replica)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "status failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("250000") && stdout.trim_end().ends_with("lag: 0 records"), "{stdout}");
    let out = Command::new(env!("CARGO_BIN_EXE_modsynclog-client"))
        .args(["status", "--server", &grpc, "--token", "wrong"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong token must fail");

    // A graceful server restart: the replica reconnects by itself.
    assert!(server.terminate().success(), "server must exit 0 on SIGTERM");
    let (_server, grpc2) = start_token_server(&master, free_port());
    drop(rep);
    let rep = start_native_replica(&grpc2, &replica);
    send_lines_with_token(&grpc2, 250_000, 1_000, tmp.path());
    wait_identical_days(&master, &replica, "after a server restart");
    assert_eq!(count_records(&replica), 251_000);
    assert!(rep.terminate().success(), "the replica must exit 0 on SIGTERM");
}
