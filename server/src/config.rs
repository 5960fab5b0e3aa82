//! The server's configuration: flags, environment variables, a TOML file, defaults.
//!
//! Precedence, highest first: a command-line flag, its `MODSYNCLOG_*` environment
//! variable, the `--config` file, the built-in default. Every option can be set in all
//! three places under the same name (`--grpc-addr`, `MODSYNCLOG_GRPC_ADDR`, `grpc_addr`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use modsynclog_core::Durability;
use serde::Deserialize;

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
    /// Bearer token required by the native services. When set, the legacy gRPC service
    /// (which cannot send a token) is off unless --allow-legacy.
    #[arg(long, env = "MODSYNCLOG_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Keep the legacy gRPC service on even though a token is set.
    #[arg(long, env = "MODSYNCLOG_ALLOW_LEGACY")]
    pub allow_legacy: bool,
    /// When appended records reach the disk: `batch` (fsync before acknowledging),
    /// `interval:MILLIS` or `never`. [default: batch]
    #[arg(long, env = "MODSYNCLOG_FSYNC")]
    pub fsync: Option<Durability>,
    /// File records under UTC days instead of the machine's local calendar.
    #[arg(long, env = "MODSYNCLOG_UTC")]
    pub utc: bool,
    /// Address for Prometheus metrics (text format, `GET /metrics`); off unless set.
    #[arg(long, env = "MODSYNCLOG_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
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
    allow_legacy: Option<bool>,
    fsync: Option<String>,
    utc: Option<bool>,
    metrics_addr: Option<SocketAddr>,
}

/// The settled configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub grpc_addr: SocketAddr,
    pub sync_addr: Option<SocketAddr>,
    pub send_flag: i32,
    pub token: Option<String>,
    pub allow_legacy: bool,
    pub fsync: Durability,
    pub utc: bool,
    pub metrics_addr: Option<SocketAddr>,
}

impl ServerArgs {
    pub fn settle(self) -> Result<Settings> {
        let file = match &self.config {
            Some(path) => load(path)?,
            None => FileConfig::default(),
        };
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
        Ok(Settings {
            data_dir: self.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("./data")),
            grpc_addr: self.grpc_addr.or(file.grpc_addr).unwrap_or_else(|| ([127, 0, 0, 1], 1235).into()),
            sync_addr,
            send_flag: self.send_flag.or(file.send_flag).unwrap_or(398_359_203),
            token: self.token.or(file.token).filter(|t| !t.is_empty()),
            allow_legacy: self.allow_legacy || file.allow_legacy.unwrap_or(false),
            fsync,
            utc: self.utc || file.utc.unwrap_or(false),
            metrics_addr: self.metrics_addr.or(file.metrics_addr),
        })
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
}
