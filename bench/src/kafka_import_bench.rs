//! The import half of `modsynclog-bench kafka`: a topic into an in-process server's store,
//! beside `ConsumerPerformance` reading the same topic.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use modsynclog_core::Durability;
use modsynclog_core::server::{self, ServerConfig};
use modsynclog_kafka::import::{self, ImportConfig, TypeFrom};
use modsynclog_kafka::testing::{Broker, script};

/// Records/s of an import of `topic` (holding `records` messages) into a fresh store
/// under `--fsync batch`, from the assignment of its partitions until all are stored.
pub fn import_rate(broker: &Broker, topic: &str, records: u64) -> Result<f64> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let running = rt.block_on(server::start(ServerConfig {
        data_dir: dir.path().to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse()?,
        durability: Durability::Batch,
        ..ServerConfig::default()
    }))?;
    let config = ImportConfig::new(
        "bench",
        broker.bootstrap(),
        vec![topic.to_string()],
        format!("bench-import-{topic}"),
        TypeFrom::Fixed(1),
        dir.path().join("dead"),
    );
    let handle = import::start(config, running.writer(), rt.handle().clone())?;
    let figures = handle.figures();
    let deadline = Instant::now() + Duration::from_secs(600);
    while figures.partitions().is_empty() {
        if Instant::now() > deadline {
            bail!("the import got no partition in 600 s");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let started = Instant::now();
    while figures.records.load(Ordering::SeqCst) < records {
        if Instant::now() > deadline {
            bail!("{} of {records} imported after 600 s", figures.records.load(Ordering::SeqCst));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let secs = started.elapsed().as_secs_f64();
    handle.stop();
    handle.join()?;
    rt.block_on(running.shutdown())?;
    Ok(records as f64 / secs)
}

/// `fetch.nMsg.sec` of `ConsumerPerformance` reading `records` messages of `topic`.
pub fn consumer_tool_rate(broker: &Broker, topic: &str, records: u64) -> Result<f64> {
    let out = Command::new("bash")
        .arg(script())
        .args(["run", "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", broker.bootstrap()])
        .args(["--topic", topic, "--messages", &records.to_string(), "--group", &format!("bench-tool-{topic}")])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // A header line of names, then one line of figures, both comma-separated.
    let mut lines = text.lines().filter(|l| l.contains(','));
    let header = lines.find(|l| l.contains("fetch.nMsg.sec")).context("no header from ConsumerPerformance")?;
    let values = lines.next().context("no figures from ConsumerPerformance")?;
    let column = header.split(',').position(|c| c.trim() == "fetch.nMsg.sec").context("no fetch.nMsg.sec")?;
    let value = values.split(',').nth(column).context("a short line")?;
    Ok(value.trim().parse()?)
}
