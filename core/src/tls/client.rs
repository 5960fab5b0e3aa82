//! The client end: which addresses mean TLS, and the tonic `Endpoint` for one.
//!
//! `https://host:port` is TLS: the server's certificate is checked against
//! [`ClientTls::ca_file`] (or, without one, the system's trusted roots) and the host name
//! (or [`ClientTls::server_name`]). `http://host:port` and a bare `host:port` are
//! plaintext, as before; giving TLS files with a plaintext address is refused rather than
//! silently sending the token in the clear.

use std::path::PathBuf;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use super::pem;
use crate::error::{Error, Result};

/// A client's TLS settings; the default (all `None`) trusts the system roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// PEM file of the CA(s) that signed the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate (chain) presented to a server that requires client certificates.
    pub cert_file: Option<PathBuf>,
    /// The PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// The name the server's certificate must carry, when it is not the address's host
    /// (an IP address, or a name behind a load balancer).
    pub server_name: Option<String>,
}

impl ClientTls {
    /// Whether any TLS setting was given.
    pub fn is_set(&self) -> bool {
        *self != ClientTls::default()
    }
}

/// `host:port` (plaintext), `http://host:port` or `https://host:port` as a tonic
/// `Endpoint`, with TLS set up for `https`. Reads the PEM files now, so a missing or bad
/// file is reported here (`NotFound`/`InvalidArgument`), not at the first connection.
pub fn endpoint(addr: &str, tls: &ClientTls) -> Result<Endpoint> {
    let addr = addr.trim();
    if addr.is_empty() {
        return Err(Error::invalid("empty server address"));
    }
    let url = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
    let secure = match url.split_once("://").map(|(s, _)| s.to_ascii_lowercase()) {
        Some(s) if s == "https" => true,
        Some(s) if s == "http" => false,
        _ => return Err(Error::invalid(format!("server address {addr:?}: use host:port, http:// or https://"))),
    };
    let endpoint = Endpoint::from_shared(url).map_err(|e| Error::invalid(format!("server address {addr:?}: {e}")))?;
    if !secure {
        if tls.is_set() {
            return Err(Error::invalid(format!(
                "TLS files or a server name were given, but {addr:?} is a plaintext address: write https://{}",
                addr.trim_start_matches("http://")
            )));
        }
        return Ok(endpoint);
    }
    endpoint.tls_config(client_config(tls)?).map_err(|e| Error::invalid(format!("TLS for {addr:?}: {e}")))
}

fn client_config(tls: &ClientTls) -> Result<ClientTlsConfig> {
    let mut config = ClientTlsConfig::new();
    config = match &tls.ca_file {
        Some(ca) => config.ca_certificate(Certificate::from_pem(pem::read(ca)?)),
        None => config.with_native_roots(),
    };
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            // Parse both now so a bad file is reported with its name.
            pem::certs(cert)?;
            pem::private_key(key)?;
            config = config.identity(Identity::from_pem(pem::read(cert)?, pem::read(key)?));
        }
        (None, None) => {}
        _ => return Err(Error::invalid("a client certificate needs its key, and a key its certificate")),
    }
    if let Some(name) = &tls.server_name {
        config = config.domain_name(name.clone());
    }
    Ok(config)
}

/// A transport error with its whole cause chain: tonic's own text is only "transport
/// error", while the reason a TLS connection failed (unknown issuer, expired, name
/// mismatch, certificate required) is several sources down.
pub fn explain_transport_error(err: &(dyn std::error::Error + 'static)) -> String {
    with_causes(err.to_string(), err.source())
}

/// `text`, then each cause in the chain from `source` that it does not already say.
fn with_causes(mut text: String, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// Whether tonic made `status` on this side from a transport failure (it carries the
/// cause as its source) rather than receiving it from the server. Its code then says
/// nothing of the server's verdict: tonic maps HTTP/2 resets to codes such as
/// `ResourceExhausted` (`ENHANCE_YOUR_CALM`) and `PermissionDenied` (`INADEQUATE_SECURITY`).
pub fn from_transport(status: &tonic::Status) -> bool {
    std::error::Error::source(status).is_some()
}

/// A status's message with the causes behind it. A call that failed in the transport
/// (for example plaintext to a TLS port) only says "transport error"; the hint says what
/// usually causes that. It names the plainest cause first: a server that stopped or
/// restarted breaks plaintext connections the same way.
pub fn status_detail(status: &tonic::Status) -> String {
    let mut text = with_causes(status.message().to_string(), std::error::Error::source(status));
    if text.contains("transport error") {
        text.push_str(TRANSPORT_HINT);
    }
    text
}

/// What [`status_detail`] adds to a transport error.
const TRANSPORT_HINT: &str = " (the connection broke: the server stopped or restarted; if it keeps breaking, a \
     TLS server is reached with https://, and one that requires client certificates needs --tls-cert and \
     --tls-key)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn schemes_decide_tls() {
        let plain = ClientTls::default();
        assert!(endpoint("127.0.0.1:1", &plain).is_ok());
        assert!(endpoint("http://127.0.0.1:1", &plain).is_ok());
        assert!(endpoint("https://localhost:1", &plain).is_ok(), "system roots");
        let with_ca = ClientTls { ca_file: Some("/nonexistent/ca.pem".into()), ..ClientTls::default() };
        assert_eq!(endpoint("127.0.0.1:1", &with_ca).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(endpoint("https://h:1", &with_ca).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(endpoint("ftp://h:1", &plain).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(endpoint(" ", &plain).unwrap_err().kind(), ErrorKind::InvalidArgument);
        let half = ClientTls { cert_file: Some("/x".into()), ..ClientTls::default() };
        assert_eq!(endpoint("https://h:1", &half).unwrap_err().kind(), ErrorKind::InvalidArgument);
    }

    /// A broken connection names the plain cause (the server went away) before the TLS
    /// ones; other failures get no hint.
    #[test]
    fn transport_errors_get_a_hint_that_starts_with_the_plain_cause() {
        let broken = status_detail(&tonic::Status::unavailable("error trying to connect: transport error"));
        assert!(
            broken.ends_with(" (the connection broke: the server stopped or restarted; if it keeps breaking, a TLS server is reached with https://, and one that requires client certificates needs --tls-cert and --tls-key)"),
            "{broken}"
        );
        assert_eq!(status_detail(&tonic::Status::not_found("no such day")), "no such day");
    }
}
