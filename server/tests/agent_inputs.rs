//! The log agent's inputs with the real binaries: inputs added and removed through an etcd
//! key (Debian's `etcd-server`, started here on loopback; `scripts/etcd.sh install` puts it
//! on the machine), a rate limit beside an unlimited input, and a Java stack trace joined
//! into one record by a multi-line rule. Figures come from the agent's metrics endpoint.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Proc, free_port, start_server_logged, stored, wait_for_port};
use modsynclog_core::Reader;

/// An agent with `settings` (top-level keys) and `inputs` (`[[input]]` sections) in its
/// config file, serving metrics on `metrics`.
fn start_agent(dir: &Path, server: u16, metrics: u16, settings: &str, inputs: &str) -> Proc {
    let config = dir.join("agent.toml");
    let text = format!(
        "server = \"127.0.0.1:{server}\"\nagent_id = \"test-agent\"\nstate_dir = \"{}\"\n\
         metrics_addr = \"127.0.0.1:{metrics}\"\n{settings}\n{inputs}",
        dir.join("state").display()
    );
    std::fs::write(&config, text).unwrap();
    let proc = Proc::start_logged(
        env!("CARGO_BIN_EXE_modsynclog-agent"),
        &["--config", config.to_str().unwrap()],
        &dir.join("agent.log"),
    );
    wait_for_port(metrics);
    proc
}

/// One sample of the agent's metrics: `name` or `name{labels}` as written.
fn metric(port: u16, sample: &str) -> u64 {
    let (status, text) = common::http::get(port, "/metrics");
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix(sample).and_then(|v| v.strip_prefix(' ')).map(|v| v.parse().unwrap()))
        .unwrap_or(0)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: not reached within 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

fn append(path: &Path, lines: impl Iterator<Item = String>) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    let text: String = lines.map(|l| l + "\n").collect();
    f.write_all(text.as_bytes()).unwrap();
}

/// Every record's type and text, in store order.
fn records(data: &Path) -> Vec<(i16, String)> {
    Reader::open(data)
        .unwrap()
        .map(|r| r.unwrap())
        .map(|r| (r.ty, String::from_utf8(r.data.to_vec()).unwrap()))
        .collect()
}

/// A single-member etcd on loopback ports, its data in `dir`.
struct Etcd {
    _proc: Proc,
    endpoint: String,
}

impl Etcd {
    fn start(dir: &Path) -> Etcd {
        let bin =
            which("etcd").expect("etcd is not installed: run `bash scripts/etcd.sh install` (Debian's etcd-server)");
        let (client, peer) = (free_port(), free_port());
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let args = [
            "--name=test",
            &format!("--data-dir={}", dir.join("etcd").display()),
            &format!("--listen-client-urls={endpoint}"),
            &format!("--advertise-client-urls={endpoint}"),
            &format!("--listen-peer-urls={peer_url}"),
            &format!("--initial-advertise-peer-urls={peer_url}"),
            &format!("--initial-cluster=test={peer_url}"),
        ];
        let proc = Proc::start_logged(bin.to_str().unwrap(), &args, &dir.join("etcd.log"));
        let etcd = Etcd { _proc: proc, endpoint };
        wait_until("etcd answers", || etcd.ctl(&["get", "/"]).is_ok());
        etcd
    }

