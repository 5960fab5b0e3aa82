//! `modsynclog-client sync`: keep a local folder identical to a server's store.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use modsynclog_core::clock::SystemClock;
use modsynclog_core::legacy::{self, LegacyClientConfig};
use modsynclog_core::wire::DEFAULT_SEND_FLAG;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Server address, HOST:PORT (the legacy sync socket, default port 2222).
    #[arg(long, env = "MODSYNCLOG_SERVER")]
    pub server: String,
    /// Local store folder to keep identical to the server's.
    #[arg(long, env = "MODSYNCLOG_DIR")]
    pub dir: PathBuf,
    /// Protocol: `legacy` is the original's TCP socket (works with Go servers too).
    /// The native gRPC sync is not available yet.
    #[arg(long, value_enum, default_value_t = Protocol::Legacy)]
    pub protocol: Protocol,
    /// First day to copy, relative to today: 0 = today, -1 = from yesterday, ...
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub history_days: i64,
    /// Delete local days older than this many days back (-1 keeps yesterday and today).
    /// Must be <= -1 and <= --history-days. Default: keep everything.
    #[arg(long, allow_negative_numbers = true)]
    pub retain_days: Option<i64>,
    /// Shared number the legacy protocol sends in every frame; must match the server.
    #[arg(long, env = "MODSYNCLOG_SEND_FLAG", default_value_t = DEFAULT_SEND_FLAG)]
    pub send_flag: i32,
    /// Use UTC days instead of the local calendar (must match the server's --utc).
    #[arg(long)]
    pub utc: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    Native,
    Legacy,
}

pub async fn run(args: SyncArgs) -> Result<()> {
    if args.protocol == Protocol::Native {
        bail!("native sync is not implemented yet; use --protocol legacy");
    }
    let mut config = LegacyClientConfig::new(args.server, args.dir);
    config.send_flag = args.send_flag;
    config.history_days = args.history_days;
    config.retain_days = args.retain_days;
    config.clock = Arc::new(SystemClock { utc: args.utc });
    config.validate()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut task = tokio::spawn(legacy::run(config, stopped));
    tokio::select! {
        r = &mut task => return Ok(r??),
        r = crate::serve::shutdown_signal() => {
            r?;
            let _ = stop.send(true);
        }
    }
    Ok(task.await??)
}
