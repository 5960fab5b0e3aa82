//! Keeping each producer's batches in order after one of them failed to be stored.
//!
//! A producer pipelines its batches (seq s, s+1, ...), and the writer's queue may still
//! hold s+1 when the group holding s fails (a full disk). Storing s+1 then would move the
//! producer's last stored seq past s, and the resend of s would be taken for a duplicate
//! and never stored: an acknowledged loss. So once a batch of a producer fails, its later
//! batches are refused with the same error until the producer resends from that batch
//! (a seq at or below it), which it does after every failure.

use std::collections::HashMap;

use crate::error::{Error, ErrorKind, Result};

/// Producers remembered at most; past it the oldest failure is forgotten (a producer
/// that never comes back must not hold memory forever).
const MAX_FAILED: usize = 10_000;

#[derive(Debug, Default)]
pub(super) struct Gaps {
    /// Per producer: the first seq that failed, with the failure, and when (a counter).
    failed: HashMap<String, (u64, ErrorKind, String, u64)>,
    clock: u64,
}

impl Gaps {
    /// `producer`'s batch `seq` was not stored because of `err`.
    pub(super) fn failed(&mut self, producer: &str, seq: u64, err: &Error) {
        self.clock += 1;
        let clock = self.clock;
        let slot = self.failed.entry(producer.to_string()).or_insert((seq, err.kind(), String::new(), clock));
        if seq <= slot.0 {
            *slot = (seq, err.kind(), err.message().to_string(), clock);
        }
        if self.failed.len() > MAX_FAILED
            && let Some(oldest) = self.failed.iter().min_by_key(|(_, s)| s.3).map(|(p, _)| p.clone())
        {
            self.failed.remove(&oldest);
        }
    }

    /// Whether `producer`'s batch `seq` may be stored now. The resend of the failed batch
    /// (or of an earlier one) clears the failure; a later batch gets its error.
    pub(super) fn check(&mut self, producer: &str, seq: u64) -> Result<()> {
        let Some(&(first, kind, ref message, _)) = self.failed.get(producer) else { return Ok(()) };
        if seq <= first {
            self.failed.remove(producer);
            return Ok(());
        }
        Err(Error::new(
            kind,
            format!("batch {first} of this producer failed ({message}); batch {seq} waits for it to be resent"),
        ))
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.failed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_batches_wait_for_the_resend_of_the_failed_one() {
        let mut gaps = Gaps::default();
        let full = Error::new(ErrorKind::NoSpace, "the disk is full");
        gaps.failed("p", 7, &full);
        gaps.failed("p", 8, &full);
        assert!(gaps.check("q", 9).is_ok(), "other producers go on");
        let err = gaps.check("p", 8).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoSpace);
        assert!(err.message().contains("batch 7") && err.message().contains("disk is full"), "{err}");
        assert!(gaps.check("p", 7).is_ok(), "the resend");
        assert!(gaps.check("p", 8).is_ok(), "then the rest, in order");
        assert_eq!(gaps.len(), 0);
    }

    #[test]
    fn memory_is_bounded() {
        let mut gaps = Gaps::default();
        let err = Error::new(ErrorKind::Io, "x");
        for i in 0..MAX_FAILED + 5 {
            gaps.failed(&format!("p{i}"), 1, &err);
        }
        assert_eq!(gaps.len(), MAX_FAILED);
        assert!(gaps.check("p0", 2).is_ok(), "the oldest was forgotten");
    }
}
