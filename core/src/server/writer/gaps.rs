//! Keeping each producer's batches in order after one of them failed to be stored.
//!
//! A producer pipelines its batches (seq s, s+1, ...), and the writer's queue may still
//! hold s+1 when the group holding s fails (a full disk). Storing s+1 then would move the
//! producer's last stored seq past s, and the resend of s would be taken for a duplicate
//! and never stored: an acknowledged loss. So once a batch of a producer fails, its later
//! batches are refused with the same error until the producer resends from that batch
//! (a seq at or below it), which it does after every failure.
//!
//! The resend comes on a new stream, and the old one may still be delivering: a
//! half-open connection whose last batches reach the server late. Had the old stream's
//! s+2 come after the resend of s, it would be stored before the resend of s+1, which
//! would then be taken for a duplicate. So the stream that resent (its [`Origin::stream`],
//! numbered in the order calls begin) is remembered, and batches of the producer's older
//! streams are refused from then on (`Unavailable`: a producer still alive on one of
//! them reconnects and resends, on a newer stream).

use std::collections::HashMap;

use super::Origin;
use crate::error::{Error, ErrorKind, Result};

/// Producers remembered at most; past it the one seen least recently is forgotten (a
/// producer that never comes back must not hold memory forever).
const MAX_PRODUCERS: usize = 10_000;

/// What is known of a producer that had a batch fail.
#[derive(Debug)]
struct Slot {
    /// The first seq that failed and was not resent yet, with the failure.
    failed: Option<(u64, ErrorKind, String)>,
    /// The newest stream that resent a failed batch: older streams are refused.
    resumed: u64,
    /// Recency (a counter): the least recent slot is evicted first.
    used: u64,
}

#[derive(Debug, Default)]
pub(super) struct Gaps {
    producers: HashMap<String, Slot>,
    clock: u64,
}

impl Gaps {
    /// `producer`'s batch `seq` was not stored because of `err`. A refusal for good
    /// (`InvalidArgument`, `TooLarge`: the producer drops the batch, it never comes back)
    /// leaves no gap to wait for.
    pub(super) fn failed(&mut self, origin: &Origin, err: &Error) {
        if err.is_refusal() {
            return;
        }
        self.clock += 1;
        let used = self.clock;
        let slot = self.producers.entry(origin.producer.clone()).or_insert(Slot { failed: None, resumed: 0, used });
        slot.used = used;
        if slot.failed.as_ref().is_none_or(|&(first, ..)| origin.seq <= first) {
            slot.failed = Some((origin.seq, err.kind(), err.message().to_string()));
        }
        if self.producers.len() > MAX_PRODUCERS
            && let Some(oldest) = self.producers.iter().min_by_key(|(_, s)| s.used).map(|(p, _)| p.clone())
        {
            self.producers.remove(&oldest);
        }
    }

    /// Whether the batch may be stored now. The resend of the failed batch (or of an
    /// earlier one) clears the failure; a later batch gets its error, and a batch of a
    /// stream older than the one that resent is refused.
    pub(super) fn check(&mut self, origin: &Origin) -> Result<()> {
        let Some(slot) = self.producers.get_mut(&origin.producer) else { return Ok(()) };
        if origin.stream < slot.resumed {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "batch {} came on an older stream of this producer than the one that resent its failed batch; \
                     resend it on the new stream",
                    origin.seq
                ),
            ));
        }
        match &slot.failed {
            Some((first, ..)) if origin.seq <= *first => {
                slot.failed = None;
                slot.resumed = origin.stream;
                Ok(())
            }
            Some((first, kind, message)) => Err(Error::new(
                *kind,
                format!(
                    "batch {first} of this producer failed ({message}); batch {} waits for it to be resent",
                    origin.seq
                ),
            )),
            None => Ok(()),
        }
    }

    #[cfg(test)]
    pub(super) fn failing(&self) -> usize {
        self.producers.values().filter(|s| s.failed.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(stream: u64, seq: u64) -> Origin {
        Origin::new("p", seq).on_stream(stream)
    }

    #[test]
    fn later_batches_wait_for_the_resend_of_the_failed_one() {
        let mut gaps = Gaps::default();
        let full = Error::new(ErrorKind::NoSpace, "the disk is full");
        gaps.failed(&on(1, 7), &full);
        gaps.failed(&on(1, 8), &full);
        assert!(gaps.check(&Origin::new("q", 9)).is_ok(), "other producers go on");
        let err = gaps.check(&on(1, 8)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoSpace);
        assert!(err.message().contains("batch 7") && err.message().contains("disk is full"), "{err}");
        assert!(gaps.check(&on(1, 7)).is_ok(), "the resend");
        assert!(gaps.check(&on(1, 8)).is_ok(), "then the rest, in order");
        assert_eq!(gaps.failing(), 0);
    }

    #[test]
    fn once_a_newer_stream_resent_the_older_ones_are_refused() {
        let mut gaps = Gaps::default();
        gaps.failed(&on(1, 7), &Error::new(ErrorKind::NoSpace, "full"));
        assert!(gaps.check(&on(2, 7)).is_ok(), "the resend, on stream 2");
        let err = gaps.check(&on(1, 9)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(err.message().contains("older stream"), "{err}");
        assert!(gaps.check(&on(2, 8)).is_ok());
        assert!(gaps.check(&on(3, 9)).is_ok(), "a newer stream still goes");
        // A later failure keeps what was learnt of the streams.
        gaps.failed(&on(3, 10), &Error::new(ErrorKind::Io, "EIO"));
        assert!(gaps.check(&on(1, 10)).is_err());
        assert!(gaps.check(&on(3, 10)).is_ok());
        assert!(gaps.check(&on(1, 11)).is_err(), "still older than the resending stream");
    }

    #[test]
    fn a_refusal_for_good_leaves_no_gap() {
        let mut gaps = Gaps::default();
        gaps.failed(&on(1, 7), &Error::new(ErrorKind::TooLarge, "day 2026-11-21 is full"));
        assert!(gaps.check(&on(1, 8)).is_ok(), "7 is never resent: 8 must not wait for it");
    }

    #[test]
    fn memory_is_bounded() {
        let mut gaps = Gaps::default();
        let err = Error::new(ErrorKind::Io, "x");
        for i in 0..MAX_PRODUCERS + 5 {
            gaps.failed(&Origin::new(format!("p{i}"), 1), &err);
        }
        assert_eq!(gaps.producers.len(), MAX_PRODUCERS);
        assert!(gaps.check(&Origin::new("p0", 2)).is_ok(), "the oldest was forgotten");
    }
}
