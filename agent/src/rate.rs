//! A token bucket per input: records and bytes per second, with a second's worth of burst.

use std::time::{Duration, Instant};

use crate::config::Rate;

#[derive(Debug)]
pub struct Bucket {
    rate: Rate,
    records: f64,
    bytes: f64,
    at: Instant,
}

impl Bucket {
    pub fn new(rate: Rate) -> Bucket {
        // Starts empty: a restart does not begin with a burst.
        Bucket { rate, records: 0.0, bytes: 0.0, at: Instant::now() }
    }

    fn refill(&mut self, now: Instant) {
        let secs = now.duration_since(self.at).as_secs_f64();
        self.at = now;
        if let Some(r) = self.rate.records {
            self.records = (self.records + secs * r as f64).min(r as f64);
        }
        if let Some(b) = self.rate.bytes {
            self.bytes = (self.bytes + secs * b as f64).min(b as f64);
        }
    }

    /// How many of the next records (their sizes in `sizes`, in order) may go now.
    pub fn allowed(&mut self, sizes: impl Iterator<Item = usize>) -> usize {
        self.refill(Instant::now());
        let mut records = match self.rate.records {
            Some(_) => self.records.floor() as usize,
            None => usize::MAX,
        };
        if let Some(limit) = self.rate.bytes {
            let mut budget = self.bytes;
            let mut n = 0;
            for size in sizes.take(records) {
                // A record larger than a second's worth goes alone once the bucket is full.
                let size = (size as f64).min(limit as f64);
                if size > budget {
                    break;
                }
                budget -= size;
                n += 1;
            }
            records = n;
        }
        records
    }

    /// Takes `records` records of `bytes` bytes.
    pub fn take(&mut self, records: usize, bytes: usize) {
        if let Some(limit) = self.rate.bytes {
            self.bytes -= (bytes as f64).min(limit as f64);
        }
        if self.rate.records.is_some() {
            self.records -= records as f64;
        }
    }

    /// When at least one more record may go.
    pub fn next_refill(&self) -> Duration {
        let wait = |have: f64, per_s: Option<u64>| match per_s {
            Some(r) if have < 1.0 => Duration::from_secs_f64((1.0 - have) / r as f64),
            _ => Duration::ZERO,
        };
        wait(self.records, self.rate.records).max(Duration::from_millis(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_worth_at_most_and_refilled_with_time() {
        let mut b = Bucket::new(Rate { records: Some(1000), bytes: None });
        b.at -= Duration::from_secs(5);
        assert_eq!(b.allowed(std::iter::repeat(10)), 1000, "a second's worth, not five");
        b.take(1000, 10_000);
        assert_eq!(b.allowed(std::iter::repeat(10)), 0);
        b.at -= Duration::from_millis(100);
        let n = b.allowed(std::iter::repeat(10));
        assert!((99..=101).contains(&n), "{n}");

        let mut b = Bucket::new(Rate { records: None, bytes: Some(100) });
        b.at -= Duration::from_secs(1);
        assert_eq!(b.allowed([40, 40, 40].into_iter()), 2);
    }
}
