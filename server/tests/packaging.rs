//! The packaging files (`packaging/`, `Dockerfile`) against the binaries' own parsers.
//!
//! - `packaging/server.toml` settles with the server's own loader (`ServerArgs::settle`,
//!   what `modsynclog-server --config` runs), as it stands and with each commented-out key
//!   switched on, so a misspelled key fails (the file's structs `deny_unknown_fields`, and
//!   [`misspelled_keys_are_refused`] checks that they still do);
//! - every option of the server (each `--flag` of `ServerArgs`, whose file key is the
//!   flag's name with underscores) and every key of the Kafka sections is in the sample;
//! - the flags in the systemd units, `packaging/replica.env` and the Dockerfile's
//!   ENTRYPOINT/CMD parse with the binaries' own clap definitions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{Args, Command, FromArgMatches};
use modsynclog_server::config::{ServerArgs, Settings};
use modsynclog_server::kafka_config::KafkaArgs;
use modsynclog_server::sync::SyncArgs;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn sample() -> String {
    read("packaging/server.toml")
}

/// Settles `text` as a `--config` file, exactly as `modsynclog-server --config FILE` does.
fn settle(text: &str) -> anyhow::Result<Settings> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("server.toml");
    std::fs::write(&path, text)?;
    ServerArgs { config: Some(path), ..Default::default() }.settle()
}

/// `# key = value` (a setting left commented out) as `key = value`.
fn commented_setting(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("# ")?;
    let (key, _) = rest.split_once(" = ")?;
    (!key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')).then_some(rest)
}

/// The key of a line that sets one, commented out or not.
fn key_of(line: &str) -> Option<&str> {
    let setting = commented_setting(line).unwrap_or(line);
    let (key, _) = setting.split_once(" = ")?;
    key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_').then_some(key)
}

/// The sample split at its first (commented) `[[kafka.` section: top-level keys, Kafka block.
fn split_sample(text: &str) -> (String, String) {
    let at = text.find("\n# [[kafka.").expect("the sample has commented [[kafka.import]]/[[kafka.export]] sections");
    (text[..at + 1].to_string(), text[at + 1..].to_string())
}

/// Top-level keys the sample shows, set or commented out.
fn top_level_keys(text: &str) -> BTreeSet<String> {
    let (top, _) = split_sample(text);
    top.lines().filter_map(key_of).map(str::to_string).collect()
}

/// The file key of each server flag (`--grpc-addr` -> `grpc_addr`), without `--config`
/// and the Kafka flags (their file form is the `[[kafka.*]]` sections); with `aliases`,
/// also the flags' other names (`--metrics-addr` for `--http-addr`).
fn server_option_keys(aliases: bool) -> BTreeSet<String> {
    let longs = |cmd: Command| -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for arg in cmd.get_arguments() {
            names.extend(arg.get_long().map(str::to_string));
            if aliases {
                names.extend(arg.get_all_aliases().unwrap_or_default().into_iter().map(str::to_string));
            }
        }
        names.into_iter().map(|l| l.replace('-', "_")).collect()
    };
    let all = longs(ServerArgs::augment_args(Command::new("modsynclog-server")));
    let kafka = longs(KafkaArgs::augment_args(Command::new("kafka")));
    all.into_iter().filter(|k| k != "config" && !kafka.contains(k)).collect()
}

#[test]
fn the_sample_config_settles_as_it_stands() {
    let s = settle(&sample()).unwrap_or_else(|e| panic!("packaging/server.toml: {e:#}"));
    // The units give the server /var/lib/modsynclog (StateDirectory=, ReadWritePaths=).
    assert_eq!(s.data_dir, Path::new("/var/lib/modsynclog"));
    assert!(s.kafka.is_empty(), "the sample's Kafka sections are commented out");
    assert_eq!(s.grpc_addr.to_string(), "127.0.0.1:1235", "the sample keeps the local-only default");
    // packaging/prometheus.yml scrapes the HTTP endpoint there.
    assert_eq!(s.http_addr.map(|a| a.to_string()).as_deref(), Some("127.0.0.1:8080"));
    let prometheus = read("packaging/prometheus.yml");
    assert!(prometheus.contains("targets: [\"127.0.0.1:8080\"]"), "prometheus.yml scrapes the sample's http_addr");
}

