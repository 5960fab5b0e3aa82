//! `modsynclog-agent`: the log agent's command line and configuration file, signals
//! (SIGTERM/SIGINT stop, SIGHUP reloads the inputs) and `--dry-run`.
//!
//! ```toml
//! server = "https://master.example:1235"
//! agent_id = "web-01"                       # default: the host name
//! state_dir = "/var/lib/modsynclog-agent"   # checkpoints
//! token_file = "/etc/modsynclog/token"
//!
//! [[input]]
//! paths = ["/var/log/app/*.log"]
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use modsynclog_agent::config::{Input, parse_inputs};
use modsynclog_agent::run::{AgentConfig, DEFAULT_IN_FLIGHT_BYTES, Ended};
use serde::Deserialize;
use tokio::sync::watch;

use crate::client_auth::ClientAuthArgs;
use crate::config::parse_bytes;

#[derive(Debug, Default, Args)]
pub struct AgentArgs {
    /// TOML file: the options below (keys with underscores) and the [[input]] sections.
    /// Reloaded on SIGHUP (the inputs; other options need a restart).
    #[arg(long, env = "MODSYNCLOG_AGENT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Server gRPC address: HOST:PORT (plaintext) or https://HOST:PORT (TLS).
    #[arg(long, env = "MODSYNCLOG_SERVER")]
    pub server: Option<String>,
    /// Names this agent's records on the server (letters, digits, -_.; at most 48). Keep
    /// it stable: exactly once across restarts rests on it. [default: the host name]
    #[arg(long, env = "MODSYNCLOG_AGENT_ID")]
    pub agent_id: Option<String>,
    /// Folder of the checkpoints (per file, what the server acknowledged).
    /// [default: ./modsynclog-agent-state]
    #[arg(long, env = "MODSYNCLOG_AGENT_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// One input without a config file: ship files matching this glob (repeatable).
    #[arg(long = "path", value_name = "GLOB")]
    pub paths: Vec<String>,
    /// Record type of the --path input. [default: 1201]
    #[arg(long = "type", allow_negative_numbers = true)]
    pub record_type: Option<i16>,
    /// Payload bytes sent and not yet acknowledged, at most (e.g. 16MiB); reading stops
    /// there while the server is slow or away. [default: 16MiB]
    #[arg(long, value_parser = parse_bytes)]
    pub max_in_flight_bytes: Option<usize>,
    /// Ship what the files hold now, then exit (batch use).
    #[arg(long)]
    pub once: bool,
    /// Print the files each input matches and where shipping would start; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub auth: ClientAuthArgs,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    server: Option<String>,
    agent_id: Option<String>,
    state_dir: Option<PathBuf>,
    token_file: Option<PathBuf>,
    tls_ca: Option<PathBuf>,
    max_in_flight_bytes: Option<String>,
    /// Parsed by [`parse_inputs`].
    #[serde(default)]
    #[allow(dead_code)]
    input: Vec<toml::Value>,
}

/// The settled agent: its configuration and its inputs.
pub struct Settled {
    pub config: AgentConfig,
    pub inputs: Vec<Input>,
    pub dry_run: bool,
    config_file: Option<PathBuf>,
    cli_input: Option<String>,
}

impl AgentArgs {
    pub fn settle(self) -> Result<Settled> {
        let (file, text) = match &self.config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("read config file {}", path.display()))?;
                let file: FileConfig =
                    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?;
                (file, text)
            }
            None => (FileConfig::default(), String::new()),
        };
        let cli_input = (!self.paths.is_empty()).then(|| cli_input(&self.paths, self.record_type));
        let inputs = load_inputs(&text, cli_input.as_deref())?;
        let server =
            self.server.or(file.server).ok_or_else(|| anyhow!("--server is needed (or `server` in --config)"))?;
        let agent_id = match self.agent_id.or(file.agent_id) {
            Some(id) => id,
            None => host_name()?,
        };
        modsynclog_agent::identity::check_agent_id(&agent_id).map_err(anyhow::Error::msg)?;
        let mut auth = self.auth;
        if auth.token.is_none() && auth.token_file.is_none() {
            auth.token_file = file.token_file;
        }
        if auth.tls_ca.is_none() {
            auth.tls_ca = file.tls_ca;
        }
        let max_in_flight_bytes = match (self.max_in_flight_bytes, file.max_in_flight_bytes) {
            (Some(b), _) => b,
            (None, Some(t)) => {
                parse_bytes(&t).map_err(anyhow::Error::msg).context("config file: max_in_flight_bytes")?
            }
            (None, None) => DEFAULT_IN_FLIGHT_BYTES,
        };
        let config = AgentConfig {
            server,
            token: auth.token()?,
            tls: auth.tls(),
            agent_id,
            state_dir: self.state_dir.or(file.state_dir).unwrap_or_else(|| PathBuf::from("./modsynclog-agent-state")),
            max_in_flight_bytes,
            once: self.once,
        };
        Ok(Settled { config, inputs, dry_run: self.dry_run, config_file: self.config, cli_input })
    }
}

