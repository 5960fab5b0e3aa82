//! The log agent with the real binaries: a writer appends numbered lines to `app.log`
//! (renamed away and created again every `ROTATE` lines, like logrotate's default) and to
//! `b.log` (copied and truncated every `ROTATE` lines, like `copytruncate`), while the
//! agent is killed with SIGKILL five times and the server twice, each restarted on the
//! same folders. Every line must then be stored exactly once, in order per file.
//!
//! `MSL_AGENT_LINES` sets the lines per file (CI: 100,000; by hand: 1,000,000), and
//! `MSL_AGENT_RATE` the lines per second the writer appends to each (default 0: full
//! speed, about 1,500,000 lines/s here, faster than the agent ships them, so the files
//! are rotated several times while it is behind or down; 50,000 spreads the crashes over
//! the writing). Copy-truncate loses what is written between the copy and the
//! truncation, so the writer pauses across it, as an application does not, and
//! logrotate's `copytruncate` documents. The run, by hand:
//! `MSL_AGENT_LINES=1000000 cargo test -p modsynclog-server --test agent`.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Proc, free_port, start_server_logged, stored};
use modsynclog_core::Reader;

fn lines_per_file() -> u64 {
    std::env::var("MSL_AGENT_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

/// The agent's config file: one input of `app.log` and `b.log` in `logs`, type 7.
fn agent_config(dir: &Path, port: u16, state: &Path, logs: &Path) -> PathBuf {
    let config = dir.join("agent.toml");
    let text = format!(
        "server = \"127.0.0.1:{port}\"\nagent_id = \"test-agent\"\nstate_dir = \"{}\"\n\
         [[input]]\nname = \"app\"\npaths = [\"{}/app.log\", \"{}/b.log\"]\ntype = 7\n",
        state.display(),
        logs.display(),
        logs.display()
    );
    std::fs::write(&config, text).unwrap();
    config
}

fn start_agent(config: &Path, log: &Path) -> Proc {
    Proc::start_logged(env!("CARGO_BIN_EXE_modsynclog-agent"), &["--config", config.to_str().unwrap()], log)
}

/// Waits until the store holds more than `n` records (the agent and server made progress).
fn wait_stored_past(dir: &Path, n: u64, what: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = stored(dir);
        if now > n {
            return now;
        }
        assert!(Instant::now() < deadline, "{what}: the store stayed at {now} records for 120 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Lines per second, `f64::INFINITY` for full speed.
fn lines_per_second() -> f64 {
    match std::env::var("MSL_AGENT_RATE").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) {
        0 => f64::INFINITY,
        rate => rate as f64,
    }
}

fn line(file: &str, i: u64) -> String {
    format!("{file} {i:08} {}", "x".repeat((i % 70) as usize))
}

/// Appends lines `from..total` to `app.log` (renamed to `app.log.N` and created again every
/// `rotate` lines) and to `b.log` (copied to `b.log.N` and truncated every `rotate` lines).
fn write_logs(dir: PathBuf, from: u64, total: u64, rotate: u64, written: Arc<AtomicU64>, done: Arc<AtomicBool>) {
    let open = |name: &str| std::fs::OpenOptions::new().create(true).append(true).open(dir.join(name)).unwrap();
    let (mut app, mut b) = (std::io::BufWriter::new(open("app.log")), std::io::BufWriter::new(open("b.log")));
    let (start, rate) = (Instant::now(), lines_per_second());
    for i in from..total {
        if i % 1000 == 0 {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        writeln!(app, "{}", line("app", i)).unwrap();
        writeln!(b, "{}", line("b", i)).unwrap();
        if i % 1000 == 999 {
            app.flush().unwrap();
            b.flush().unwrap();
            written.store(i + 1, Ordering::SeqCst);
        }
        if i % rotate == rotate - 1 {
            let n = i / rotate;
            app.flush().unwrap();
            std::fs::rename(dir.join("app.log"), dir.join(format!("app.log.{n}"))).unwrap();
            app = std::io::BufWriter::new(open("app.log"));
            b.flush().unwrap();
            std::fs::copy(dir.join("b.log"), dir.join(format!("b.log.{n}"))).unwrap();
            b.get_ref().set_len(0).unwrap();
        }
    }
    app.flush().unwrap();
    b.flush().unwrap();
    written.store(total, Ordering::SeqCst);
    done.store(true, Ordering::SeqCst);
}

/// Crashes that fall while files are rotated under full load: the rename rotations and
/// copy-truncates go on while the agent is down, or behind, or the server away, and each
/// file's generations are still shipped exactly once, in order.
#[test]
fn rotations_and_kill9_of_agent_and_server_lose_nothing_and_double_nothing() {
    let total = lines_per_file();
    let rotate = (total / 10).max(1);
    let tmp = tempfile::tempdir().unwrap();
    let (data, logs, state) = (tmp.path().join("data"), tmp.path().join("logs"), tmp.path().join("state"));
    std::fs::create_dir_all(&logs).unwrap();
    let port = free_port();
    let config = agent_config(tmp.path(), port, &state, &logs);
    let log = |name: &str| tmp.path().join(name);

    let mut server = start_server_logged(&data, port, &log("server-0.log"));
    let mut agent = start_agent(&config, &log("agent-0.log"));
    // The agent follows both files (their first lines are stored) before the writer goes
    // on: a file rotated away before the agent ever saw anything at its path is not one
    // it was asked to ship.
    for file in ["app", "b"] {
        std::fs::write(logs.join(format!("{file}.log")), line(file, 0) + "\n").unwrap();
    }
    wait_stored_past(&data, 1, "the first lines");
    let (written, done) = (Arc::new(AtomicU64::new(1)), Arc::new(AtomicBool::new(false)));
    let writer = std::thread::spawn({
        let (logs, written, done) = (logs.clone(), written.clone(), done.clone());
        move || write_logs(logs, 1, total, rotate, written, done)
    });

    // Crash points: spread over the writer's run, each once the store grew past where the
    // last one left it.
    let mut at = 0;
    for k in 1..=7 {
        let deadline = Instant::now() + Duration::from_secs(120);
        while written.load(Ordering::SeqCst) < k * total / 8 {
            assert!(Instant::now() < deadline, "the writer stalled");
            std::thread::sleep(Duration::from_millis(5));
        }
        at = wait_stored_past(&data, at, &format!("before crash {k}"));
        if k == 3 || k == 6 {
            server.kill9();
            server = start_server_logged(&data, port, &log(&format!("server-{k}.log")));
        } else {
            agent.kill9();
            agent = start_agent(&config, &log(&format!("agent-{k}.log")));
        }
    }
    writer.join().unwrap();
    assert!(done.load(Ordering::SeqCst));

    // Everything written is shipped (the store grows until then); then exactly once, in
    // order per file.
    let (mut last, mut since) = (stored(&data), Instant::now());
    while last < 2 * total {
        std::thread::sleep(Duration::from_millis(50));
        let now = stored(&data);
        if now > last {
            (last, since) = (now, Instant::now());
        }
        assert!(since.elapsed() < Duration::from_secs(20), "{last} of {} lines stored, none for 20 s", 2 * total);
    }
    assert_eq!(agent.terminate().code(), Some(0), "the agent stops cleanly on SIGTERM");
    drop(server);
    let mut next: HashMap<String, u64> = HashMap::new();
    let mut count = 0u64;
    for r in Reader::open(&data).unwrap() {
        let r = r.unwrap();
        let text = String::from_utf8(r.data.to_vec()).unwrap();
        let mut parts = text.splitn(3, ' ');
        let (file, i) = (parts.next().unwrap().to_string(), parts.next().unwrap().parse::<u64>().unwrap());
        assert_eq!(text, line(&file, i), "record {} {}", r.date, r.id);
        assert_eq!(r.ty, 7);
        let want = next.entry(file.clone()).or_insert(0);
        assert_eq!(i, *want, "{file}: line {i} where {want} was next (lost or doubled)");
        *want += 1;
        count += 1;
    }
    assert_eq!(count, 2 * total);
    assert_eq!((next["app"], next["b"]), (total, total));
}

/// Every line of `app` and `b` in the store exactly once, in order, `total` of each.
fn check_exactly_once(data: &Path, total: u64) {
    let mut next: HashMap<String, u64> = HashMap::new();
    for r in Reader::open(data).unwrap() {
        let r = r.unwrap();
        let text = String::from_utf8(r.data.to_vec()).unwrap();
        let mut parts = text.splitn(3, ' ');
        let (file, i) = (parts.next().unwrap().to_string(), parts.next().unwrap().parse::<u64>().unwrap());
        assert_eq!(text, line(&file, i), "record {} {}", r.date, r.id);
        let want = next.entry(file.clone()).or_insert(0);
        assert_eq!(i, *want, "{file}: line {i} where {want} was next (lost or doubled)");
        *want += 1;
    }
    assert_eq!((next.get("app").copied(), next.get("b").copied()), (Some(total), Some(total)));
}

/// Waits until the store holds exactly `n` records (and no more come).
fn wait_stored(dir: &Path, n: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored(dir) < n {
        assert!(Instant::now() < deadline, "{what}: {} of {n} records after 60 s", stored(dir));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(stored(dir), n, "{what}: more records than lines written");
}

/// The same rotations and crashes, each at a point where the agent has shipped what was
/// written: a rename-and-create and a copy-truncate while the agent is down, the agent
/// and the server killed with SIGKILL, both resumed (checkpoints and the server's table).
#[test]
fn rotations_while_the_agent_is_down_and_kill9_resume_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, logs, state) = (tmp.path().join("data"), tmp.path().join("logs"), tmp.path().join("state"));
    std::fs::create_dir_all(&logs).unwrap();
    let port = free_port();
    let config = agent_config(tmp.path(), port, &state, &logs);
    let log = |name: &str| tmp.path().join(name);
    let append = |name: &str, file: &str, from: u64, to: u64| {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(logs.join(name)).unwrap();
        let text: String = (from..to).map(|i| line(file, i) + "\n").collect();
        f.write_all(text.as_bytes()).unwrap();
    };
    let chunk = 20_000;
    let mut server = start_server_logged(&data, port, &log("server-0.log"));
    append("app.log", "app", 0, chunk);
    append("b.log", "b", 0, chunk);
    let mut agent = start_agent(&config, &log("agent-0.log"));
    wait_stored(&data, 2 * chunk, "first chunk");

    // Down: app.log renamed away and created again, b.log copied and truncated, both
    // written on; the agent finds the renamed file by its inode, the rest of b in its copy.
    agent.kill9();
    append("app.log", "app", chunk, 2 * chunk);
    append("b.log", "b", chunk, 2 * chunk);
    std::fs::rename(logs.join("app.log"), logs.join("app.log.1")).unwrap();
    std::fs::copy(logs.join("b.log"), logs.join("b.log.1")).unwrap();
    std::fs::OpenOptions::new().write(true).open(logs.join("b.log")).unwrap().set_len(0).unwrap();
    append("app.log", "app", 2 * chunk, 3 * chunk);
    append("b.log", "b", 2 * chunk, 3 * chunk);
    agent = start_agent(&config, &log("agent-1.log"));
    wait_stored(&data, 6 * chunk, "after the rotations");

    // The server killed and restarted while lines come; then the agent killed while
    // its checkpoints lag the server (they are written once a second).
    server.kill9();
    append("app.log", "app", 3 * chunk, 4 * chunk);
    append("b.log", "b", 3 * chunk, 4 * chunk);
    server = start_server_logged(&data, port, &log("server-1.log"));
    wait_stored(&data, 8 * chunk, "after the server's restart");
    append("app.log", "app", 4 * chunk, 5 * chunk);
    append("b.log", "b", 4 * chunk, 5 * chunk);
    wait_stored_past(&data, 8 * chunk, "the fifth chunk begins");
    agent.kill9();
    agent = start_agent(&config, &log("agent-2.log"));
    wait_stored(&data, 10 * chunk, "after the agent's restart");

    // Its signal handlers are in place once it says it starts.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(log("agent-2.log")).unwrap_or_default().contains("starting modsynclog-agent") {
        assert!(Instant::now() < deadline, "the agent did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(agent.terminate().code(), Some(0), "the agent stops cleanly on SIGTERM");
    drop(server);
    check_exactly_once(&data, 5 * chunk);
}
