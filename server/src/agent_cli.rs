//! `modsynclog-agent`: the log agent's command line and configuration file, and
//! `--dry-run`. [`crate::agent_run`] runs it.
//!
//! ```toml
//! server = "https://master.example:1235"
//! agent_id = "web-01"                       # default: the host name
//! state_dir = "/var/lib/modsynclog-agent"   # checkpoints
//! token_file = "/etc/modsynclog/token"
//! etcd = "http://127.0.0.1:2379"            # optional: more inputs from an etcd key
//! http_addr = "127.0.0.1:9101"              # optional: metrics and status over HTTP
//!
//! [[input]]
//! paths = ["/var/log/app/*.log"]
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use modsynclog_agent::centre::CentreConfig;
use modsynclog_agent::config::{Input, parse_inputs};
use modsynclog_agent::run::{AgentConfig, DEFAULT_IN_FLIGHT_BYTES};
use modsynclog_core::tls::ClientTls;
use serde::Deserialize;

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
    /// etcd holding more inputs (the config centre): http://HOST:PORT or https://HOST:PORT.
    /// The key is watched: a change adds or removes inputs without a restart.
    #[arg(long, env = "MODSYNCLOG_AGENT_ETCD")]
    pub etcd: Option<String>,
    /// The etcd key whose value is `[[input]]` sections, as in --config.
    /// [default: /modsynclog/agent/<agent id>]
    #[arg(long, env = "MODSYNCLOG_AGENT_ETCD_KEY")]
    pub etcd_key: Option<String>,
    /// CA (PEM) that signed an https:// etcd's certificate [default: the system's roots].
    #[arg(long, env = "MODSYNCLOG_AGENT_ETCD_CA")]
    pub etcd_ca: Option<PathBuf>,
    /// Address of the HTTP endpoint: Prometheus metrics (`/metrics`), the JSON API
    /// (`/api/status`, `/api/config`) and the console; off unless set. An address other
    /// than loopback needs --http-token.
    #[arg(long, alias = "metrics-addr", env = "MODSYNCLOG_AGENT_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Bearer token the HTTP endpoint asks for.
    #[arg(long, alias = "metrics-token", env = "MODSYNCLOG_AGENT_HTTP_TOKEN", hide_env_values = true)]
    pub http_token: Option<String>,
    /// Ship what the files hold now, then exit (batch use). A last line without its
    /// newline is shipped too, as it stands.
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
    etcd: Option<String>,
    etcd_key: Option<String>,
    etcd_ca: Option<PathBuf>,
    #[serde(alias = "metrics_addr")]
    http_addr: Option<SocketAddr>,
    #[serde(alias = "metrics_token")]
    http_token: Option<String>,
    /// Parsed by [`parse_inputs`].
    #[serde(default)]
    #[allow(dead_code)]
    input: Vec<toml::Value>,
}

/// The settled agent: its configuration and its inputs.
pub struct Settled {
    pub config: AgentConfig,
    /// The inputs of the config file and `--path` (the config centre's come later).
    pub inputs: Vec<Input>,
    pub dry_run: bool,
    pub centre: Option<CentreConfig>,
    /// Where to serve metrics, and the token scrapers must send.
    pub metrics: Option<(SocketAddr, Option<String>)>,
    pub(crate) config_file: Option<PathBuf>,
    pub(crate) cli_input: Option<String>,
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
        let etcd = self.etcd.or(file.etcd);
        let inputs = load_inputs(&text, cli_input.as_deref(), etcd.is_some())?;
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
        let centre = etcd.map(|endpoint| CentreConfig {
            endpoint,
            key: self.etcd_key.or(file.etcd_key).unwrap_or_else(|| format!("/modsynclog/agent/{agent_id}")),
            tls: ClientTls { ca_file: self.etcd_ca.or(file.etcd_ca), ..ClientTls::default() },
        });
        if let Some(c) = &centre {
            modsynclog_core::tls::endpoint(&c.endpoint, &c.tls).map_err(|e| anyhow!("--etcd: {}", e.message()))?;
        }
        // The variables of older releases still count, below the new ones.
        let old_token = std::env::var("MODSYNCLOG_AGENT_METRICS_TOKEN").ok();
        let http_token = self.http_token.or(old_token).or(file.http_token).filter(|t| !t.is_empty());
        let addr = self.http_addr.or(crate::config::old_env_addr("MODSYNCLOG_AGENT_METRICS_ADDR")?);
        let metrics = addr.or(file.http_addr).map(|addr| (addr, http_token));
        if let Some((addr, None)) = &metrics
            && !addr.ip().is_loopback()
        {
            bail!("refusing to serve HTTP on {addr} (not loopback) without --http-token");
        }
        let config = AgentConfig {
            server,
            token: auth.token()?,
            tls: auth.tls(),
            agent_id,
            state_dir: self.state_dir.or(file.state_dir).unwrap_or_else(|| PathBuf::from("./modsynclog-agent-state")),
            max_in_flight_bytes,
            once: self.once,
        };
        Ok(Settled { config, inputs, dry_run: self.dry_run, centre, metrics, config_file: self.config, cli_input })
    }
}

/// The `[[input]]` text of the `--path` flags.
fn cli_input(paths: &[String], ty: Option<i16>) -> String {
    let quoted: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
    let ty = ty.map(|t| format!("type = {t}\n")).unwrap_or_default();
    format!("[[input]]\nname = \"cli\"\npaths = [{}]\n{ty}", quoted.join(", "))
}

/// The inputs of the config file's text, then the `--path` input. None at all is fine
/// only when a config centre may bring some.
pub(crate) fn load_inputs(text: &str, cli: Option<&str>, centre: bool) -> Result<Vec<Input>> {
    let mut inputs = parse_inputs(text).map_err(anyhow::Error::msg)?;
    if let Some(cli) = cli {
        inputs.extend(parse_inputs(cli).map_err(anyhow::Error::msg)?);
    }
    if inputs.is_empty() && !centre {
        bail!("nothing to ship: give --path GLOB, [[input]] sections in --config, or --etcd");
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
