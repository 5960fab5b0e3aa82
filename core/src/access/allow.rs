//! Address allow-lists (CIDRs) for the services without credentials.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;
use tonic::service::Interceptor;
use tonic::{Request, Status};

use super::PeerInfo;
use crate::error::{Error, Result};

/// The addresses a service answers; everyone else is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    nets: Vec<IpNet>,
}

impl Default for AllowList {
    /// Loopback only (`127.0.0.0/8`, `::1/128`).
    fn default() -> Self {
        AllowList::loopback()
    }
}

impl AllowList {
    pub fn loopback() -> Self {
        AllowList { nets: vec![IpNet::from_str("127.0.0.0/8").unwrap(), IpNet::from_str("::1/128").unwrap()] }
    }

    /// Parses `"10.0.0.0/8, 192.168.1.7, ::1"` (a bare address is a /32 or /128).
    pub fn parse(text: &str) -> Result<Self> {
        let mut nets = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match IpNet::from_str(part) {
                Ok(net) => net,
                Err(_) => IpAddr::from_str(part)
                    .map(IpNet::from)
                    .map_err(|_| Error::invalid(format!("{part:?} is not an address or CIDR (like 10.0.0.0/8)")))?,
            };
            nets.push(net.trunc());
        }
        if nets.is_empty() {
            return Err(Error::invalid("an allow-list needs at least one address or CIDR"));
        }
        Ok(AllowList { nets })
    }

    /// Whether `ip` is inside one of the nets (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Whether it admits only loopback addresses.
    pub fn is_loopback_only(&self) -> bool {
        self.nets.iter().all(|n| n.network().is_loopback())
    }
}

impl std::fmt::Display for AllowList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.nets.iter().map(|n| n.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

/// A tonic interceptor refusing callers outside the allow-list with `PermissionDenied`
/// (for the legacy `grpc_proto_log.Log` service, which carries no credentials).
#[derive(Debug, Clone)]
pub struct LegacyGuard {
    allow: Arc<AllowList>,
}

impl LegacyGuard {
    pub fn new(allow: AllowList) -> Self {
        LegacyGuard { allow: Arc::new(allow) }
    }
}

impl Interceptor for LegacyGuard {
    fn call(&mut self, request: Request<()>) -> std::result::Result<Request<()>, Status> {
        // The modsynclog listener attaches PeerInfo; tonic's own listener, TcpConnectInfo.
        let addr = request.extensions().get::<PeerInfo>().and_then(|p| p.remote_addr).or_else(|| request.remote_addr());
        let denied = |why: String| {
            if let Some(suppressed) = super::scopes::AUTH_FAILURES.allow() {
                tracing::warn!(suppressed, "legacy gRPC refused: {why}");
            }
            Err(crate::grpc::status_from(&Error::new(crate::error::ErrorKind::PermissionDenied, why)))
        };
        match addr {
            Some(a) if self.allow.allows(a.ip()) => Ok(request),
            Some(a) => denied(format!("{} may not use the legacy service (not in --legacy-allow)", a.ip())),
            // No address, no way to check it: fail closed.
            None => denied("the caller's address is unknown; the legacy service needs it".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let l = AllowList::parse("10.0.0.0/8, 192.168.1.7,::1").unwrap();
        assert!(l.allows("10.1.2.3".parse().unwrap()));
        assert!(l.allows("192.168.1.7".parse().unwrap()));
        assert!(!l.allows("192.168.1.8".parse().unwrap()));
        assert!(l.allows("::ffff:10.0.0.1".parse().unwrap()));
        assert!(l.allows("::1".parse().unwrap()));
        assert!(!l.is_loopback_only());
        assert!(AllowList::default().allows("127.0.0.1".parse().unwrap()));
        assert!(!AllowList::default().allows("10.0.0.1".parse().unwrap()));
        assert!(AllowList::default().is_loopback_only());
        assert!(AllowList::parse("nonsense").is_err());
        assert!(AllowList::parse(" , ").is_err());
        assert_eq!(AllowList::parse("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
    }
}
