//! librdkafka's logs and errors, without the flood: while a broker is away, librdkafka
//! reports every failed connect and every poll says "all brokers down", many times a
//! second. Each kind of message is logged at most once per [`EVERY`], with the number of
//! repeats left out since, at `warn` (the clients reconnect by themselves; an operator
//! wants to know, not to be paged twice a second).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;

/// Shortest time between two logs of one kind of message.
pub const EVERY: Duration = Duration::from_secs(30);

/// Kinds of messages seen at most (their count is bounded by librdkafka's facilities and
/// error codes; this guards against one that embeds changing text).
const MAX_KINDS: usize = 256;

#[derive(Debug, Default)]
pub struct Quiet {
    seen: Mutex<HashMap<String, (Instant, u64)>>,
}

impl Quiet {
    /// Whether to log a message of `kind` now: `Some(repeats left out since the last)`.
    pub fn allow(&self, kind: &str) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if seen.len() >= MAX_KINDS && !seen.contains_key(kind) {
            seen.retain(|_, (at, _)| now.duration_since(*at) < EVERY);
        }
        match seen.get_mut(kind) {
            Some((at, skipped)) if now.duration_since(*at) < EVERY => {
                *skipped += 1;
                None
            }
            Some((at, skipped)) => {
                *at = now;
                Some(std::mem::take(skipped))
            }
            None => {
                seen.insert(kind.to_string(), (now, 0));
                Some(0)
            }
        }
    }

    /// For `ClientContext::log`: librdkafka's own log lines, by facility.
    pub fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if matches!(level, RDKafkaLogLevel::Debug | RDKafkaLogLevel::Info | RDKafkaLogLevel::Notice) {
            return tracing::debug!(target: "librdkafka", "{fac} {message}");
        }
        if let Some(skipped) = self.allow(fac) {
            tracing::warn!(target: "librdkafka", skipped, "{fac} {message}");
        }
    }

    /// For `ClientContext::error`: global errors, by error.
    pub fn error(&self, error: &KafkaError, reason: &str) {
        if let Some(skipped) = self.allow(&error.to_string()) {
            tracing::warn!(target: "librdkafka", skipped, "{error}: {reason}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_once_then_the_count() {
        let q = Quiet::default();
        assert_eq!(q.allow("FAIL"), Some(0));
        assert_eq!(q.allow("FAIL"), None);
        assert_eq!(q.allow("FAIL"), None);
        assert_eq!(q.allow("REQTMOUT"), Some(0));
        q.seen.lock().unwrap().get_mut("FAIL").unwrap().0 -= EVERY;
        assert_eq!(q.allow("FAIL"), Some(2));
    }
}
