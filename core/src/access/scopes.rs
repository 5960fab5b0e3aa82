//! Scopes and the credentials that grant them.
//!
//! A call needs the scope of its service: `Write` for `modsynclog.v1.Ingest`, `Read` for
//! `modsynclog.v1.Sync` (and the metrics endpoint when it is not on loopback). A scope is
//! granted by a bearer token configured for it, or, with mTLS, by a verified client
//! certificate: any one when no names are configured for the scope, else one whose
//! common name or DNS name is in the scope's list.
//!
//! A scope with neither tokens nor mTLS configured is open (the loopback default). A
//! credential that is valid for the other scope only is `PermissionDenied`; a missing or
//! unknown one is `Unauthenticated`. Tokens are compared in constant time.

use std::sync::Arc;

use subtle::ConstantTimeEq;
use tonic::service::Interceptor;
use tonic::{Request, Status};

use super::PeerInfo;
use crate::error::{Error, ErrorKind};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Append records (ingest).
    Write,
    /// Copy and inspect the store (sync, status, metrics).
    Read,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Write => "write (ingest)",
            Scope::Read => "read (sync)",
        }
    }

    fn other(self) -> Scope {
        match self {
            Scope::Write => Scope::Read,
            Scope::Read => Scope::Write,
        }
    }
}

/// The credentials of one scope. `Debug` shows how many tokens, never their bytes.
#[derive(Clone, Default)]
struct Grants {
    tokens: Vec<Vec<u8>>,
    /// `None`: any verified client certificate; `Some`: only these names.
    cert_names: Option<Vec<String>>,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants").field("tokens", &self.tokens.len()).field("cert_names", &self.cert_names).finish()
    }
}

/// Which credentials grant which scope.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    write: Grants,
    read: Grants,
    /// Client certificates are verified by the TLS layer (`--tls-client-ca`).
    mtls: bool,
}

impl AccessPolicy {
    /// Tokens per scope (`None`: no token for it), whether mTLS is on, and the certificate
    /// names allowed per scope (`None`: any verified certificate).
    pub fn new(
        write_token: Option<&str>,
        read_token: Option<&str>,
        mtls: bool,
        write_names: Option<Vec<String>>,
        read_names: Option<Vec<String>>,
    ) -> Self {
        let tokens = |t: Option<&str>| t.map(|t| vec![t.as_bytes().to_vec()]).unwrap_or_default();
        AccessPolicy {
            write: Grants { tokens: tokens(write_token), cert_names: write_names },
            read: Grants { tokens: tokens(read_token), cert_names: read_names },
            mtls,
        }
    }

    fn grants(&self, scope: Scope) -> &Grants {
        match scope {
            Scope::Write => &self.write,
            Scope::Read => &self.read,
        }
    }

    /// Whether anything protects `scope` (a token or mTLS); if not, everyone has it.
    pub fn protects(&self, scope: Scope) -> bool {
        self.mtls || !self.grants(scope).tokens.is_empty()
    }

    /// Whether a bearer token is configured for `scope`.
    pub fn has_token(&self, scope: Scope) -> bool {
        !self.grants(scope).tokens.is_empty()
    }

    fn token_grants(&self, scope: Scope, given: &[u8]) -> bool {
        // Every configured token is compared, so the time taken does not say which matched.
        self.grants(scope).tokens.iter().fold(false, |hit, t| hit | bool::from(t.as_slice().ct_eq(given)))
    }

    fn cert_grants(&self, scope: Scope, names: &[String]) -> bool {
        match &self.grants(scope).cert_names {
            None => true,
            Some(allowed) => names.iter().any(|n| allowed.contains(n)),
        }
    }

    /// Checks a caller: `authorization` header value and verified client certificate
    /// names (`None` without a certificate).
    pub fn check(&self, scope: Scope, authorization: Option<&[u8]>, cert: Option<&[String]>) -> Result<(), Error> {
        if !self.protects(scope) {
            return Ok(());
        }
        // Failing this, a token may still grant it (a shared client certificate plus a token).
        if self.mtls
            && let Some(names) = cert
            && self.cert_grants(scope, names)
        {
            return Ok(());
        }
        let token = authorization.and_then(|h| h.strip_prefix(b"Bearer "));
        if let Some(token) = token {
            if self.token_grants(scope, token) {
                return Ok(());
            }
            if self.token_grants(scope.other(), token) {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    format!("this token does not grant the {} scope", scope.name()),
                ));
            }
        }
        if let Some(names) = cert
            && self.mtls
        {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!("client certificate {names:?} does not grant the {} scope", scope.name()),
            ));
        }
        Err(Error::new(
            ErrorKind::Unauthenticated,
            if token.is_some() { "wrong bearer token" } else { "missing credentials: send a bearer token" },
        ))
    }

    /// The tonic interceptor for a service of `scope`.
    pub fn guard(self: &Arc<Self>, scope: Scope) -> ScopeGuard {
        ScopeGuard { policy: self.clone(), scope }
    }
}

