//! The server's configuration: flags, environment variables, a TOML file, defaults.
//!
//! Precedence, highest first: a command-line flag, its `MODSYNCLOG_*` environment
//! variable, the `--config` file, the built-in default. Every option can be set in all
//! three places under the same name (`--grpc-addr`, `MODSYNCLOG_GRPC_ADDR`, `grpc_addr`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use modsynclog_core::Durability;
use modsynclog_core::access::AllowList;
use modsynclog_core::legacy::LegacyServerConfig;
use modsynclog_core::server::{AckWhen, Limits, MAX_FINISH_GRACE, NetLimits};
use modsynclog_core::store::Recovery;
use modsynclog_core::tls::ServerTls;
use modsynclog_kafka::import::FileBy;
use serde::Deserialize;

use crate::kafka_config::{self, KafkaArgs, KafkaFile, KafkaSettings};
use crate::logging::LogFormat;

/// Byte sizes of the flags and the config file (`64MiB`).
pub use modsynclog_core::bytesize::parse_bytes;

/// Flags of `modsynclog-server`. Unset options fall back to the config file, then defaults
/// (a switch such as `--utc` can only turn an option on).
#[derive(Debug, Default, Args)]
pub struct ServerArgs {
    /// TOML file with any of the options below (keys use underscores: `data_dir = "/var/log/msl"`).
    #[arg(long, env = "MODSYNCLOG_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder of the store (day folders YYYYMMDD). [default: ./data]
    #[arg(long, env = "MODSYNCLOG_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// gRPC address: the legacy grpc_proto_log.Log service and the native modsynclog.v1 services. [default: 127.0.0.1:1235]
    #[arg(long, env = "MODSYNCLOG_GRPC_ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    /// Legacy sync socket for original Go replicas; `off` disables it. [default: 127.0.0.1:2222]
    #[arg(long, env = "MODSYNCLOG_SYNC_ADDR")]
    pub sync_addr: Option<String>,
    /// Shared number that legacy sync peers must send in every frame. [default: 398359203]
    #[arg(long, env = "MODSYNCLOG_SEND_FLAG")]
    pub send_flag: Option<i32>,
    /// Bearer token granting both scopes: write (ingest) and read (sync, status, metrics).
    /// Prefer --token-file: a flag shows in `ps`.
    #[arg(long, env = "MODSYNCLOG_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the --token (one line; surrounding whitespace is ignored).
    #[arg(long, env = "MODSYNCLOG_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Bearer token of the write scope only (ingest); overrides --token for it.
    #[arg(long, env = "MODSYNCLOG_INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<String>,
    /// File holding the --ingest-token.
    #[arg(long, env = "MODSYNCLOG_INGEST_TOKEN_FILE")]
    pub ingest_token_file: Option<PathBuf>,
    /// Bearer token of the read scope only (sync, status, metrics); overrides --token for it.
    #[arg(long, env = "MODSYNCLOG_SYNC_TOKEN", hide_env_values = true)]
    pub sync_token: Option<String>,
    /// File holding the --sync-token.
    #[arg(long, env = "MODSYNCLOG_SYNC_TOKEN_FILE")]
    pub sync_token_file: Option<PathBuf>,
    /// TLS certificate chain (PEM) of the gRPC port; reloaded on SIGHUP or when the file changes.
    #[arg(long, env = "MODSYNCLOG_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, env = "MODSYNCLOG_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// CA (PEM) of client certificates: every client must present one it signed (mTLS).
    #[arg(long, env = "MODSYNCLOG_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// With mTLS: client certificate names (CN or DNS name, comma-separated) granted the
    /// write scope. [default: every verified client certificate]
    #[arg(long, env = "MODSYNCLOG_INGEST_CERT_NAMES")]
    pub ingest_cert_names: Option<String>,
    /// With mTLS: client certificate names granted the read scope. [default: all]
    #[arg(long, env = "MODSYNCLOG_SYNC_CERT_NAMES")]
    pub sync_cert_names: Option<String>,
    /// Serve the legacy gRPC service (no credentials; for the Go SDK) even when the write
    /// scope has a token or the address is not loopback (then --legacy-allow is needed too).
    #[arg(long, env = "MODSYNCLOG_ALLOW_LEGACY")]
    pub allow_legacy: bool,
    /// Addresses (comma-separated CIDRs) that may use the legacy gRPC service and the legacy
    /// sync socket; required when either is on a non-loopback address. [default: loopback only]
    #[arg(long, env = "MODSYNCLOG_LEGACY_ALLOW")]
    pub legacy_allow: Option<String>,
    /// Serve a non-loopback gRPC address without token or mTLS (logs a warning).
    #[arg(long, env = "MODSYNCLOG_INSECURE")]
    pub insecure: bool,
    /// Open gRPC connections at most; more are closed at once. [default: 1024]
    #[arg(long, env = "MODSYNCLOG_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Concurrent calls (HTTP/2 streams) per gRPC connection. [default: 128]
    #[arg(long, env = "MODSYNCLOG_MAX_STREAMS")]
    pub max_streams: Option<u32>,
    /// Ingest calls (SDK streams, unary appends, `StoredSeq`) in progress at once, and as many
    /// legacy unary calls (counted apart); more are refused with Unavailable, which the
    /// SDKs retry (a legacy call gets it as its errCode). [default: 256]
    #[arg(long, env = "MODSYNCLOG_MAX_INGEST_CALLS")]
    pub max_ingest_calls: Option<usize>,
    /// Native sync subscriptions (replicas) open at once. [default: 128]
    #[arg(long, env = "MODSYNCLOG_MAX_SUBSCRIBERS")]
    pub max_subscribers: Option<usize>,
    /// Open legacy sync socket connections at most. [default: 64]
    #[arg(long, env = "MODSYNCLOG_LEGACY_MAX_CONNECTIONS")]
    pub legacy_max_connections: Option<usize>,
    /// When a legacy gRPC call (the original Go SDK) is answered: `durable` (after the
    /// --fsync policy, like native producers) or `written` (once in the store's files,
    /// before fsync: survives a server crash, not a power loss; the original answered
    /// before writing at all). [default: durable]
    #[arg(long, env = "MODSYNCLOG_LEGACY_ACK")]
    pub legacy_ack: Option<AckWhen>,
    /// zlib level (0-9) of the batches sent to legacy replicas: lower spends less server
    /// CPU per record, higher sends fewer bytes (the original used 6). [default: 2]
    #[arg(long, env = "MODSYNCLOG_LEGACY_ZLIB_LEVEL", value_parser = clap::value_parser!(u32).range(0..=9))]
    pub legacy_zlib_level: Option<u32>,
    /// Seconds a new connection has to send its first bytes (and finish TLS). [default: 10]
    #[arg(long, env = "MODSYNCLOG_HANDSHAKE_TIMEOUT")]
    pub handshake_timeout: Option<u64>,
    /// Seconds a gRPC connection may stay open with no call (no stream, no subscription,
    /// no unary call) before the server closes it; HTTP/2 pings do not count. Clients
    /// reconnect on their next call. [default: 300]
    #[arg(long, env = "MODSYNCLOG_IDLE_TIMEOUT")]
    pub idle_timeout: Option<u64>,
    /// Payload bytes queued for the writer, all producers together (e.g. 64MiB). [default: 64MiB]
    #[arg(long, env = "MODSYNCLOG_WRITER_QUEUE_BYTES", value_parser = parse_bytes)]
    pub writer_queue_bytes: Option<usize>,
    /// Payload bytes one ingest stream may have unacknowledged. [default: 16MiB]
    #[arg(long, env = "MODSYNCLOG_STREAM_INFLIGHT_BYTES", value_parser = parse_bytes)]
    pub stream_inflight_bytes: Option<usize>,
    /// When appended records reach the disk: `batch` (fsync before acknowledging),
    /// `interval:MILLIS` or `never`. [default: batch]
    #[arg(long, env = "MODSYNCLOG_FSYNC")]
    pub fsync: Option<Durability>,
    /// Damage found at start in a day that is not finished: `tail` repairs it (cuts a
    /// torn tail; under never/interval checks the whole day and cuts it back to the first
    /// damaged record), `strict` refuses to start and names the day and record. [default: tail]
    #[arg(long, env = "MODSYNCLOG_RECOVERY")]
    pub recovery: Option<Recovery>,
    /// File records under UTC days instead of the machine's local calendar.
    #[arg(long, env = "MODSYNCLOG_UTC")]
    pub utc: bool,
    /// Seconds after midnight the previous day stays open for records filed by their own
    /// timestamp (a Kafka import with day = timestamp); replicas and readers go on to the
    /// new day once it is finished. At most 82800. [default: 0, or 300 when an import
    /// files by timestamp]
    #[arg(long, env = "MODSYNCLOG_FINISH_GRACE")]
    pub finish_grace: Option<u64>,
    /// Address of the HTTP endpoint: the web console (`/`), Prometheus metrics
    /// (`/metrics`) and the JSON API (`/api/...`, see web/API.md); off unless set. A
    /// non-loopback address requires the read scope's token (`Authorization: Bearer`).
    #[arg(long, alias = "metrics-addr", env = "MODSYNCLOG_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Log lines as `text` or `json` (one object per line, for log shippers). [default: text]
    #[arg(long, env = "MODSYNCLOG_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// The Kafka bridge (one import and one export; more in --config).
    #[command(flatten, next_help_heading = "Kafka bridge")]
    pub kafka: KafkaArgs,
}

