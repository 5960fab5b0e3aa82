//! Structured logs on stderr, filtered by `RUST_LOG` (default `info`): lines for people
//! (colours only on a terminal, and not with `NO_COLOR`), or one JSON object per line for
//! log shippers (`--log-format json`).

use std::io::IsTerminal;

use clap::ValueEnum;
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `2026-11-30T09:00:00Z  INFO message key=value`
    #[default]
    Text,
    /// `{"timestamp":...,"level":"INFO","fields":{"message":...},"target":...}`
    Json,
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => {
            builder.with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()).try_init()
        }
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
    };
}
