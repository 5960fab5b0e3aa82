//! Who may do what on the server's ports: scopes, tokens, client certificates, and
//! address allow-lists. Protocol-neutral: the gRPC services, the legacy sync socket and
//! the metrics endpoint all ask here.
//!
//! - [`Scope`]: `Write` (ingest) and `Read` (sync, status, metrics);
//! - [`AccessPolicy`]: the tokens and client-certificate names that grant each scope;
//!   [`ScopeGuard`] is its tonic interceptor;
//! - [`AllowList`]: CIDRs for the services that have no credentials of their own (the
//!   legacy gRPC service and the legacy sync socket).

mod allow;
mod scopes;

pub use allow::{AllowList, LegacyGuard};
pub use scopes::{AccessPolicy, Scope, ScopeGuard, cert_names};

use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;

/// Who is on the other end of a connection; the gRPC listener puts it in every request's
/// extensions.
#[derive(Debug, Clone, Default)]
pub struct PeerInfo {
    pub remote_addr: Option<SocketAddr>,
    /// The client's certificate chain (leaf first), verified, when it presented one.
    pub certs: Option<Arc<Vec<CertificateDer<'static>>>>,
}

/// The caller's address, from the [`PeerInfo`] the gRPC listener attached.
pub fn peer_addr<T>(request: &tonic::Request<T>) -> Option<SocketAddr> {
    request.extensions().get::<PeerInfo>().and_then(|p| p.remote_addr)
}
