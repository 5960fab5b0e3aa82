//! The credential and TLS flags every client command shares (`sync`, `send`, `status`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use modsynclog_core::tls::ClientTls;

#[derive(Debug, Default, Clone, Args)]
pub struct ClientAuthArgs {
    /// Bearer token the server requires. Prefer --token-file: a flag shows in `ps`.
    #[arg(long, env = "MODSYNCLOG_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the token (one line; surrounding whitespace is ignored).
    #[arg(long, env = "MODSYNCLOG_TOKEN_FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// CA (PEM) that signed the server's certificate, for an https:// server
    /// [default: the system's trusted roots].
    #[arg(long, env = "MODSYNCLOG_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for a server that requires one (mTLS).
    #[arg(long, env = "MODSYNCLOG_CLIENT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, env = "MODSYNCLOG_CLIENT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Name the server's certificate must carry, when it is not the address's host.
    #[arg(long, env = "MODSYNCLOG_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,
}

impl ClientAuthArgs {
    /// The token, read from its file if given that way.
    pub fn token(&self) -> Result<Option<String>> {
        let token = match (&self.token, &self.token_file) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(path)) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("read token file {}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            (None, None) => None,
        };
        Ok(token.filter(|t| !t.is_empty()))
    }

    pub fn tls(&self) -> ClientTls {
        ClientTls {
            ca_file: self.tls_ca.clone(),
            cert_file: self.tls_cert.clone(),
            key_file: self.tls_key.clone(),
            server_name: self.tls_server_name.clone(),
        }
    }
}