/// An address from an environment variable of an older release (`MODSYNCLOG_METRICS_ADDR`,
/// now `MODSYNCLOG_HTTP_ADDR`), still honoured below the new one.
pub fn old_env_addr(name: &str) -> Result<Option<SocketAddr>> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(Some(v.parse().with_context(|| format!("{name}={v:?}: not an address"))?)),
        _ => Ok(None),
    }
}

fn names(list: Option<String>) -> Option<Vec<String>> {
    list.map(|l| l.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect())
}

/// A token and a token file from one source (flags and environment, or the config file).
type TokenSource = (Option<String>, Option<PathBuf>);

/// A token: the command line's (the value or its file) beats the config file's, as for
/// every option. `None` for none at all, or an empty one.
fn token(cli: TokenSource, file: TokenSource) -> Result<Option<String>> {
    let source = if cli.0.is_some() || cli.1.is_some() { cli } else { file };
    if source.0.is_some() && source.1.is_some() {
        anyhow::bail!("a token and a token file were both given for the same scope: keep one");
    }
    let value = match source {
        (Some(v), _) => Some(v),
        (None, Some(path)) => Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("read token file {}", path.display()))?
                .trim()
                .to_string(),
        ),
        (None, None) => None,
    };
    Ok(value.filter(|t| !t.is_empty()))
}