/// Each commented-out key, switched on alone, is a key of the file whose example value
/// settles; those that cannot settle alone fail for the reason given here, not a parse error.
#[test]
fn every_commented_key_settles_when_switched_on() {
    let (top, _) = split_sample(&sample());
    let expected_failure = |key: &str| -> Option<&str> {
        match key {
            "token_file" | "ingest_token_file" | "sync_token_file" => Some("read token file /etc/modsynclog/"),
            "tls_cert" | "tls_key" => Some("--tls-cert and --tls-key go together"),
            "tls_client_ca" => Some("--tls-client-ca needs TLS"),
            _ => None,
        }
    };
    let mut failures = Vec::new();
    let mut seen = 0;
    for line in top.lines() {
        let Some(setting) = commented_setting(line) else { continue };
        seen += 1;
        let key = key_of(line).unwrap();
        match (settle(setting), expected_failure(key)) {
            (Ok(_), None) => {}
            (Err(e), Some(why)) if format!("{e:#}").contains(why) => {}
            (Ok(_), Some(why)) => failures.push(format!("`{setting}` settled alone; expected an error with {why:?}")),
            (Err(e), _) => failures.push(format!("`{setting}`: {e:#}")),
        }
    }
    assert!(seen >= 30, "only {seen} commented-out settings found: has the sample's `# key = value` form changed?");
    // The pairs that need each other settle together.
    let tls = "tls_cert = \"/etc/c.pem\"\ntls_key = \"/etc/k.pem\"\ntls_client_ca = \"/etc/ca.pem\"\n";
    if let Err(e) = settle(tls) {
        failures.push(format!("the TLS keys together: {e:#}"));
    }
    assert!(failures.is_empty(), "packaging/server.toml:\n{}", failures.join("\n"));
}

/// The commented Kafka sections, uncommented as a whole, settle into two imports and one
/// export with the values shown.
#[test]
fn the_kafka_sections_settle_when_uncommented() {
    let (_, kafka) = split_sample(&sample());
    let block: String =
        kafka.lines().map(|l| l.strip_prefix("# ").unwrap_or(l)).map(|l| format!("{l}\n")).collect::<String>();
    let s = settle(&block).unwrap_or_else(|e| panic!("the Kafka sections of packaging/server.toml: {e:#}\n{block}"));
    let names: Vec<_> = s.kafka.imports.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["orders", "mirror"]);
    assert_eq!(s.kafka.exports.len(), 1);
    assert_eq!(s.kafka.exports[0].topic, "modsynclog");
}

#[test]
fn every_server_option_is_in_the_sample() {
    let text = sample();
    let shown = top_level_keys(&text);
    let missing: Vec<_> = server_option_keys(false).into_iter().filter(|k| !shown.contains(k)).collect();
    assert!(missing.is_empty(), "server options missing from packaging/server.toml: {missing:?}");
    // The reverse is what deny_unknown_fields checks in the tests above; this names it plainly.
    let options = server_option_keys(true);
    let unknown: Vec<_> = shown.difference(&options).collect();
    assert!(unknown.is_empty(), "packaging/server.toml shows keys the server has no flag for: {unknown:?}");
    // The Kafka sections' keys (ImportSection and ExportSection in kafka_config.rs are
    // private, so this list is kept by hand: add a key here when one is added there).
    let (_, kafka) = split_sample(&text);
    let kafka_keys: BTreeSet<_> = kafka.lines().filter_map(key_of).collect();
    let import = ["name", "brokers", "topics", "group", "type", "type_header", "day", "dead_letter_dir"];
    let more = ["prefetch_bytes", "consumer", "topic", "from", "buffer_bytes", "producer"];
    let missing: Vec<_> = import.iter().chain(&more).filter(|k| !kafka_keys.contains(*k)).collect();
    assert!(missing.is_empty(), "Kafka keys missing from packaging/server.toml: {missing:?}");
}

/// What makes the tests above meaningful: an unknown key is an error, at the top level
/// and in the Kafka sections.
#[test]
fn misspelled_keys_are_refused() {
    let e = settle("data_dri = \"/srv\"\n").unwrap_err();
    assert!(format!("{e:#}").contains("unknown field `data_dri`"), "{e:#}");
    let e = settle("[[kafka.import]]\nbrokers = \"b:9092\"\ntopics = [\"t\"]\ngroupe = \"g\"\n").unwrap_err();
    assert!(format!("{e:#}").contains("unknown field `groupe`"), "{e:#}");
    let e = settle("[[kafka.export]]\nbrokers = \"b:9092\"\ntopic = \"t\"\nbuffer = \"1MiB\"\n").unwrap_err();
    assert!(format!("{e:#}").contains("unknown field `buffer`"), "{e:#}");
}

/// The words of `ExecStart=` in a unit file (without the binary).
fn exec_start(unit: &str) -> Vec<String> {
    let text = read(unit);
    let line =
        text.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap_or_else(|| panic!("{unit}: no ExecStart"));
    line.split_whitespace().skip(1).map(str::to_string).collect()
}

