//! Bearer-token authentication of the native gRPC services.
//!
//! With a token configured, every call to a `modsynclog.v1` service must carry the
//! metadata `authorization: Bearer <token>`; anything else is refused with
//! `Unauthenticated` before the handler runs. Without a token every call passes.

use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::{Request, Status};

/// A tonic interceptor checking the bearer token (if one is configured).
#[derive(Debug, Clone, Default)]
pub struct BearerAuth {
    token: Option<Arc<[u8]>>,
}

impl BearerAuth {
    pub fn new(token: Option<&str>) -> Self {
        BearerAuth { token: token.map(|t| Arc::from(t.as_bytes())) }
    }

    /// Whether `header` (the full `authorization` value) carries the expected token.
    pub fn accepts(&self, header: Option<&[u8]>) -> bool {
        let Some(expected) = &self.token else { return true };
        let Some(given) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else { return false };
        constant_time_eq(given, expected)
    }
}

/// Compares without stopping at the first difference, so timing does not leak the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Interceptor for BearerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let header = request.metadata().get("authorization").map(|v| v.as_bytes());
        if self.accepts(header) { Ok(request) } else { Err(Status::unauthenticated("missing or wrong bearer token")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_the_bearer_token() {
        let open = BearerAuth::new(None);
        assert!(open.accepts(None));
        let auth = BearerAuth::new(Some("s3cret"));
        assert!(auth.accepts(Some(b"Bearer s3cret")));
        assert!(!auth.accepts(Some(b"Bearer s3cres")));
        assert!(!auth.accepts(Some(b"s3cret")));
        assert!(!auth.accepts(None));
    }
}
