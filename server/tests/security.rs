//! The network-safety rules with the real binaries: TLS (and its refusals), certificate
//! reload, scopes, mTLS identities, and the refusal to serve a public address unprotected.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Proc, client, free_port, wait_for_port};

const SERVER: &str = env!("CARGO_BIN_EXE_modsynclog-server");

/// A fresh test PKI (see the modsynclog-testcerts crate) in `dir/certs`.
fn certs(dir: &Path) -> PathBuf {
    let certs = dir.join("certs");
    modsynclog_testcerts::TestPki::write(&certs).unwrap();
    certs
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Starts a server on a free port with `extra` flags; returns it and its gRPC port.
fn server(data: &Path, extra: &[&str], log: &Path) -> (Proc, u16) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["--data-dir", path(data), "--grpc-addr", &addr, "--sync-addr", "off", "--fsync", "batch"];
    args.extend_from_slice(extra);
    let proc = Proc::start_logged(SERVER, &args, log);
    wait_for_port(port);
    (proc, port)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn status(server: &str, extra: &[&str]) -> Output {
    run(client().args(["status", "--server", server]).args(extra))
}

fn send(server: &str, lines: &str, extra: &[&str], tmp: &Path) -> Output {
    let file = tmp.join(format!("lines-{}.txt", free_port()));
    std::fs::write(&file, lines).unwrap();
    run(client().args(["send", "--server", server, "--flush-timeout", "20"]).args(extra).arg(&file))
}

fn count_records(dir: &Path) -> usize {
    let out = run(client().args(["read", "--dir"]).arg(dir));
    assert!(out.status.success(), "read: {}", stderr(&out));
    out.stdout.iter().filter(|&&b| b == b'\n').count()
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn tls_ingest_and_sync_end_to_end_with_separate_scopes() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = certs(tmp.path());
    let (master, replica) = (tmp.path().join("master"), tmp.path().join("replica"));
    let (_server, port) = server(
        &master,
        &[
            "--tls-cert",
            path(&certs.join("server.pem")),
            "--tls-key",
            path(&certs.join("server.key")),
            "--ingest-token",
            "w-token",
            "--sync-token",
            "r-token",
            "--utc",
        ],
        &tmp.path().join("server.log"),
    );
    let url = format!("https://localhost:{port}");
    let ca = certs.join("ca.pem");
    let tls = ["--tls-ca", path(&ca)];
    let lines: String = (0..5000).map(|i| format!("tls line {i}\n")).collect();
    let out = send(&url, &lines, &[&tls[..], &["--token", "w-token"]].concat(), tmp.path());
    assert!(out.status.success(), "send over TLS: {}", stderr(&out));

    let _rep = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-client"),
        &["sync", "--utc", "--server", &url, "--tls-ca", path(&ca), "--token", "r-token", "--dir", path(&replica)],
    );
    wait_until("the TLS replica holds all 5000 records", || replica.exists() && count_records(&replica) == 5000);
    let a = std::fs::read_dir(&master).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name() != ".modsynclog");
    for day in a {
        for f in ["index", "data000000"] {
            let (m, r) = (day.path().join(f), replica.join(day.file_name()).join(f));
            assert_eq!(std::fs::read(&m).unwrap(), std::fs::read(&r).unwrap(), "{} differs", m.display());
        }
    }

    // Scopes: the write token cannot read, the read token cannot write, no token gets nothing.
    let out = status(&url, &[&tls[..], &["--token", "w-token"]].concat());
    assert!(!out.status.success() && stderr(&out).contains("PermissionDenied"), "{}", stderr(&out));
    let out = status(&url, &tls);
    assert!(!out.status.success() && stderr(&out).contains("Unauthenticated"), "{}", stderr(&out));
    let out = status(&url, &[&tls[..], &["--token", "r-token"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let started = Instant::now();
    let out = send(&url, "never stored\n", &[&tls[..], &["--token", "r-token"]].concat(), tmp.path());
    assert!(!out.status.success(), "a read token must not append");
    assert!(stderr(&out).contains("does not grant the write"), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(15), "the auth error must end the send, not its flush timeout");
    let out = send(&url, "never stored\n", &tls, tmp.path());
    assert!(!out.status.success(), "no token must not append: {}", stderr(&out));
    assert_eq!(count_records(&master), 5000, "nothing of the refused sends was stored");

    // Plaintext to the TLS port fails with a hint.
    let out = status(&format!("127.0.0.1:{port}"), &["--token", "r-token"]);
    assert!(!out.status.success() && stderr(&out).contains("https://"), "{}", stderr(&out));
}

#[test]
fn tls_refusals_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = certs(tmp.path());
    let c = |f: &str| certs.join(f).to_str().unwrap().to_string();
    let (_good, port) = server(
        &tmp.path().join("a"),
        &["--tls-cert", &c("server.pem"), "--tls-key", &c("server.key")],
        &tmp.path().join("a.log"),
    );
    let url = format!("https://localhost:{port}");

    let out = status(&url, &["--tls-ca", &c("other-ca.pem")]);
    assert!(!out.status.success() && stderr(&out).contains("UnknownIssuer"), "wrong CA: {}", stderr(&out));
    let out = status(
        &format!("https://127.0.0.1:{port}"),
        &["--tls-ca", &c("ca.pem"), "--tls-server-name", "elsewhere.example"],
    );
    assert!(!out.status.success() && stderr(&out).contains("not valid for name"), "wrong name: {}", stderr(&out));
    let out = status(&url, &["--tls-ca", &c("ca.pem")]);
    assert!(out.status.success(), "the right CA works: {}", stderr(&out));

    let (_expired, port) = server(
        &tmp.path().join("b"),
        &["--tls-cert", &c("expired.pem"), "--tls-key", &c("expired.key")],
        &tmp.path().join("b.log"),
    );
    let out = status(&format!("https://localhost:{port}"), &["--tls-ca", &c("ca.pem")]);
    assert!(!out.status.success() && stderr(&out).contains("certificate expired"), "expired: {}", stderr(&out));

    // mTLS: no client certificate is refused; names decide the scope.
    let (_mtls, port) = server(
        &tmp.path().join("c"),
        &[
            "--tls-cert",
            &c("server.pem"),
            "--tls-key",
            &c("server.key"),
            "--tls-client-ca",
            &c("ca.pem"),
            "--ingest-cert-names",
            "ingest-client",
            "--sync-cert-names",
            "replica-client",
        ],
        &tmp.path().join("c.log"),
    );
    let url = format!("https://localhost:{port}");
    let out = status(&url, &["--tls-ca", &c("ca.pem")]);
    assert!(!out.status.success(), "mTLS without a client certificate must fail");
    let text = stderr(&out);
    assert!(text.contains("client certificates"), "{text}");
    let out = status(&url, &["--tls-ca", &c("ca.pem"), "--tls-cert", &c("reader.pem"), "--tls-key", &c("reader.key")]);
    assert!(out.status.success(), "the replica certificate reads: {}", stderr(&out));
    let out = status(&url, &["--tls-ca", &c("ca.pem"), "--tls-cert", &c("client.pem"), "--tls-key", &c("client.key")]);
    assert!(!out.status.success() && stderr(&out).contains("PermissionDenied"), "{}", stderr(&out));
    let mtls_client = ["--tls-ca", &c("ca.pem"), "--tls-cert", &c("client.pem"), "--tls-key", &c("client.key")];
    let out = send(&url, "by certificate\n", &mtls_client, tmp.path());
    assert!(out.status.success(), "the ingest certificate writes: {}", stderr(&out));
    assert_eq!(count_records(&tmp.path().join("c")), 1);
}

#[test]
fn a_replaced_certificate_serves_new_connections_while_old_ones_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = certs(tmp.path());
    let (cert, key) = (tmp.path().join("live.pem"), tmp.path().join("live.key"));
    std::fs::copy(certs.join("server.pem"), &cert).unwrap();
    std::fs::copy(certs.join("server.key"), &key).unwrap();
    let (master, replica) = (tmp.path().join("master"), tmp.path().join("replica"));
    let (server, port) = server(
        &master,
        &["--tls-cert", path(&cert), "--tls-key", path(&key), "--token", "t", "--utc"],
        &tmp.path().join("server.log"),
    );
    let url = format!("https://localhost:{port}");
    let (ca, other_ca) = (certs.join("ca.pem"), certs.join("other-ca.pem"));
    let first: String = (0..100).map(|i| format!("before {i}\n")).collect();
    assert!(send(&url, &first, &["--tls-ca", path(&ca), "--token", "t"], tmp.path()).status.success());
    // A replica that trusts only the first CA keeps one connection open.
    let _rep = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-client"),
        &["sync", "--utc", "--server", &url, "--tls-ca", path(&ca), "--token", "t", "--dir", path(&replica)],
    );
    wait_until("the replica has the first 100 records", || replica.exists() && count_records(&replica) == 100);

    // Swap in a certificate of another CA (new files renamed over the old: atomic), and SIGHUP.
    std::fs::copy(certs.join("other-server.pem"), tmp.path().join("new.pem")).unwrap();
    std::fs::copy(certs.join("other-server.key"), tmp.path().join("new.key")).unwrap();
    std::fs::rename(tmp.path().join("new.key"), &key).unwrap();
    std::fs::rename(tmp.path().join("new.pem"), &cert).unwrap();
    Command::new("kill").args(["-HUP", &server.0.id().to_string()]).status().unwrap();
    wait_until("new connections get the new certificate", || {
        status(&url, &["--tls-ca", path(&other_ca), "--token", "t"]).status.success()
    });
    let out = status(&url, &["--tls-ca", path(&ca), "--token", "t"]);
    assert!(!out.status.success(), "the old CA no longer verifies new connections");

    // The replica's connection, opened under the old certificate, still streams.
    let second: String = (0..100).map(|i| format!("after {i}\n")).collect();
    let out = send(&url, &second, &["--tls-ca", path(&other_ca), "--token", "t"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    wait_until("the old connection delivered the records sent after the reload", || count_records(&replica) == 200);
    let log = std::fs::read_to_string(tmp.path().join("server.log")).unwrap();
    assert!(log.contains("TLS certificate reloaded"), "{log}");
}

#[test]
fn a_public_address_needs_protection_or_insecure() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("0.0.0.0:{port}");
    let base = ["--data-dir", path(tmp.path()), "--grpc-addr", &addr, "--sync-addr", "off"];
    let out = run(Command::new(SERVER).args(base).env("RUST_LOG", "warn"));
    assert!(!out.status.success(), "an unprotected public address must not start");
    assert!(stderr(&out).contains("--insecure") && stderr(&out).contains("--token"), "{}", stderr(&out));

    let sync = format!("0.0.0.0:{}", free_port());
    let out = run(Command::new(SERVER)
        .args(["--data-dir", path(tmp.path()), "--grpc-addr", &format!("127.0.0.1:{port}"), "--sync-addr", &sync])
        .env("RUST_LOG", "warn"));
    assert!(!out.status.success() && stderr(&out).contains("--legacy-allow"), "{}", stderr(&out));

    let log = tmp.path().join("insecure.log");
    let mut proc = Proc::start_logged(SERVER, &[&base[..], &["--insecure"]].concat(), &log);
    wait_for_port(port);
    assert!(proc.running());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("WARN") && text.contains("--insecure"), "{text}");
}
