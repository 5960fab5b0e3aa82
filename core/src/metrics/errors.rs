//! Errors answered to clients, counted by kind: `modsynclog_errors_total{kind}`.
//!
//! Counted where an [`Error`](crate::Error) becomes a gRPC status or closes a legacy sync
//! connection. One counter per kind for the whole process: a server runs once per
//! process, and a static needs no plumbing through every service.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;

use crate::error::ErrorKind;

const KINDS: usize = ErrorKind::ALL.len();
static ERRORS: [AtomicU64; KINDS] = [const { AtomicU64::new(0) }; KINDS];

fn slot(kind: ErrorKind) -> usize {
    ErrorKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// Counts one error of `kind` answered to a client.
pub fn count(kind: ErrorKind) {
    ERRORS[slot(kind)].fetch_add(1, Ordering::Relaxed);
}

/// `InvalidArgument` → `invalid_argument`.
fn label(kind: ErrorKind) -> String {
    let mut out = String::new();
    for (i, c) in kind.name().chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[derive(Debug, Default)]
pub struct ErrorMetrics;

impl Collector for ErrorMetrics {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let help = "Errors answered to clients, by kind";
        let mut family = e.encode_descriptor("errors", help, None, prometheus_client::metrics::MetricType::Counter)?;
        for kind in ErrorKind::ALL {
            let c = ConstCounter::new(ERRORS[slot(kind)].load(Ordering::Relaxed));
            c.encode(family.encode_family(&[("kind", label(kind))])?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_snake_case() {
        assert_eq!(label(ErrorKind::InvalidArgument), "invalid_argument");
        assert_eq!(label(ErrorKind::Io), "io");
        assert_eq!(label(ErrorKind::NoSpace), "no_space");
    }
}
