//! `modsynclog-client read` and `verify` as a user runs them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn vectors_store() -> PathBuf {
    let dir = std::env::var_os("MODSYNCLOG_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"))
        .join("store");
    assert!(dir.is_dir(), "test vectors not found at {}", dir.display());
    dir
}

fn client() -> Command {
    Command::new(env!("CARGO_BIN_EXE_modsynclog-client"))
}

#[test]
fn read_prints_jsonl_from_the_earliest_day() {
    let out = client().args(["read", "--dir"]).arg(vectors_store()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 23);
    assert_eq!(
        lines[0],
        r#"{"data_b64":"ZGF5MjAgZmlyc3Q=","date":"2026-11-20","id":0,"text":"day20 first","time":1795104010,"type":1}"#
    );
    // Record 5 of 2026-11-21 is bytes 0..=255: not UTF-8, so no "text".
    let rec: serde_json::Value = serde_json::from_str(lines[3 + 5]).unwrap();
    assert_eq!((rec["date"].as_str(), rec["id"].as_u64()), (Some("2026-11-21"), Some(5)));
    assert!(rec.get("text").is_none());
    assert_eq!(rec["data_b64"].as_str().unwrap().len(), 344);
}

#[test]
fn read_from_a_date_and_id_in_text_format() {
    let out = client()
        .args(["read", "--date", "2026-11-21", "--id", "17", "--format", "text", "--dir"])
        .arg(vectors_store())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<_> = text.lines().map(|l| l.split(' ').nth(1).unwrap().to_string()).collect();
    assert_eq!(ids, ["17", "18", "19"]);
    assert!(text.starts_with("2026-11-21 17 1795276799 1001 "), "{text}");
}

#[test]
fn a_closed_pipe_ends_read_quietly() {
    // Far more output than a pipe buffers, so the reader is still writing when `head` leaves.
    let tmp = tempfile::tempdir().unwrap();
    let mut store = modsynclog_core::Store::open(tmp.path(), Default::default()).unwrap();
    let date = modsynclog_core::Date::parse("2026-11-21").unwrap();
    let batch = vec![modsynclog_core::NewRecord { time: 0, ty: 1, data: b"some log line" }; 200_000];
    store.append(date, &batch).unwrap();
    drop(store);

    let mut child =
        client().args(["read", "--dir"]).arg(tmp.path()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.contains(r#""id":0"#));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "status {:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn verify_reports_each_day_and_fails_on_damage() {
    let out = client().args(["verify", "--dir"]).arg(vectors_store()).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("2026-11-20           3 records  open  ok"), "{text}");
    assert!(text.contains("2026-11-21          20 records  finished  ok"), "{text}");

    let tmp = tempfile::tempdir().unwrap();
    let day = tmp.path().join("20261121");
    std::fs::create_dir_all(&day).unwrap();
    for f in ["index", "data000000"] {
        std::fs::write(day.join(f), std::fs::read(vectors_store().join("20261121").join(f)).unwrap()).unwrap();
    }
    // Break the magic of record 7.
    let index = std::fs::read(day.join("index")).unwrap();
    let offset = i64::from_be_bytes(index[7 * 12 + 2..7 * 12 + 10].try_into().unwrap()) as usize;
    let mut data = std::fs::read(day.join("data000000")).unwrap();
    data[offset] ^= 0xff;
    std::fs::write(day.join("data000000"), data).unwrap();

    let out = client().args(["verify", "--dir"]).arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("day 2026-11-21 at id 7") && stderr.contains("bad magic"), "{stderr}");
    assert!(String::from_utf8(out.stdout).unwrap().contains("7 records  open  DAMAGED at id 7"));
}

#[test]
fn errors_name_the_folder() {
    let out = client().args(["read", "--dir", "/nonexistent/store"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr).unwrap().contains("/nonexistent/store: no such store folder"));
    let out = client().args(["read", "--dir", "/tmp", "--date", "2026-02-30"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap rejects an impossible date");
}
