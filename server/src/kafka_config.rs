//! The Kafka bridge in the server's configuration: `[[kafka.import]]` and
//! `[[kafka.export]]` sections of the TOML file, and flags for one import and one export.
//!
//! ```toml
//! [[kafka.import]]
//! brokers = "10.0.0.5:9092"
//! topics = ["orders", "payments"]
//! group = "modsynclog"            # default "modsynclog"
//! type = 7                        # or type_header = "msl-type"; default type 0
//! # name = "orders"               # default: the topics joined with "+"
//! # day = "timestamp"             # file under the message timestamp's day; default "arrival"
//! # dead_letter_dir = "/var/log/msl-dead"   # default <data_dir>/.modsynclog/kafka-dead-letter/<name>
//! # prefetch_bytes = "64MiB"
//! # consumer = { "security.protocol" = "ssl" }
//!
//! [[kafka.export]]
//! brokers = "10.0.0.5:9092"
//! topic = "modsynclog"
//! # from = "2026-11-01"
//! # buffer_bytes = "64MiB"
//! # producer = { "compression.type" = "lz4" }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use modsynclog_core::Date;
use modsynclog_core::server::dedup::STATE_DIR;
use modsynclog_kafka::export::ExportConfig;
use modsynclog_kafka::import::{FileBy, ImportConfig, TypeFrom};
use serde::Deserialize;

use crate::config::parse_bytes;

/// Flags for one import and one export (more go in the config file).
#[derive(Debug, Default, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers (HOST:PORT[,HOST:PORT...]) of the import and export below.
    #[arg(long, env = "MODSYNCLOG_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Import these topics (comma-separated) into the store, exactly once: each partition's
    /// offset is journaled with its records. More imports: [[kafka.import]] in --config.
    #[arg(long, env = "MODSYNCLOG_KAFKA_IMPORT_TOPICS")]
    pub kafka_import_topics: Option<String>,
    /// Consumer group of the import. [default: modsynclog]
    #[arg(long, env = "MODSYNCLOG_KAFKA_IMPORT_GROUP")]
    pub kafka_import_group: Option<String>,
    /// Record type of imported messages: a number (-32768..32767), or `header:NAME` to read
    /// it from that message header as decimal text (`header:msl-type` for messages a
    /// modsynclog export wrote). [default: 0]
    #[arg(long, env = "MODSYNCLOG_KAFKA_IMPORT_TYPE", value_parser = parse_type)]
    pub kafka_import_type: Option<TypeFrom>,
    /// Day each imported record is filed under: `arrival` (when stored) or `timestamp`
    /// (its message timestamp's day, while that day is open: see --finish-grace; a
    /// message of a finished day is filed on arrival and counted). [default: arrival]
    #[arg(long, env = "MODSYNCLOG_KAFKA_IMPORT_DAY", value_parser = parse_day)]
    pub kafka_import_day: Option<FileBy>,
    /// A librdkafka consumer setting of the import, KEY=VALUE (repeatable): for example
    /// security.protocol=ssl, or group.instance.id=NAME (static membership: a restarted
    /// server takes its partitions back at once instead of after session.timeout.ms).
    #[arg(long = "kafka-import-config", value_parser = key_value)]
    pub kafka_import_config: Vec<(String, String)>,
    /// Export the store into this topic (create it first; never change its partition count).
    #[arg(long, env = "MODSYNCLOG_KAFKA_EXPORT_TOPIC")]
    pub kafka_export_topic: Option<String>,
    /// First day the export sends (YYYY-MM-DD) when the topic holds nothing of this store.
    /// [default: the earliest day]
    #[arg(long, env = "MODSYNCLOG_KAFKA_EXPORT_FROM")]
    pub kafka_export_from: Option<Date>,
    /// A librdkafka producer setting of the export, KEY=VALUE (repeatable), for example
    /// compression.type=lz4.
    #[arg(long = "kafka-export-config", value_parser = key_value)]
    pub kafka_export_config: Vec<(String, String)>,
}

