//! The server's Prometheus endpoint counts what it appended.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{Proc, client, free_port, wait_for_port};

fn scrape(port: u16) -> String {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn metrics_count_appended_records() {
    let tmp = tempfile::tempdir().unwrap();
    let (grpc, metrics) = (free_port(), free_port());
    let dir = tmp.path().join("data");
    let server = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-server"),
        &[
            "--data-dir",
            dir.to_str().unwrap(),
            "--grpc-addr",
            &format!("127.0.0.1:{grpc}"),
            "--sync-addr",
            "off",
            "--metrics-addr",
            &format!("127.0.0.1:{metrics}"),
            "--fsync",
            "never",
        ],
    );
    wait_for_port(grpc);
    wait_for_port(metrics);
    assert!(scrape(metrics).contains("\nmodsynclog_appended_records_total 0\n"));

    let lines = tmp.path().join("lines.txt");
    std::fs::write(&lines, (0..1234).map(|i| format!("{i}\n")).collect::<String>()).unwrap();
    let status = client().args(["send", "--server", &format!("127.0.0.1:{grpc}")]).arg(&lines).status().unwrap();
    assert!(status.success());

    let text = scrape(metrics);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\nmodsynclog_appended_records_total 1234\n"), "{text}");
    // Each line is its number and nothing else: 10*1 + 90*2 + 900*3 + 234*4 bytes.
    assert!(text.contains("\nmodsynclog_appended_bytes_total 3826\n"), "{text}");
    assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
    assert!(server.terminate().success());
}
