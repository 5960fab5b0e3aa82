//! `modsynclog-client send --follow` ships lines appended to a growing file, like a log
//! agent, and waits for a partial last line to be completed.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{Proc, client, free_port, wait_for_port};

fn read_text(dir: &std::path::Path) -> Vec<String> {
    let out = client().args(["read", "--format", "text", "--dir"]).arg(dir).output().unwrap();
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.splitn(5, ' ').nth(4).unwrap().to_string()).collect()
}

fn wait_for(dir: &std::path::Path, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = read_text(dir);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "store holds {got:?}, expected {want:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn follow_ships_appended_lines_and_completes_partial_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let (grpc, data) = (free_port(), tmp.path().join("data"));
    let _server = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-server"),
        &["--data-dir", data.to_str().unwrap(), "--grpc-addr", &format!("127.0.0.1:{grpc}"), "--sync-addr", "off"],
    );
    wait_for_port(grpc);
    let log = tmp.path().join("app.log");
    std::fs::write(&log, "first\n").unwrap();
    let server = format!("127.0.0.1:{grpc}");
    let _send = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-client"),
        &["send", "--follow", "--server", &server, log.to_str().unwrap()],
    );
    wait_for(&data, &["first"]);

    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(b"second\nthi").unwrap();
    f.flush().unwrap();
    wait_for(&data, &["first", "second"]);
    // The partial line is held back until its newline arrives.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read_text(&data), ["first", "second"]);
    f.write_all(b"rd\n").unwrap();
    wait_for(&data, &["first", "second", "third"]);
}
