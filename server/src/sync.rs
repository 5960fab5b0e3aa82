//! `modsynclog-client sync`: keep a local folder identical to a server's store.
//!
//! `--protocol native` (the default) subscribes to the server's gRPC sync service;
//! `--protocol legacy` speaks the original's TCP socket (also to a Go server). While the
//! replica catches up it shows a progress bar when stderr is a terminal, and otherwise
//! logs a progress line every [`LOG_EVERY`].

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use modsynclog_core::Durability;
use modsynclog_core::clock::SystemClock;
use modsynclog_core::legacy::{self, LegacyClientConfig};
use modsynclog_core::replica::{self, Progress, ReplicaConfig};
use modsynclog_core::wire::DEFAULT_SEND_FLAG;

use crate::client_auth::ClientAuthArgs;

/// How often a replica without a terminal logs where it stands.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Server address: its gRPC port (default 1235) for the native protocol, as HOST:PORT
    /// (plaintext) or https://HOST:PORT (TLS); its legacy sync socket (default 2222, always
    /// plain TCP) for the legacy one.
    #[arg(long, env = "MODSYNCLOG_SERVER")]
    pub server: String,
    /// Local store folder to keep identical to the server's.
    #[arg(long, env = "MODSYNCLOG_DIR")]
    pub dir: PathBuf,
    /// Protocol: `native` is modsynclog's gRPC sync (token, compression, lag);
    /// `legacy` is the original's TCP socket (works with Go servers too).
    #[arg(long, value_enum, default_value_t = Protocol::Native)]
    pub protocol: Protocol,
    /// Token and TLS (native protocol).
    #[command(flatten)]
    pub auth: ClientAuthArgs,
    /// First day to copy, relative to today: 0 = today, -1 = from yesterday, ...
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub history_days: i64,
    /// Delete local days older than this many days back (-1 keeps yesterday and today).
    /// Must be <= -1 and <= --history-days. Default: keep everything.
    #[arg(long, allow_negative_numbers = true)]
    pub retain_days: Option<i64>,
    /// When the local copy reaches the disk: `batch` syncs every append before the next is
    /// taken (the default), `interval:MS` every MS milliseconds, `never` leaves it to the
    /// kernel. After a crash the local store recovers a whole prefix and the replica fetches
    /// the rest again (after a power loss too, as far as the file system keeps each write
    /// whole: payloads carry no checksum), so `never` cuts the live lag by the disk's sync
    /// time; a copy that must outlive the server's own disk wants `batch`.
    #[arg(long, default_value = "batch")]
    pub fsync: Durability,
    /// Shared number the legacy protocol sends in every frame; must match the server.
    #[arg(long, env = "MODSYNCLOG_SEND_FLAG", default_value_t = DEFAULT_SEND_FLAG)]
    pub send_flag: i32,
    /// Use UTC days instead of the local calendar (must match the server's --utc).
    #[arg(long)]
    pub utc: bool,
    /// Address of the replica's HTTP endpoint: the web console over the local copy,
    /// Prometheus metrics, the JSON API (web/API.md); off unless set. A non-loopback
    /// address needs --http-token.
    #[arg(long, env = "MODSYNCLOG_HTTP_ADDR")]
    pub http_addr: Option<std::net::SocketAddr>,
    /// Bearer token the HTTP endpoint asks for (`Authorization: Bearer`).
    #[arg(long, env = "MODSYNCLOG_HTTP_TOKEN", hide_env_values = true)]
    pub http_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    Native,
    Legacy,
}

pub async fn run(args: SyncArgs) -> Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    if let Some(addr) = args.http_addr {
        let token = crate::http::token_for(addr, args.http_token.as_deref(), false)?;
        let config = serde_json::json!({
            "server": args.server,
            "dir": args.dir,
            "protocol": format!("{:?}", args.protocol).to_lowercase(),
            "history_days": args.history_days,
            "retain_days": args.retain_days,
            "fsync": args.fsync.to_string(),
            "utc": args.utc,
        });
        crate::http::start(addr, crate::http::replica_endpoint(&args.dir, config, token), stopped.clone()).await?;
    }
    let mut task = match args.protocol {
        Protocol::Native => {
            let config = ReplicaConfig {
                token: args.auth.token()?,
                tls: args.auth.tls(),
                history_days: args.history_days,
                retain_days: args.retain_days,
                durability: args.fsync,
                clock: Arc::new(SystemClock { utc: args.utc }),
                ..ReplicaConfig::new(args.server, args.dir)
            };
            config.validate()?;
            let reporter = Reporter::new(std::io::stderr().is_terminal());
            tokio::spawn(async move {
                let result = replica::run(config, stopped, |p| reporter.update(&p)).await;
                reporter.finish();
                result
            })
        }
        Protocol::Legacy => {
            if args.auth.token.is_some() || args.auth.token_file.is_some() {
                tracing::warn!("--token is ignored by the legacy protocol (it uses --send-flag)");
            }
            if args.auth.tls().is_set() || args.server.starts_with("https://") {
                anyhow::bail!("the legacy protocol is plain TCP: TLS options do not apply to it");
            }
            let mut config = LegacyClientConfig::new(args.server, args.dir);
            config.send_flag = args.send_flag;
            config.history_days = args.history_days;
            config.retain_days = args.retain_days;
            config.durability = args.fsync;
            config.clock = Arc::new(SystemClock { utc: args.utc });
            config.validate()?;
            tokio::spawn(legacy::run(config, stopped))
        }
    };
    tokio::select! {
        r = &mut task => return Ok(r??),
        r = crate::serve::shutdown_signal() => {
            r?;
            let _ = stop.send(true);
        }
    }
    Ok(task.await??)
}

/// Shows the native replica's progress: a bar on a terminal, log lines otherwise.
struct Reporter {
    bar: Option<ProgressBar>,
    plain: Mutex<Plain>,
}

/// What the plain reporter last said.
struct Plain {
    last_log: Option<Instant>,
    caught_up: bool,
}

impl Reporter {
    fn new(terminal: bool) -> Reporter {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(0);
            let style = ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} records ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Reporter { bar, plain: Mutex::new(Plain { last_log: None, caught_up: false }) }
    }

    fn update(&self, p: &Progress) {
        match &self.bar {
            Some(bar) => {
                if let Some(lag) = p.lag {
                    bar.set_length(p.appended + lag);
                }
                bar.set_position(p.appended);
                bar.set_message(describe(p));
            }
            None => {
                let mut plain = self.plain.lock().unwrap_or_else(|e| e.into_inner());
                let caught_up = p.connected && p.lag == Some(0);
                let due = plain.last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY);
                if (due && p.connected) || caught_up != plain.caught_up {
                    tracing::info!(date = %p.date, id = p.next_id, lag = ?p.lag, appended = p.appended,
                        "sync progress: {}", describe(p));
                    plain.last_log = Some(Instant::now());
                    plain.caught_up = caught_up;
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}

fn describe(p: &Progress) -> String {
    let state = match (p.connected, p.lag) {
        (false, _) => "reconnecting".to_string(),
        (true, Some(0)) => "caught up".to_string(),
        (true, Some(lag)) => format!("{lag} behind"),
        (true, None) => "syncing".to_string(),
    };
    format!("{} #{} {state}", p.date, p.next_id)
}