/// `KEY=VALUE`.
pub fn key_value(s: &str) -> Result<(String, String)> {
    let (k, v) = s.split_once('=').ok_or_else(|| anyhow!("expected KEY=VALUE, got {s:?}"))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

/// `7`, `-2` or `header:msl-type`.
pub fn parse_type(s: &str) -> std::result::Result<TypeFrom, String> {
    match s.strip_prefix("header:") {
        Some(name) if !name.is_empty() => Ok(TypeFrom::Header(name.to_string())),
        Some(_) => Err("header: needs a header name, like header:msl-type".into()),
        None => s
            .parse()
            .map(TypeFrom::Fixed)
            .map_err(|_| format!("{s:?}: expected a record type (-32768..32767) or header:NAME")),
    }
}

/// `arrival` or `timestamp`.
pub fn parse_day(s: &str) -> std::result::Result<FileBy, String> {
    match s {
        "arrival" => Ok(FileBy::Arrival),
        "timestamp" => Ok(FileBy::Timestamp),
        _ => Err(format!("{s:?}: expected `arrival` or `timestamp`")),
    }
}

/// The `[kafka]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KafkaFile {
    #[serde(default)]
    import: Vec<ImportSection>,
    #[serde(default)]
    export: Vec<ExportSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportSection {
    name: Option<String>,
    brokers: String,
    topics: Vec<String>,
    group: Option<String>,
    #[serde(rename = "type")]
    record_type: Option<i16>,
    type_header: Option<String>,
    day: Option<String>,
    dead_letter_dir: Option<PathBuf>,
    prefetch_bytes: Option<String>,
    #[serde(default)]
    consumer: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportSection {
    brokers: String,
    topic: String,
    from: Option<String>,
    buffer_bytes: Option<String>,
    #[serde(default)]
    producer: BTreeMap<String, String>,
}

/// Every import and export the server runs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    pub imports: Vec<ImportConfig>,
    pub exports: Vec<ExportConfig>,
}

impl KafkaSettings {
    pub fn is_empty(&self) -> bool {
        self.imports.is_empty() && self.exports.is_empty()
    }
}

/// The file's sections, then the flags' import and export.
pub(crate) fn settle(args: KafkaArgs, file: KafkaFile, data_dir: &Path) -> Result<KafkaSettings> {
    let mut out = KafkaSettings::default();
    for (i, s) in file.import.into_iter().enumerate() {
        let what = || format!("config file: kafka.import #{}", i + 1);
        let record_type = match (s.record_type, s.type_header) {
            (Some(_), Some(_)) => bail!("{}: give `type` or `type_header`, not both", what()),
            (_, Some(h)) => TypeFrom::Header(h),
            (ty, None) => TypeFrom::Fixed(ty.unwrap_or(0)),
        };
        let mut c = import(s.name, s.brokers, s.topics, s.group, record_type, data_dir);
        if let Some(day) = s.day {
            c.day = parse_day(&day).map_err(anyhow::Error::msg).with_context(what)?;
        }
        if let Some(dir) = s.dead_letter_dir {
            c.dead_letter_dir = dir;
        }
        if let Some(b) = s.prefetch_bytes {
            c.prefetch_bytes = parse_bytes(&b).map_err(anyhow::Error::msg).with_context(what)?;
        }
        c.consumer = s.consumer.into_iter().collect();
        out.imports.push(c);
    }
    for (i, s) in file.export.into_iter().enumerate() {
        let what = || format!("config file: kafka.export #{}", i + 1);
        let mut c = ExportConfig::new(s.brokers, s.topic);
        if let Some(from) = s.from {
            c.from = Some(Date::parse(&from).with_context(what)?);
        }
        if let Some(b) = s.buffer_bytes {
            c.buffer_bytes = parse_bytes(&b).map_err(anyhow::Error::msg).with_context(what)?;
        }
        c.producer = s.producer.into_iter().collect();
        out.exports.push(c);
    }
    let brokers =
        || args.kafka_brokers.clone().ok_or_else(|| anyhow!("--kafka-brokers is needed with the Kafka flags"));
    if let Some(topics) = &args.kafka_import_topics {
        let topics = topics.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
        let ty = args.kafka_import_type.clone().unwrap_or(TypeFrom::Fixed(0));
        let mut c = import(None, brokers()?, topics, args.kafka_import_group.clone(), ty, data_dir);
        c.consumer = args.kafka_import_config.clone();
        c.day = args.kafka_import_day.unwrap_or_default();
        out.imports.push(c);
    }
    if let Some(topic) = &args.kafka_export_topic {
        let mut c = ExportConfig::new(brokers()?, topic.clone());
        c.from = args.kafka_export_from;
        c.producer = args.kafka_export_config.clone();
        out.exports.push(c);
    }
    check(&out)?;
    Ok(out)
}

fn import(
    name: Option<String>,
    brokers: String,
    topics: Vec<String>,
    group: Option<String>,
    record_type: TypeFrom,
    data_dir: &Path,
) -> ImportConfig {
    let name = name.unwrap_or_else(|| topics.join("+"));
    let dead = data_dir.join(STATE_DIR).join("kafka-dead-letter").join(&name);
    ImportConfig::new(name, brokers, topics, group.unwrap_or_else(|| "modsynclog".into()), record_type, dead)
}

/// Names (metric labels, dead-letter folders) and export topics must not repeat: two
/// exports into one topic would interleave.
fn check(s: &KafkaSettings) -> Result<()> {
    for (i, a) in s.imports.iter().enumerate() {
        if a.topics.is_empty() || a.brokers.is_empty() {
            bail!("kafka import {:?}: needs brokers and at least one topic", a.name);
        }
        if s.imports[..i].iter().any(|b| b.name == a.name) {
            bail!("two kafka imports are named {:?}: give each a distinct `name`", a.name);
        }
    }
    for (i, a) in s.exports.iter().enumerate() {
        if s.exports[..i].iter().any(|b| b.topic == a.topic && b.brokers == a.brokers) {
            bail!("two kafka exports into topic {:?}: one exporter per topic", a.topic);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<KafkaSettings> {
        #[derive(Deserialize)]
        struct Top {
            kafka: KafkaFile,
        }
        let top: Top = toml::from_str(toml_text)?;
        settle(KafkaArgs::default(), top.kafka, Path::new("/srv/log"))
    }

    #[test]
    fn sections_and_flags() {
        let s = parse(
            "[[kafka.import]]\nbrokers = \"b:9092\"\ntopics = [\"a\", \"b\"]\ntype_header = \"msl-type\"\n\
             consumer = { \"auto.offset.reset\" = \"latest\" }\n\
             [[kafka.import]]\nname = \"c\"\nbrokers = \"b:9092\"\ntopics = [\"c\"]\ntype = 7\ngroup = \"g\"\n\
             day = \"timestamp\"\n\
             [[kafka.export]]\nbrokers = \"b:9092\"\ntopic = \"out\"\nfrom = \"2026-11-01\"\n",
        )
        .unwrap();
        let (a, c) = (&s.imports[0], &s.imports[1]);
        assert_eq!((a.name.as_str(), a.group.as_str()), ("a+b", "modsynclog"));
        assert_eq!(a.record_type, TypeFrom::Header("msl-type".into()));
        assert_eq!(a.dead_letter_dir, Path::new("/srv/log/.modsynclog/kafka-dead-letter/a+b"));
        assert_eq!(a.consumer, vec![("auto.offset.reset".to_string(), "latest".to_string())]);
        assert_eq!((c.record_type.clone(), c.group.as_str()), (TypeFrom::Fixed(7), "g"));
        assert_eq!((a.day, c.day), (FileBy::Arrival, FileBy::Timestamp));
        assert_eq!(s.exports[0].from, Some(Date::parse("2026-11-01").unwrap()));

        let args = KafkaArgs {
            kafka_brokers: Some("k:1".into()),
            kafka_import_topics: Some("x, y".into()),
            kafka_import_type: Some(parse_type("header:t").unwrap()),
            kafka_import_day: Some(parse_day("timestamp").unwrap()),
            kafka_export_topic: Some("z".into()),
            ..KafkaArgs::default()
        };
        let s = settle(args, KafkaFile::default(), Path::new("d")).unwrap();
        assert_eq!((s.imports[0].topics.clone(), s.imports[0].day), (vec!["x".into(), "y".into()], FileBy::Timestamp));
        assert_eq!((s.exports[0].topic.as_str(), s.exports[0].brokers.as_str()), ("z", "k:1"));
    }

    #[test]
    fn mistakes_are_named() {
        let dup = "[[kafka.import]]\nbrokers = \"b\"\ntopics = [\"a\"]\n[[kafka.import]]\nbrokers = \"b\"\ntopics = [\"a\"]\n";
        assert!(format!("{:#}", parse(dup).unwrap_err()).contains("distinct `name`"));
        let both = "[[kafka.import]]\nbrokers = \"b\"\ntopics = [\"a\"]\ntype = 1\ntype_header = \"h\"\n";
        assert!(format!("{:#}", parse(both).unwrap_err()).contains("not both"));
        assert!(parse("[[kafka.import]]\nbrokers = \"b\"\ntopic = \"a\"\n").is_err());
        let no_brokers = KafkaArgs { kafka_export_topic: Some("z".into()), ..KafkaArgs::default() };
        let err = settle(no_brokers, KafkaFile::default(), Path::new("d")).unwrap_err();
        assert!(err.to_string().contains("--kafka-brokers"), "{err}");
        assert!(parse_type("header:").is_err() && parse_type("70000").is_err());
        assert_eq!(parse_type("-3"), Ok(TypeFrom::Fixed(-3)));
    }
}
