//! `modsynclog-bench kafka`: the Kafka bridge's rates beside Kafka's own tools, in the same
//! run, against one local broker (`scripts/kafka.sh`).
//!
//! For each record size: a store of `--records` records is written (fsync batch), then
//! exported into a fresh 3-partition topic by an [`Exporter`] in this process, timed from
//! its start until the topic's high watermarks sum to the count (every record
//! acknowledged by the broker, `acks=all`, idempotent). Then
//! `org.apache.kafka.tools.ProducerPerformance` sends as many records of the same size
//! into another fresh topic with the same producer settings (`acks=all`,
//! `enable.idempotence=true`, `linger.ms=5`), and its records/s line is quoted.
//!
//! Then that topic is read twice: imported into an in-process server's store
//! (`--fsync batch`: every record durable before its offset counts as stored), timed from
//! the partitions' assignment until every record is stored; and read by
//! `org.apache.kafka.tools.ConsumerPerformance`, whose `fetch.nMsg.sec` (the rate after
//! joining the group) is quoted.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use modsynclog_core::{Date, NewRecord, Store, StoreOptions};
use modsynclog_kafka::export::{ExportConfig, Exporter};
use modsynclog_kafka::testing::{Broker, script};

use crate::kafka_import_bench as import;

const PARTITIONS: i32 = 3;

#[derive(Args, Debug, Clone)]
pub struct KafkaArgs {
    /// Records per size.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Record sizes in bytes, one run each.
    #[arg(long, default_value = "100,4096", value_delimiter = ',')]
    pub sizes: Vec<usize>,
}

pub fn run(args: &KafkaArgs) -> Result<()> {
    let broker = Broker::start();
    let mut rows = Vec::new();
    for &size in &args.sizes {
        let records = if size >= 1024 { args.records / 5 } else { args.records };
        let export = export_rate(&broker, size, records)?;
        let tool = producer_tool_rate(&broker, size, records)?;
        let import = import::import_rate(&broker, &format!("tool-{size}"), records)?;
        let consumer = import::consumer_tool_rate(&broker, &format!("tool-{size}"), records)?;
        rows.push((size, records, export, tool, import, consumer));
    }
    println!("| record size | records | kafka export (store -> topic) | ProducerPerformance | export / tool |");
    println!("|---:|---:|---:|---:|---:|");
    for (size, records, export, tool, _, _) in &rows {
        println!("| {size} B | {records} | {export:.0} rec/s | {tool:.0} rec/s | {:.0}% |", export / tool * 100.0);
    }
    println!();
    println!(
        "| record size | records | kafka import (topic -> store, fsync batch) | ConsumerPerformance | import / tool |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for (size, records, _, _, import, consumer) in &rows {
        println!(
            "| {size} B | {records} | {import:.0} rec/s | {consumer:.0} rec/s | {:.0}% |",
            import / consumer * 100.0
        );
    }
    Ok(())
}

fn export_rate(broker: &Broker, size: usize, records: u64) -> Result<f64> {
    let topic = format!("export-{size}");
    broker.topic(&topic, PARTITIONS);
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path(), StoreOptions::default())?;
    let date = Date::parse("2026-11-29")?;
    let payload = vec![b'x'; size];
    let batch: Vec<NewRecord<'_>> = (0..1000).map(|i| NewRecord { time: 0, ty: i % 7, data: &payload }).collect();
    for _ in 0..records / 1000 {
        store.append(date, &batch)?;
    }
    drop(store);
    let total = (records / 1000 * 1000) as i64;
    let exporter = Exporter::new(ExportConfig::new(broker.bootstrap(), &topic), dir.path())?;
    let stopper = exporter.stopper();
    let started = Instant::now();
    let run = std::thread::spawn(move || exporter.run());
    let deadline = started + Duration::from_secs(600);
    loop {
        let n = broker.held(&topic, PARTITIONS);
        if n >= total {
            break;
        }
        let failed = if run.is_finished() {
            Some("the exporter ended early".to_string())
        } else {
            (Instant::now() > deadline).then(|| format!("{n} of {total} exported after 600 s"))
        };
        if let Some(err) = failed {
            stopper.stop();
            bail!("{err}; the exporter returned {:?}", run.join());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let secs = started.elapsed().as_secs_f64();
    stopper.stop();
    run.join().map_err(|_| anyhow::anyhow!("the exporter panicked"))??;
    Ok(total as f64 / secs)
}

fn producer_tool_rate(broker: &Broker, size: usize, records: u64) -> Result<f64> {
    let topic = format!("tool-{size}");
    broker.topic(&topic, PARTITIONS);
    let out = Command::new("bash")
        .arg(script())
        .args(["run", "org.apache.kafka.tools.ProducerPerformance", "--topic", &topic])
        .args(["--num-records", &records.to_string(), "--record-size", &size.to_string(), "--throughput", "-1"])
        .args(["--producer-props", &format!("bootstrap.servers={}", broker.bootstrap())])
        .args(["acks=all", "enable.idempotence=true", "linger.ms=5"])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // The last line: "N records sent, R records/sec (...), ...".
    let last = text.lines().rfind(|l| l.contains("records sent")).context("no summary from ProducerPerformance")?;
    let rate = last.split(", ").nth(1).and_then(|f| f.split_whitespace().next()).context("no records/sec")?;
    Ok(rate.parse()?)
}
