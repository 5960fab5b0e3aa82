//! The read token on `/metrics` and `/api/*`: `Authorization: Bearer TOKEN`, or
//! `access_token=TOKEN` in the query (what an `EventSource` can send). Compared in
//! constant time by the core's access policy, as the gRPC port does.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use modsynclog_core::access::{AccessPolicy, Scope};
use modsynclog_core::throttle::LogThrottle;

use crate::api::error_response;

pub(crate) struct Auth {
    policy: Option<AccessPolicy>,
}

impl Auth {
    pub(crate) fn new(token: Option<String>) -> Auth {
        Auth { policy: token.map(|t| AccessPolicy::new(None, Some(&t), false, None, None)) }
    }
}

static FAILURES: LogThrottle = LogThrottle::new(10, std::time::Duration::from_secs(60));

/// The query's `access_token`, as an `Authorization` value.
fn query_token(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| pair.strip_prefix("access_token=")).map(|t| format!("Bearer {t}"))
}

pub(crate) async fn check(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    let Some(policy) = &auth.policy else { return next.run(request).await };
    let header = request.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes().to_vec());
    let given = header.or_else(|| request.uri().query().and_then(query_token).map(String::into_bytes));
    match policy.check(Scope::Read, given.as_deref(), None) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            if let Some(suppressed) = FAILURES.allow() {
                tracing::warn!(path = %request.uri().path(), suppressed, "http auth failure: {e}");
            }
            let mut response = error_response(StatusCode::UNAUTHORIZED, &e);
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            response.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_query_token() {
        assert_eq!(query_token("type=3&access_token=abc").as_deref(), Some("Bearer abc"));
        assert_eq!(query_token("type=3"), None);
    }
}
