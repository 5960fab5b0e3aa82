//! The start-up check: what protects each port, and a refusal to serve a public address
//! without protection.
//!
//! Rules (each refusal names the flag that fixes it):
//! - a non-loopback gRPC address needs each scope protected (a token for it, or mTLS),
//!   unless `insecure` (then a warning is logged);
//! - the legacy gRPC service (no credentials) is served on loopback when the write scope
//!   has no token, and otherwise only with `allow_legacy`; on a non-loopback address it
//!   also needs an explicit `legacy_allow` list;
//! - the legacy sync socket (no credentials: the send flag is not a secret) on a
//!   non-loopback address needs an explicit `legacy_allow` list;
//! - tokens over plaintext on a non-loopback address are allowed, with a warning.

use crate::access::{AccessPolicy, AllowList, Scope};
use crate::error::{Error, Result};

use super::ServerConfig;

/// What [`check`] decided.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) policy: AccessPolicy,
    pub(crate) legacy_grpc: bool,
    pub(crate) legacy_allow: AllowList,
}

fn non_empty(t: &Option<String>) -> Option<&str> {
    t.as_deref().filter(|t| !t.is_empty())
}

/// Checks `config` and works out the access policy; `InvalidArgument` when it would serve
/// a public address unprotected.
pub(crate) fn check(config: &ServerConfig) -> Result<Plan> {
    let write_token = non_empty(&config.ingest_token).or(non_empty(&config.token));
    let read_token = non_empty(&config.sync_token).or(non_empty(&config.token));
    let mtls = config.tls.as_ref().is_some_and(|t| t.client_ca_file.is_some());
    if !mtls && (config.ingest_cert_names.is_some() || config.sync_cert_names.is_some()) {
        return Err(Error::invalid("certificate names for a scope need client certificates: give --tls-client-ca"));
    }
    let policy = AccessPolicy::new(
        write_token,
        read_token,
        mtls,
        config.ingest_cert_names.clone(),
        config.sync_cert_names.clone(),
    );
    let addr = config.grpc_addr;
    let public = !addr.ip().is_loopback();
    let open: Vec<&str> = [(Scope::Write, "write (ingest)"), (Scope::Read, "read (sync)")]
        .into_iter()
        .filter(|(s, _)| !policy.protects(*s))
        .map(|(_, n)| n)
        .collect();
    if public && !open.is_empty() {
        if !config.insecure {
            return Err(Error::invalid(format!(
                "refusing to serve {addr} (not loopback) with the {} scope open to anyone: give --token (or \
                 --ingest-token and --sync-token), or --tls-client-ca for client certificates, or --insecure \
                 to serve it unprotected anyway",
                open.join(" and ")
            )));
        }
        tracing::warn!(%addr, open = ?open, "--insecure: anyone who can reach this address can use these scopes");
    }
    if public && config.tls.is_none() && (policy.has_token(Scope::Write) || policy.has_token(Scope::Read)) {
        tracing::warn!(%addr, "bearer tokens travel in cleartext on this address: give --tls-cert and --tls-key");
    }
    let legacy_grpc = config.allow_legacy || (!public && !policy.protects(Scope::Write));
    let explicit = config.legacy_allow.is_some();
    if legacy_grpc && public && !explicit {
        return Err(Error::invalid(format!(
            "the legacy gRPC service has no credentials and {addr} is not loopback: give --legacy-allow with \
             the networks of the Go SDK clients (CIDRs), or drop --allow-legacy"
        )));
    }
    if let Some(sync) = config.sync_addr
        && !sync.ip().is_loopback()
        && !explicit
    {
        return Err(Error::invalid(format!(
            "the legacy sync socket has no credentials (the send flag is not a secret) and {sync} is not \
             loopback: give --legacy-allow with the replicas' networks (CIDRs), or --sync-addr off"
        )));
    }
    let legacy_allow = config.legacy_allow.clone().unwrap_or_default();
    if explicit && legacy_allow.allows("8.8.8.8".parse().expect("an address")) {
        tracing::warn!(allow = %legacy_allow, "--legacy-allow admits public addresses to the credential-less legacy services");
    }
    Ok(Plan { policy, legacy_grpc, legacy_allow })
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::error::ErrorKind;

    fn cfg(addr: &str) -> ServerConfig {
        ServerConfig { grpc_addr: addr.parse::<SocketAddr>().unwrap(), ..ServerConfig::default() }
    }

    #[test]
    fn public_needs_protection() {
        assert!(check(&cfg("127.0.0.1:1")).unwrap().legacy_grpc, "loopback default keeps the Go SDK working");
        let e = check(&cfg("0.0.0.0:1")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("--insecure"), "{e}");
        let insecure = ServerConfig { insecure: true, ..cfg("0.0.0.0:1") };
        assert!(!check(&insecure).unwrap().legacy_grpc, "public: legacy needs --allow-legacy");
        let half = ServerConfig { ingest_token: Some("w".into()), ..cfg("0.0.0.0:1") };
        assert!(check(&half).unwrap_err().to_string().contains("read (sync)"));
        let both = ServerConfig { token: Some("t".into()), ..cfg("0.0.0.0:1") };
        assert!(!check(&both).unwrap().legacy_grpc);
    }

    #[test]
    fn legacy_on_public_needs_an_allow_list() {
        let legacy = ServerConfig { token: Some("t".into()), allow_legacy: true, ..cfg("0.0.0.0:1") };
        assert!(check(&legacy).unwrap_err().to_string().contains("--legacy-allow"));
        let allowed = ServerConfig { legacy_allow: Some(AllowList::parse("10.0.0.0/8").unwrap()), ..legacy };
        assert!(check(&allowed).unwrap().legacy_grpc);
        let sync = ServerConfig { sync_addr: Some("0.0.0.0:2".parse().unwrap()), ..cfg("127.0.0.1:1") };
        assert!(check(&sync).unwrap_err().to_string().contains("legacy sync socket"));
    }
}