/// The `[[input]]` text of the `--path` flags.
fn cli_input(paths: &[String], ty: Option<i16>) -> String {
    let quoted: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
    let ty = ty.map(|t| format!("type = {t}\n")).unwrap_or_default();
    format!("[[input]]\nname = \"cli\"\npaths = [{}]\n{ty}", quoted.join(", "))
}

/// The inputs of the config file's text, then the `--path` input.
fn load_inputs(text: &str, cli: Option<&str>) -> Result<Vec<Input>> {
    let mut inputs = parse_inputs(text).map_err(anyhow::Error::msg)?;
    if let Some(cli) = cli {
        inputs.extend(parse_inputs(cli).map_err(anyhow::Error::msg)?);
    }
    if inputs.is_empty() {
        bail!("nothing to ship: give --path GLOB, or [[input]] sections in --config");
    }
    Ok(inputs)
}

fn host_name() -> Result<String> {
    let name =
        std::fs::read_to_string("/proc/sys/kernel/hostname").context("read the host name (or give --agent-id)")?;
    let name: String =
        name.trim().chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect();
    Ok(name.chars().take(modsynclog_agent::identity::MAX_AGENT_ID_LEN).collect())
}

pub async fn run(settled: Settled) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let Settled { config, inputs, config_file, cli_input, .. } = settled;
    let (inputs_tx, inputs_rx) = watch::channel(inputs);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("install SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("install SIGHUP handler")?;
    let figures = std::sync::Arc::default();
    tracing::info!(server = %config.server, agent_id = %config.agent_id, state_dir = %config.state_dir.display(), "starting modsynclog-agent");
    let mut agent = tokio::spawn(modsynclog_agent::run::run(config, inputs_rx, stop_rx, figures));
    loop {
        tokio::select! {
            ended = &mut agent => {
                return match ended.context("agent task")? {
                    Ok(Ended::Drained) => { tracing::info!("everything shipped"); Ok(()) }
                    Ok(Ended::Stopped) => { tracing::info!("stopped"); Ok(()) }
                    Err(e) => Err(anyhow!(e)),
                };
            }
            _ = term.recv() => { let _ = stop_tx.send(true); }
            _ = int.recv() => { let _ = stop_tx.send(true); }
            _ = hup.recv() => match reload(config_file.as_deref(), cli_input.as_deref()) {
                Ok(inputs) => { let _ = inputs_tx.send(inputs); }
                Err(e) => tracing::error!(error = %format!("{e:#}"), "SIGHUP: the config file is not valid; keeping the inputs as they are"),
            },
        }
    }
}

fn reload(file: Option<&Path>, cli: Option<&str>) -> Result<Vec<Input>> {
    let text = match file {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?,
        None => String::new(),
    };
    load_inputs(&text, cli)
}

/// `--dry-run`: what each input matches.
pub fn dry_run(settled: &Settled) -> Result<()> {
    let found = modsynclog_agent::discover::discover(&settled.inputs);
    let checkpoints =
        modsynclog_agent::checkpoint::Checkpoints::load(&settled.config.state_dir, &settled.config.agent_id)?;
    println!("{:<16} {:>12} {:>12}  path", "input", "size", "checkpoint");
    for (inode, f) in &found {
        let at = checkpoints.files.get(inode).map_or("-".to_string(), |e| e.acked.to_string());
        println!("{:<16} {:>12} {:>12}  {}", f.input, f.size, at, f.path.display());
    }
    if found.is_empty() {
        println!("(no file matches)");
    }
    Ok(())
}
