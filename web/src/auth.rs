//! Who may call the endpoint.
//!
//! - With a token (the server's read scope, or `--http-token`), `/metrics` and `/api/*`
//!   need it: `Authorization: Bearer TOKEN`, or `access_token=TOKEN` in the query (what an
//!   `EventSource` can send). Compared in constant time by the core's access policy, as
//!   the gRPC port does. The console's static files need none: they hold no data.
//! - Without a token the endpoint is on loopback (the binaries refuse otherwise, unless
//!   `--insecure`), and a request must name a loopback host: a page of another site that
//!   rebinds its name to 127.0.0.1 (DNS rebinding) gets 403, not the logs.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use modsynclog_core::access::{AccessPolicy, Scope};
use modsynclog_core::throttle::LogThrottle;
use modsynclog_core::{Error, ErrorKind};

use crate::api::error_response;

pub(crate) struct Auth {
    policy: Option<AccessPolicy>,
    /// No token, bound to loopback: check the `Host` of each request.
    check_host: bool,
}

impl Auth {
    pub(crate) fn new(token: Option<String>, bound: SocketAddr) -> Auth {
        let check_host = token.is_none() && bound.ip().is_loopback();
        Auth { policy: token.map(|t| AccessPolicy::new(None, Some(&t), false, None, None)), check_host }
    }
}

static FAILURES: LogThrottle = LogThrottle::new(10, std::time::Duration::from_secs(60));

/// The query's `access_token` (percent-decoded, as a browser encodes it), as an
/// `Authorization` value.
fn query_token(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "access_token").map(|(_, t)| format!("Bearer {t}"))
}

/// Whether a `Host` header names this machine: `localhost`, `127.x.x.x` or `[::1]`, with
/// any port.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn refused(status: StatusCode, e: Error, request: &Request) -> Response {
    if let Some(suppressed) = FAILURES.allow() {
        tracing::warn!(path = %request.uri().path(), suppressed, "http request refused: {e}");
    }
    let mut response = error_response(status, &e);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    response.into_response()
}

/// The token check of `/metrics` and `/api/*`.
pub(crate) async fn check(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    let Some(policy) = &auth.policy else { return next.run(request).await };
    let header = request.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes().to_vec());
    let given = header.or_else(|| request.uri().query().and_then(query_token).map(String::into_bytes));
    match policy.check(Scope::Read, given.as_deref(), None) {
        Ok(()) => next.run(request).await,
        Err(e) => refused(StatusCode::UNAUTHORIZED, e, &request),
    }
}

/// The `Host` check of every path, when there is no token.
pub(crate) async fn local_host(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    // A client without a Host header (HTTP/1.0) is no browser.
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string);
    match host {
        Some(host) if auth.check_host && !loopback_host(&host) => {
            let e = Error::new(
                ErrorKind::PermissionDenied,
                format!("this endpoint answers requests for localhost only, not {host:?} (or give it a token)"),
            );
            refused(StatusCode::FORBIDDEN, e, &request)
        }
        _ => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_query_token_decoded() {
        assert_eq!(query_token("type=3&access_token=abc").as_deref(), Some("Bearer abc"));
        assert_eq!(query_token("access_token=a%2Bb%3D").as_deref(), Some("Bearer a+b="));
        assert_eq!(query_token("type=3"), None);
    }

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "localhost:8080", "127.0.0.1:1", "127.1.2.3", "[::1]:8080", "LOCALHOST"] {
            assert!(loopback_host(host), "{host}");
        }
        for host in ["evil.example:8080", "10.0.0.1", "[::2]:80", "localhost.evil.example"] {
            assert!(!loopback_host(host), "{host}");
        }
    }
}