/// The same options as read from a TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    grpc_addr: Option<SocketAddr>,
    sync_addr: Option<String>,
    send_flag: Option<i32>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    ingest_token: Option<String>,
    ingest_token_file: Option<PathBuf>,
    sync_token: Option<String>,
    sync_token_file: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_client_ca: Option<PathBuf>,
    ingest_cert_names: Option<String>,
    sync_cert_names: Option<String>,
    allow_legacy: Option<bool>,
    legacy_allow: Option<String>,
    insecure: Option<bool>,
    max_connections: Option<usize>,
    max_streams: Option<u32>,
    max_subscribers: Option<usize>,
    max_ingest_calls: Option<usize>,
    legacy_max_connections: Option<usize>,
    legacy_ack: Option<String>,
    legacy_zlib_level: Option<u32>,
    handshake_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    writer_queue_bytes: Option<String>,
    stream_inflight_bytes: Option<String>,
    fsync: Option<String>,
    recovery: Option<String>,
    utc: Option<bool>,
    finish_grace: Option<u64>,
    #[serde(alias = "metrics_addr")]
    http_addr: Option<SocketAddr>,
    log_format: Option<LogFormat>,
    kafka: Option<KafkaFile>,
}

/// The settled configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub grpc_addr: SocketAddr,
    pub sync_addr: Option<SocketAddr>,
    pub send_flag: i32,
    pub token: Option<String>,
    pub ingest_token: Option<String>,
    pub sync_token: Option<String>,
    pub tls: Option<ServerTls>,
    pub ingest_cert_names: Option<Vec<String>>,
    pub sync_cert_names: Option<Vec<String>>,
    pub allow_legacy: bool,
    pub legacy_allow: Option<AllowList>,
    pub insecure: bool,
    pub net: NetLimits,
    pub legacy_max_connections: usize,
    pub legacy_ack: AckWhen,
    pub legacy_zlib_level: u32,
    pub writer_queue_bytes: usize,
    pub stream_inflight_bytes: usize,
    pub fsync: Durability,
    pub recovery: Recovery,
    pub utc: bool,
    /// See [`ServerConfig::finish_grace`](modsynclog_core::server::ServerConfig::finish_grace).
    pub finish_grace: Duration,
    pub http_addr: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub kafka: KafkaSettings,
}

