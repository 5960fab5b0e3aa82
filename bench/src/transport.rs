//! Plaintext or TLS for `modsynclog-bench server`: the test certificates, the settings of
//! the server and of its native clients, and the side-by-side table of the two.
//!
//! TLS uses the certificates of `modsynclog-testcerts` (an ECDSA P-256 CA and a server
//! certificate for `localhost` and `127.0.0.1`), made fresh in a temporary folder per run;
//! clients connect to `https://localhost:PORT` trusting only that CA. Legacy paths (unary
//! `grpc_proto_log.Log` calls, the sync socket) stay plaintext: Go peers cannot speak TLS.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use modsynclog_core::tls::{ClientTls, ServerTls};

/// The targets: TLS may cost at most this share of throughput...
const MAX_RATE_COST: f64 = 0.15;
/// ...and at most this much p99 lag (ms).
const MAX_P99_COST_MS: f64 = 2.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    Plain,
    Tls,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Plain => "plain",
            Transport::Tls => "tls",
        }
    }
}

/// The certificate files of one run (deleted with it).
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// How one run's server and native clients connect.
#[derive(Clone)]
pub struct Net {
    pub transport: Transport,
    pki: Option<Arc<Pki>>,
}

impl Net {
    /// Plaintext, or TLS with certificates written into a new folder under `tmp`.
    pub fn new(transport: Transport, tmp: Option<&PathBuf>) -> Result<Net> {
        let pki = match transport {
            Transport::Plain => None,
            Transport::Tls => {
                let dir = match tmp {
                    Some(t) => tempfile::tempdir_in(t)?,
                    None => tempfile::tempdir()?,
                };
                modsynclog_testcerts::TestPki::write(dir.path()).map_err(|e| anyhow!("test certificates: {e}"))?;
                let path = |name: &str| dir.path().join(name);
                let (ca, cert, key) = (path("ca.pem"), path("server.pem"), path("server.key"));
                Some(Arc::new(Pki { _dir: dir, ca, cert, key }))
            }
        };
        Ok(Net { transport, pki })
    }

    pub fn is_tls(&self) -> bool {
        self.pki.is_some()
    }

    /// `ServerConfig::tls` of an in-process server.
    pub fn server_tls(&self) -> Option<ServerTls> {
        self.pki.as_ref().map(|p| ServerTls {
            cert_file: p.cert.clone(),
            key_file: p.key.clone(),
            client_ca_file: None,
        })
    }

    /// The flags giving a `modsynclog-server` process the same.
    pub fn server_flags(&self) -> Vec<OsString> {
        match &self.pki {
            Some(p) => vec!["--tls-cert".into(), p.cert.clone().into(), "--tls-key".into(), p.key.clone().into()],
            None => Vec::new(),
        }
    }

    /// `ProducerOptions::tls` and `ReplicaConfig::tls`.
    pub fn client_tls(&self) -> ClientTls {
        match &self.pki {
            Some(p) => ClientTls { ca_file: Some(p.ca.clone()), ..ClientTls::default() },
            None => ClientTls::default(),
        }
    }

    /// The address a native client dials for the server listening on `addr` (`host:port`):
    /// the same in plaintext, `https://localhost:PORT` with TLS.
    pub fn url(&self, addr: &str) -> String {
        match &self.pki {
            Some(_) => format!("https://localhost:{}", addr.rsplit(':').next().unwrap_or_default()),
            None => addr.to_string(),
        }
    }
}

/// What a figure measures, and so which way is better.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Records/s: higher is better; the cost is the share lost.
    Rate,
    /// Milliseconds: lower is better; the cost is the time added.
    Millis,
    /// KiB of memory: lower is better; the cost is the memory added.
    KiB,
    /// CPU nanoseconds per record: lower is better; the cost is the share added.
    CpuNs,
}

/// One comparable figure of a row.
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub kind: Kind,
}

pub fn metric(name: &'static str, value: f64, kind: Kind) -> Metric {
    Metric { name, value, kind }
}

/// A measured row as far as the comparison needs it.
pub struct Measured<'a> {
    pub section: &'a str,
    pub case: &'a str,
    pub transport: Transport,
    pub metrics: &'a [Metric],
}

/// Prints plaintext and TLS side by side for every case measured with both, with the
/// difference (TLS minus plaintext: % of the rate, ms of latency, KiB of memory) and, where
/// the issue sets one, whether the target holds.
pub fn print_comparison<'a>(rows: impl IntoIterator<Item = Measured<'a>> + Clone) {
    let find = |section: &str, case: &str, transport: Transport, name: &str| {
        rows.clone()
            .into_iter()
            .find(|r| r.section == section && r.case == case && r.transport == transport)
            .and_then(|r| r.metrics.iter().find(|m| m.name == name).map(|m| m.value))
    };
    let mut lines = Vec::new();
    for r in rows.clone().into_iter().filter(|r| r.transport == Transport::Plain) {
        for m in r.metrics {
            let Some(tls) = find(r.section, r.case, Transport::Tls, m.name) else { continue };
            let plain = m.value;
            let (plain_s, tls_s, cost, verdict) = match m.kind {
                Kind::Rate => {
                    let cost = (plain - tls) / plain;
                    let verdict = if cost <= MAX_RATE_COST { "held" } else { "MISSED" };
                    (thousands(plain), thousands(tls), format!("{:+.1}%", -cost * 100.0), Some(verdict))
                }
                Kind::Millis => {
                    let added = tls - plain;
                    let verdict =
                        (m.name == "p99 ms").then_some(if added <= MAX_P99_COST_MS { "held" } else { "MISSED" });
                    (format!("{plain:.2}"), format!("{tls:.2}"), format!("{added:+.2} ms"), verdict)
                }
                Kind::CpuNs => {
                    (format!("{plain:.0}"), format!("{tls:.0}"), format!("{:+.1}%", (tls / plain - 1.0) * 100.0), None)
                }
                Kind::KiB => {
                    let added = tls - plain;
                    (thousands(plain), thousands(tls), format!("{:+.0} KiB", added), None)
                }
            };
            let target = match (m.kind, verdict) {
                (Kind::Rate, Some(v)) => format!("cost <= {:.0}%: {v}", MAX_RATE_COST * 100.0),
                (Kind::Millis, Some(v)) => format!("added <= {MAX_P99_COST_MS} ms: {v}"),
                _ => String::new(),
            };
            lines.push(format!(
                "{:<10} {:<52} {:<12} {:>12} {:>12} {:>11}  {target}",
                r.section, r.case, m.name, plain_s, tls_s, cost
            ));
        }
    }
    if lines.is_empty() {
        return;
    }
    println!();
    println!("plaintext against TLS, same run:");
    println!(
        "{:<10} {:<52} {:<12} {:>12} {:>12} {:>11}  target",
        "section", "case", "figure", "plain", "tls", "tls-plain"
    );
    println!("{}", "-".repeat(144));
    for l in lines {
        println!("{l}");
    }
}

/// 1234567.8 -> "1,234,568".
pub fn thousands(r: f64) -> String {
    let s = (r.round() as u64).to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