    fn ctl(&self, args: &[&str]) -> Result<String, String> {
        let bin = which("etcdctl").expect("etcdctl is not installed: run `bash scripts/etcd.sh install`");
        let out = Command::new(bin)
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.endpoint, "--dial-timeout=2s"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() { Ok(text) } else { Err(text) }
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

#[test]
fn an_etcd_key_adds_and_removes_inputs_without_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, logs) = (tmp.path().join("data"), tmp.path().join("logs"));
    std::fs::create_dir_all(&logs).unwrap();
    let etcd = Etcd::start(tmp.path());
    let (port, metrics) = (free_port(), free_port());
    let _server = start_server_logged(&data, port, &tmp.path().join("server.log"));
    let key = "/modsynclog/agent/test-agent";
    let (a, c) = (logs.join("a.log"), logs.join("c.log"));
    let numbered = |file: &'static str, from: u64, to: u64| (from..to).map(move |i| format!("{file} {i:05}"));
    append(&a, numbered("a", 0, 100));
    append(&c, numbered("c", 0, 100));
    let settings = format!("etcd = \"{}\"", etcd.endpoint);
    let local = format!("[[input]]\nname = \"local\"\npaths = [\"{}\"]\ntype = 7\n", a.display());
    let _agent = start_agent(tmp.path(), port, metrics, &settings, &local);

    // No key yet: the config file's input alone.
    wait_until("the local input shipped", || stored(&data) == 100);
    assert_eq!(metric(metrics, "modsynclog_agent_inputs"), 1);

    // A new input through etcd ships.
    let centre = format!("[[input]]\nname = \"centre\"\npaths = [\"{}\"]\ntype = 8\n", c.display());
    etcd.ctl(&["put", key, &centre]).unwrap();
    let took = wait_until("the centre's input shipped", || stored(&data) == 200);
    println!("etcd: the new input's 100 lines stored {} ms after the put", took.as_millis());
    assert_eq!(metric(metrics, "modsynclog_agent_inputs"), 2);

    // A value that does not parse changes nothing; the key deleted removes the input.
    etcd.ctl(&["put", key, "[[input]] = nonsense"]).unwrap();
    let log = tmp.path().join("agent.log");
    wait_until("the invalid value refused", || {
        std::fs::read_to_string(&log).unwrap().contains("the key's value is not valid")
    });
    assert_eq!(metric(metrics, "modsynclog_agent_inputs"), 2, "an invalid value left the inputs as they were");
    etcd.ctl(&["del", key]).unwrap();
    wait_until("the centre's input removed", || metric(metrics, "modsynclog_agent_inputs") == 1);
    // c.log's new lines come first: were c.log still read, they would be stored by the
    // time a.log's are.
    append(&c, numbered("c", 100, 200));
    append(&a, numbered("a", 100, 200));
    wait_until("the local input's new lines", || {
        metric(metrics, "modsynclog_agent_input_acked_records_total{input=\"local\"}") == 200
    });

    let all = records(&data);
    let of = |ty: i16| all.iter().filter(|r| r.0 == ty).map(|r| r.1.clone()).collect::<Vec<_>>();
    assert_eq!(of(7), numbered("a", 0, 200).collect::<Vec<_>>());
    assert_eq!(of(8), numbered("c", 0, 100).collect::<Vec<_>>(), "the removed input's new lines were not shipped");
    assert_eq!(all.len(), 300);

    // The input comes back: it resumes where its file's checkpoint stands, once.
    etcd.ctl(&["put", key, &centre]).unwrap();
    wait_until("the returned input's new lines", || stored(&data) == 400);
    let all = records(&data);
    let of = |ty: i16| all.iter().filter(|r| r.0 == ty).map(|r| r.1.clone()).collect::<Vec<_>>();
    assert_eq!(of(8), numbered("c", 0, 200).collect::<Vec<_>>(), "nothing shipped twice, nothing skipped");
}