/// The finish grace when an import files by timestamp and none is given: long enough for
/// an import that keeps up to file the last minutes of a day under it.
pub const TIMESTAMP_FINISH_GRACE: Duration = Duration::from_secs(300);

impl ServerArgs {
    pub fn settle(mut self) -> Result<Settings> {
        let mut file = match &self.config {
            Some(path) => load(path)?,
            None => FileConfig::default(),
        };
        let data_dir = self.data_dir.take().or(file.data_dir.take()).unwrap_or_else(|| PathBuf::from("./data"));
        let kafka =
            kafka_config::settle(std::mem::take(&mut self.kafka), file.kafka.take().unwrap_or_default(), &data_dir)?;
        let fsync = match (self.fsync, file.fsync) {
            (Some(d), _) => d,
            (None, Some(s)) => s.parse().context("config file: fsync")?,
            (None, None) => Durability::default(),
        };
        let sync_addr = self.sync_addr.or(file.sync_addr).unwrap_or_else(|| "127.0.0.1:2222".into());
        let sync_addr = match sync_addr.as_str() {
            "off" | "" => None,
            s => Some(s.parse().with_context(|| format!("sync address {s:?}"))?),
        };
        let bytes = |flag: Option<usize>, file: Option<String>, name: &str, default: usize| -> Result<usize> {
            match (flag, file) {
                (Some(b), _) => Ok(b),
                (None, Some(t)) => {
                    parse_bytes(&t).map_err(anyhow::Error::msg).with_context(|| format!("config file: {name}"))
                }
                (None, None) => Ok(default),
            }
        };
        let tls = match (self.tls_cert.or(file.tls_cert), self.tls_key.or(file.tls_key)) {
            (Some(cert_file), Some(key_file)) => {
                Some(ServerTls { cert_file, key_file, client_ca_file: self.tls_client_ca.or(file.tls_client_ca) })
            }
            (None, None) if self.tls_client_ca.is_some() || file.tls_client_ca.is_some() => {
                anyhow::bail!("--tls-client-ca needs TLS: give --tls-cert and --tls-key too")
            }
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        };
        let legacy_allow = match self.legacy_allow.or(file.legacy_allow) {
            Some(list) => Some(AllowList::parse(&list).context("--legacy-allow")?),
            None => None,
        };
        let net_default = NetLimits::default();
        let limits_default = Limits::default();
        let settings = Settings {
            token: token((self.token, self.token_file), (file.token, file.token_file))?,
            ingest_token: token(
                (self.ingest_token, self.ingest_token_file),
                (file.ingest_token, file.ingest_token_file),
            )?,
            sync_token: token((self.sync_token, self.sync_token_file), (file.sync_token, file.sync_token_file))?,
            tls,
            ingest_cert_names: names(self.ingest_cert_names.or(file.ingest_cert_names)),
            sync_cert_names: names(self.sync_cert_names.or(file.sync_cert_names)),
            legacy_allow,
            insecure: self.insecure || file.insecure.unwrap_or(false),
            net: NetLimits {
                max_connections: self.max_connections.or(file.max_connections).unwrap_or(net_default.max_connections),
                max_streams: self.max_streams.or(file.max_streams).unwrap_or(net_default.max_streams),
                handshake_timeout: self
                    .handshake_timeout
                    .or(file.handshake_timeout)
                    .map_or(net_default.handshake_timeout, Duration::from_secs),
                max_subscribers: self.max_subscribers.or(file.max_subscribers).unwrap_or(net_default.max_subscribers),
                max_ingest_calls: self
                    .max_ingest_calls
                    .or(file.max_ingest_calls)
                    .unwrap_or(net_default.max_ingest_calls),
                idle_timeout: self
                    .idle_timeout
                    .or(file.idle_timeout)
                    .map_or(net_default.idle_timeout, Duration::from_secs),
            },
            legacy_max_connections: self
                .legacy_max_connections
                .or(file.legacy_max_connections)
                .unwrap_or(LegacyServerConfig::default().max_connections),
            legacy_ack: match (self.legacy_ack, file.legacy_ack) {
                (Some(a), _) => a,
                (None, Some(s)) => s.parse().context("config file: legacy_ack")?,
                (None, None) => AckWhen::default(),
            },
            recovery: match (self.recovery, file.recovery) {
                (Some(r), _) => r,
                (None, Some(s)) => s.parse().context("config file: recovery")?,
                (None, None) => Recovery::default(),
            },
            legacy_zlib_level: match self.legacy_zlib_level.or(file.legacy_zlib_level) {
                Some(level) if level > 9 => anyhow::bail!("legacy_zlib_level must be 0 to 9, not {level}"),
                Some(level) => level,
                None => LegacyServerConfig::default().zlib_level,
            },
            writer_queue_bytes: bytes(
                self.writer_queue_bytes,
                file.writer_queue_bytes,
                "writer_queue_bytes",
                limits_default.writer_queue_bytes,
            )?,
            stream_inflight_bytes: bytes(
                self.stream_inflight_bytes,
                file.stream_inflight_bytes,
                "stream_inflight_bytes",
                limits_default.stream_inflight_bytes,
            )?,
            data_dir,
            grpc_addr: self.grpc_addr.or(file.grpc_addr).unwrap_or_else(|| ([127, 0, 0, 1], 1235).into()),
            sync_addr,
            send_flag: self.send_flag.or(file.send_flag).unwrap_or(398_359_203),
            allow_legacy: self.allow_legacy || file.allow_legacy.unwrap_or(false),
            fsync,
            utc: self.utc || file.utc.unwrap_or(false),
            finish_grace: match self.finish_grace.or(file.finish_grace) {
                Some(secs) => Duration::from_secs(secs),
                None if kafka.imports.iter().any(|i| i.day == FileBy::Timestamp) => TIMESTAMP_FINISH_GRACE,
                None => Duration::ZERO,
            },
            http_addr: self.http_addr.or(old_env_addr("MODSYNCLOG_METRICS_ADDR")?).or(file.http_addr),
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            kafka,
        };
        settings.check()?;
        Ok(settings)
    }
}