fn parse_server_flags(words: &[String]) -> Result<ServerArgs, clap::Error> {
    let cmd = ServerArgs::augment_args(Command::new("modsynclog-server").no_binary_name(true));
    ServerArgs::from_arg_matches(&cmd.try_get_matches_from(words)?)
}

fn parse_sync_flags(words: &[String]) -> Result<SyncArgs, clap::Error> {
    let cmd = SyncArgs::augment_args(Command::new("sync").no_binary_name(true));
    SyncArgs::from_arg_matches(&cmd.try_get_matches_from(words)?)
}

#[test]
fn the_units_flags_parse() {
    let words = exec_start("packaging/systemd/modsynclog-server.service");
    let args = parse_server_flags(&words).unwrap_or_else(|e| panic!("modsynclog-server.service: {e}"));
    assert_eq!(args.config.as_deref(), Some(Path::new("/etc/modsynclog/server.toml")));
    let unit = read("packaging/systemd/modsynclog-server.service");
    assert!(unit.lines().any(|l| l == "ReadWritePaths=/var/lib/modsynclog"), "the store must be writable");

    // The replica: `sync --dir ... $SYNC_ARGS`, --server from MODSYNCLOG_SERVER in replica.env.
    let env = read("packaging/replica.env");
    let value = |key: &str| -> Option<String> {
        env.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).map(|v| v.trim_matches('"').to_string())
    };
    let server = value("MODSYNCLOG_SERVER").expect("replica.env sets MODSYNCLOG_SERVER");
    let sync_args = value("SYNC_ARGS").unwrap_or_default();
    for unit in ["packaging/systemd/modsynclog-replica.service", "packaging/systemd/modsynclog-replica@.service"] {
        let mut words = exec_start(unit);
        assert_eq!(words.first().map(String::as_str), Some("sync"), "{unit}");
        words.remove(0);
        let at = words.iter().position(|w| w == "$SYNC_ARGS").unwrap_or_else(|| panic!("{unit}: $SYNC_ARGS"));
        words.splice(at..=at, sync_args.split_whitespace().map(str::to_string));
        words.extend(["--server".to_string(), server.clone()]);
        let args = parse_sync_flags(&words).unwrap_or_else(|e| panic!("{unit} with replica.env: {e}"));
        assert!(args.dir.starts_with("/var/lib/modsynclog-replica"), "{unit}: {}", args.dir.display());
    }

    // Each MODSYNCLOG_* variable replica.env shows (set or commented out) is one the client
    // reads: those of `sync`, and the global --log-format's (defined in the binary's own Cli,
    // out of reach here).
    let cmd = SyncArgs::augment_args(Command::new("sync"));
    let mut known: BTreeSet<String> =
        cmd.get_arguments().filter_map(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned()).collect();
    known.insert("MODSYNCLOG_LOG_FORMAT".into());
    let shown: BTreeSet<String> = env
        .lines()
        .map(|l| l.trim_start_matches('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .filter(|k| k.starts_with("MODSYNCLOG_"))
        .map(str::to_string)
        .collect();
    let unknown: Vec<_> = shown.difference(&known).collect();
    assert!(unknown.is_empty(), "replica.env sets variables `modsynclog-client sync` does not read: {unknown:?}");
    assert!(shown.contains("MODSYNCLOG_SERVER") && shown.contains("MODSYNCLOG_TOKEN_FILE"));
}

#[test]
fn the_dockerfile_entrypoint_parses() {
    let text = read("Dockerfile");
    let json = |prefix: &str| -> Vec<String> {
        let line = text.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("Dockerfile: {prefix}"));
        serde_json::from_str(line).unwrap_or_else(|e| panic!("Dockerfile {prefix}{line}: {e}"))
    };
    let entrypoint = json("ENTRYPOINT ");
    assert_eq!(entrypoint.first().map(String::as_str), Some("/usr/local/bin/modsynclog-server"));
    let words: Vec<String> = entrypoint[1..].iter().chain(&json("CMD ")).cloned().collect();
    let args = parse_server_flags(&words).unwrap_or_else(|e| panic!("Dockerfile ENTRYPOINT + CMD: {e}"));
    assert_eq!(args.data_dir.as_deref(), Some(Path::new("/var/lib/modsynclog")));
    assert!(args.token_file.is_some(), "the default CMD asks for a token file");
    let mut insecure = entrypoint[1..].to_vec();
    insecure.push("--insecure".into());
    assert!(parse_server_flags(&insecure).unwrap().insecure);
}