#[test]
fn a_rate_limited_input_ships_at_its_rate_beside_an_unlimited_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, logs) = (tmp.path().join("data"), tmp.path().join("logs"));
    std::fs::create_dir_all(&logs).unwrap();
    let (port, metrics) = (free_port(), free_port());
    let _server = start_server_logged(&data, port, &tmp.path().join("server.log"));
    let (slow, fast) = (50_000u64, 200_000u64);
    append(&logs.join("slow.log"), (0..slow).map(|i| format!("slow {i:06} {}", "s".repeat(60))));
    append(&logs.join("fast.log"), (0..fast).map(|i| format!("fast {i:06} {}", "f".repeat(60))));
    let inputs = format!(
        "[[input]]\nname = \"slow\"\npaths = [\"{0}/slow.log\"]\nrate = {{ records = 10000 }}\n\
         [[input]]\nname = \"fast\"\npaths = [\"{0}/fast.log\"]\n",
        logs.display()
    );
    let _agent = start_agent(tmp.path(), port, metrics, "", &inputs);

    // The rate between the 10,000th and the 40,000th record of the limited input.
    let acked =
        |input: &str| metric(metrics, &format!("modsynclog_agent_input_acked_records_total{{input=\"{input}\"}}"));
    wait_until("10,000 limited records", || acked("slow") >= 10_000);
    let (from, t0) = (acked("slow"), Instant::now());
    wait_until("40,000 limited records", || acked("slow") >= 40_000);
    let (to, took) = (acked("slow"), t0.elapsed());
    let fast_done = acked("fast");
    let rate = (to - from) as f64 / took.as_secs_f64();
    println!("rate limit 10,000 records/s: shipped {rate:.0}/s; the unlimited input had {fast_done} of {fast} by then");
    assert!((9_000.0..=11_000.0).contains(&rate), "limited to 10,000/s, shipped {rate:.0}/s");
    assert_eq!(fast_done, fast, "the unlimited input was held back by the other's limit");
    wait_until("everything stored", || stored(&data) == slow + fast);
}

#[test]
fn a_java_stack_trace_becomes_one_record() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, logs) = (tmp.path().join("data"), tmp.path().join("logs"));
    std::fs::create_dir_all(&logs).unwrap();
    let (port, metrics) = (free_port(), free_port());
    let _server = start_server_logged(&data, port, &tmp.path().join("server.log"));
    let trace = "2026-11-30 10:00:01 ERROR request failed\n\
                 java.lang.IllegalStateException: order 42 is closed\n\
                 \tat com.example.orders.Order.pay(Order.java:88)\n\
                 \tat com.example.web.PayHandler.handle(PayHandler.java:31)\n\
                 Caused by: java.io.IOException: connection reset\n\
                 \tat com.example.db.Pool.get(Pool.java:120)\n\
                 \t... 2 more";
    let events = ["2026-11-30 10:00:00 INFO started", trace, "2026-11-30 10:00:02 INFO next request"];
    append(&logs.join("app.log"), events.iter().map(|e| e.to_string()));
    let inputs = format!(
        "[[input]]\nname = \"java\"\npaths = [\"{}/app.log\"]\nmultiline = {{ pattern = '^\\d{{4}}-\\d{{2}}-\\d{{2}} ', negate = true }}\n",
        logs.display()
    );
    let agent = start_agent(tmp.path(), port, metrics, "", &inputs);
    // The last event is complete once the file stays quiet: the agent does not know more
    // lines will not follow.
    wait_until("three records", || stored(&data) == 3);
    assert_eq!(agent.terminate().code(), Some(0));
    let texts: Vec<String> = records(&data).into_iter().map(|r| r.1).collect();
    assert_eq!(texts, events);
}

/// `--once` ships what the file holds now, its last line without a newline included
/// (it used to report everything shipped and leave that line out).
#[test]
fn once_ships_a_last_line_without_its_newline() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, logs) = (tmp.path().join("data"), tmp.path().join("logs"));
    std::fs::create_dir_all(&logs).unwrap();
    let port = free_port();
    let _server = start_server_logged(&data, port, &tmp.path().join("server.log"));
    std::fs::write(logs.join("app.log"), "first\nsecond\nno newline yet").unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_modsynclog-agent"))
        .args(["--server", &format!("127.0.0.1:{port}"), "--agent-id", "test-agent", "--once", "--path"])
        .arg(logs.join("*.log"))
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    let texts: Vec<String> = records(&data).into_iter().map(|r| r.1).collect();
    assert_eq!(texts, ["first", "second", "no newline yet"]);
}