/// The most a count limit may be (a tokio semaphore holds fewer than 2^61 permits; no
/// machine has file descriptors for more than this anyway).
const MAX_COUNT: usize = 1 << 20;

impl Settings {
    /// Limits that would refuse everything, or that no machine can hold.
    fn check(&self) -> Result<()> {
        let counts = [
            ("--max-connections", self.net.max_connections),
            ("--max-streams", self.net.max_streams as usize),
            ("--max-subscribers", self.net.max_subscribers),
            ("--max-ingest-calls", self.net.max_ingest_calls),
            ("--legacy-max-connections", self.legacy_max_connections),
        ];
        for (name, n) in counts {
            if n == 0 || n > MAX_COUNT {
                anyhow::bail!("{name} must be between 1 and {MAX_COUNT}, not {n}");
            }
        }
        if self.finish_grace > MAX_FINISH_GRACE {
            anyhow::bail!("--finish-grace must be at most {} seconds", MAX_FINISH_GRACE.as_secs());
        }
        if self.net.handshake_timeout.is_zero() {
            anyhow::bail!("--handshake-timeout must be at least 1 second");
        }
        let max_idle = modsynclog_core::server::idle::MAX_IDLE_TIMEOUT;
        if self.net.idle_timeout.is_zero() || self.net.idle_timeout > max_idle {
            anyhow::bail!("--idle-timeout must be between 1 and {} seconds", max_idle.as_secs());
        }
        for (name, t) in
            [("--token", &self.token), ("--ingest-token", &self.ingest_token), ("--sync-token", &self.sync_token)]
        {
            if let Some(t) = t
                && !t.bytes().all(|b| b.is_ascii_graphic())
            {
                anyhow::bail!("{name}: a token must be printable ASCII without spaces (it travels in an HTTP header)");
            }
        }
        Ok(())
    }
}