/// The common names and DNS names of a DER certificate (empty when it does not parse).
pub fn cert_names(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else { return Vec::new() };
    let mut names: Vec<String> =
        cert.subject().iter_common_name().filter_map(|cn| cn.as_str().ok().map(str::to_string)).collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                names.push(dns.to_string());
            }
        }
    }
    names
}

/// Auth failure lines: 10 a minute at most (a client retrying a wrong token is one line
/// per attempt otherwise).
pub(crate) static AUTH_FAILURES: crate::throttle::LogThrottle =
    crate::throttle::LogThrottle::new(10, std::time::Duration::from_secs(60));

/// A tonic interceptor requiring one scope.
#[derive(Debug, Clone)]
pub struct ScopeGuard {
    policy: Arc<AccessPolicy>,
    scope: Scope,
}

impl Interceptor for ScopeGuard {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        if !self.policy.protects(self.scope) {
            return Ok(request);
        }
        let header = request.metadata().get("authorization").map(|v| v.as_bytes());
        let names = request
            .extensions()
            .get::<PeerInfo>()
            .and_then(|p| p.certs.as_ref())
            .and_then(|chain| chain.first())
            .map(|leaf| cert_names(leaf.as_ref()));
        match self.policy.check(self.scope, header, names.as_deref()) {
            Ok(()) => Ok(request),
            Err(e) => {
                // The reason only ("wrong bearer token"), never what was sent.
                if let Some(suppressed) = AUTH_FAILURES.allow() {
                    let peer = request.extensions().get::<PeerInfo>().and_then(|p| p.remote_addr);
                    tracing::warn!(?peer, scope = ?self.scope, suppressed, "auth failure: {e}");
                }
                Err(crate::grpc::status_from(&e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_separate() {
        let p = AccessPolicy::new(Some("w"), Some("r"), false, None, None);
        assert!(p.check(Scope::Write, Some(b"Bearer w"), None).is_ok());
        assert!(p.check(Scope::Read, Some(b"Bearer r"), None).is_ok());
        assert_eq!(p.check(Scope::Read, Some(b"Bearer w"), None).unwrap_err().kind(), ErrorKind::PermissionDenied);
        assert_eq!(p.check(Scope::Write, Some(b"Bearer r"), None).unwrap_err().kind(), ErrorKind::PermissionDenied);
        assert_eq!(p.check(Scope::Write, Some(b"Bearer x"), None).unwrap_err().kind(), ErrorKind::Unauthenticated);
        assert_eq!(p.check(Scope::Write, None, None).unwrap_err().kind(), ErrorKind::Unauthenticated);
        assert_eq!(p.check(Scope::Write, Some(b"w"), None).unwrap_err().kind(), ErrorKind::Unauthenticated);
    }

    #[test]
    fn one_token_for_both_and_open_scopes() {
        let both = AccessPolicy::new(Some("t"), Some("t"), false, None, None);
        assert!(both.check(Scope::Write, Some(b"Bearer t"), None).is_ok());
        assert!(both.check(Scope::Read, Some(b"Bearer t"), None).is_ok());
        let open = AccessPolicy::default();
        assert!(open.check(Scope::Write, None, None).is_ok());
        let write_only = AccessPolicy::new(Some("w"), None, false, None, None);
        assert!(write_only.check(Scope::Read, None, None).is_ok(), "an unprotected scope is open");
        assert!(!write_only.protects(Scope::Read));
    }

    #[test]
    fn certificates_grant_by_name() {
        let p = AccessPolicy::new(None, None, true, Some(vec!["ingest-client".into()]), None);
        let ingest = vec!["ingest-client".to_string()];
        let replica = vec!["replica-client".to_string()];
        assert!(p.check(Scope::Write, None, Some(&ingest)).is_ok());
        assert_eq!(p.check(Scope::Write, None, Some(&replica)).unwrap_err().kind(), ErrorKind::PermissionDenied);
        assert!(p.check(Scope::Read, None, Some(&replica)).is_ok(), "no names: any verified certificate");
        assert_eq!(p.check(Scope::Read, None, None).unwrap_err().kind(), ErrorKind::Unauthenticated);
    }
}