fn load(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_local_and_safe() {
        let s = ServerArgs::default().settle().unwrap();
        assert_eq!(s.grpc_addr.to_string(), "127.0.0.1:1235");
        assert_eq!(s.sync_addr.unwrap().to_string(), "127.0.0.1:2222");
        assert_eq!((s.send_flag, s.fsync, s.allow_legacy, s.utc), (398_359_203, Durability::Batch, false, false));
        assert_eq!(s.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("msl.toml");
        std::fs::write(&path, "data_dir = \"/srv/log\"\nfsync = \"interval:50\"\nsend_flag = 7\nsync_addr = \"off\"\n")
            .unwrap();
        let args = ServerArgs { config: Some(path.clone()), send_flag: Some(9), ..Default::default() };
        let s = args.settle().unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/log"));
        assert_eq!(s.fsync.to_string(), "interval:50");
        assert_eq!((s.send_flag, s.sync_addr), (9, None));

        std::fs::write(&path, "data_dri = \"typo\"\n").unwrap();
        let err = ServerArgs { config: Some(path), ..Default::default() }.settle().unwrap_err();
        assert!(format!("{err:#}").contains("unknown field `data_dri`"), "{err:#}");
    }

    #[test]
    fn the_idle_timeout_from_flag_and_file_within_its_bounds() {
        assert_eq!(ServerArgs::default().settle().unwrap().net.idle_timeout, Duration::from_secs(300));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("msl.toml");
        std::fs::write(&path, "idle_timeout = 60\n").unwrap();
        let s = ServerArgs { config: Some(path), ..Default::default() }.settle().unwrap();
        assert_eq!(s.net.idle_timeout, Duration::from_secs(60));
        for bad in [0, u64::MAX] {
            let err = ServerArgs { idle_timeout: Some(bad), ..Default::default() }.settle().unwrap_err();
            assert!(format!("{err:#}").contains("--idle-timeout must be between 1 and"), "{err:#}");
        }
    }

    #[test]
    fn byte_sizes_and_token_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        let args = ServerArgs { sync_token_file: Some(file), token: Some("both".into()), ..Default::default() };
        let s = args.settle().unwrap();
        assert_eq!((s.token.as_deref(), s.sync_token.as_deref(), s.ingest_token), (Some("both"), Some("s3cret"), None));
        let path = dir.path().join("msl.toml");
        std::fs::write(&path, "writer_queue_bytes = \"8MiB\"\nlegacy_allow = \"10.0.0.0/8\"\n").unwrap();
        let s = ServerArgs { config: Some(path), ..Default::default() }.settle().unwrap();
        assert_eq!(s.writer_queue_bytes, 8 << 20);
        assert!(s.legacy_allow.unwrap().allows("10.2.3.4".parse().unwrap()));
    }

    #[test]
    fn legacy_ack_and_zlib_level_from_flags_and_file() {
        let s = ServerArgs::default().settle().unwrap();
        assert_eq!((s.legacy_ack, s.legacy_zlib_level), (AckWhen::Durable, 2));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("msl.toml");
        std::fs::write(&path, "legacy_ack = \"written\"\nlegacy_zlib_level = 6\n").unwrap();
        let s = ServerArgs { config: Some(path.clone()), ..Default::default() }.settle().unwrap();
        assert_eq!((s.legacy_ack, s.legacy_zlib_level), (AckWhen::Written, 6));
        let args = ServerArgs { config: Some(path.clone()), legacy_zlib_level: Some(1), ..Default::default() };
        assert_eq!(args.settle().unwrap().legacy_zlib_level, 1);
        std::fs::write(&path, "legacy_ack = \"later\"\n").unwrap();
        assert!(ServerArgs { config: Some(path.clone()), ..Default::default() }.settle().is_err());
        std::fs::write(&path, "legacy_zlib_level = 12\n").unwrap();
        assert!(ServerArgs { config: Some(path), ..Default::default() }.settle().is_err());
    }

    #[test]
    fn finish_grace_defaults_to_five_minutes_only_for_imports_by_timestamp() {
        assert_eq!(ServerArgs::default().settle().unwrap().finish_grace, Duration::ZERO);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("msl.toml");
        let import = "[[kafka.import]]\nbrokers = \"b:9092\"\ntopics = [\"t\"]\nday = \"timestamp\"\n";
        std::fs::write(&path, import).unwrap();
        let s = ServerArgs { config: Some(path.clone()), ..Default::default() }.settle().unwrap();
        assert_eq!(s.finish_grace, TIMESTAMP_FINISH_GRACE);
        std::fs::write(&path, format!("finish_grace = 60\n{import}")).unwrap();
        let s = ServerArgs { config: Some(path.clone()), ..Default::default() }.settle().unwrap();
        assert_eq!(s.finish_grace, Duration::from_secs(60));
        let args = ServerArgs { config: Some(path), finish_grace: Some(0), ..Default::default() };
        assert_eq!(args.settle().unwrap().finish_grace, Duration::ZERO);
        let err = ServerArgs { finish_grace: Some(86_400), ..Default::default() }.settle().unwrap_err();
        assert!(format!("{err:#}").contains("at most 82800"), "{err:#}");
    }

    #[test]
    fn recovery_mode_from_flag_and_file() {
        assert_eq!(ServerArgs::default().settle().unwrap().recovery, Recovery::Tail);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("msl.toml");
        std::fs::write(&path, "recovery = \"strict\"\n").unwrap();
        let s = ServerArgs { config: Some(path.clone()), ..Default::default() }.settle().unwrap();
        assert_eq!(s.recovery, Recovery::Strict);
        let args = ServerArgs { config: Some(path.clone()), recovery: Some(Recovery::Tail), ..Default::default() };
        assert_eq!(args.settle().unwrap().recovery, Recovery::Tail);
        std::fs::write(&path, "recovery = \"lenient\"\n").unwrap();
        assert!(ServerArgs { config: Some(path), ..Default::default() }.settle().is_err());
    }

    #[test]
    fn the_command_lines_token_file_beats_the_files_token() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = (dir.path().join("msl.toml"), dir.path().join("token"));
        std::fs::write(&path, "token = \"stale\"\ntls_client_ca = \"/etc/ca.pem\"\n").unwrap();
        std::fs::write(&file, "fresh\n").unwrap();
        let args = ServerArgs { config: Some(path.clone()), token_file: Some(file), ..Default::default() };
        let err = args.settle().unwrap_err();
        assert!(format!("{err:#}").contains("--tls-client-ca needs TLS"), "{err:#}");
        std::fs::write(&path, "token = \"stale\"\n").unwrap();
        let file = dir.path().join("token");
        let s = ServerArgs { config: Some(path), token_file: Some(file), ..Default::default() }.settle().unwrap();
        assert_eq!(s.token.as_deref(), Some("fresh"));
        let zero = ServerArgs { max_streams: Some(0), ..Default::default() }.settle().unwrap_err();
        assert!(format!("{zero:#}").contains("--max-streams"), "{zero:#}");
        let spaced = ServerArgs { token: Some("two words".into()), ..Default::default() }.settle().unwrap_err();
        assert!(format!("{spaced:#}").contains("printable ASCII"), "{spaced:#}");
    }
}
