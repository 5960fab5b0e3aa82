//! Where "now" and "today" come from, so tests can cross midnight on demand.
//!
//! The server stamps records with [`Clock::unix_seconds`] and files them under
//! [`Clock::today`]; replicas compute their first day from it. [`SystemClock`] reads the
//! machine's clock (local calendar by default, as the original does, or UTC);
//! [`ManualClock`] is set by hand in tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Local, Utc};

use crate::date::Date;

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn unix_seconds(&self) -> i64;
    /// The calendar day the instant `unix_seconds` belongs to, in this clock's calendar
    /// (where a record stamped then is filed).
    fn date_at(&self, unix_seconds: i64) -> Date;
    /// The calendar day the current instant belongs to.
    fn today(&self) -> Date {
        self.date_at(self.unix_seconds())
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// The machine's clock, with days by the local calendar or by UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock {
    pub utc: bool,
}

impl Clock for SystemClock {
    fn unix_seconds(&self) -> i64 {
        Utc::now().timestamp()
    }
    fn date_at(&self, unix_seconds: i64) -> Date {
        if self.utc { utc_date_of(unix_seconds) } else { local_date_of(unix_seconds) }
    }
    fn today(&self) -> Date {
        if self.utc { Date::today_utc() } else { Date::today_local() }
    }
}

/// A clock that only moves when told to. Days are UTC days of the instant it holds.
#[derive(Debug, Default)]
pub struct ManualClock {
    secs: AtomicI64,
}

impl ManualClock {
    pub fn new(unix_seconds: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock { secs: AtomicI64::new(unix_seconds) })
    }

    pub fn set(&self, unix_seconds: i64) {
        self.secs.store(unix_seconds, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: i64) {
        self.secs.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn unix_seconds(&self) -> i64 {
        self.secs.load(Ordering::SeqCst)
    }
    fn date_at(&self, unix_seconds: i64) -> Date {
        utc_date_of(unix_seconds)
    }
}

/// The UTC calendar day of `unix_seconds`.
pub fn utc_date_of(unix_seconds: i64) -> Date {
    let t = DateTime::<Utc>::from_timestamp(unix_seconds, 0).unwrap_or_default();
    Date::from_naive(t.date_naive())
}

/// Today in the machine's local calendar at `unix_seconds` (used by tools that print times).
pub fn local_date_of(unix_seconds: i64) -> Date {
    let t = DateTime::<Utc>::from_timestamp(unix_seconds, 0).unwrap_or_default();
    Date::from_naive(t.with_timezone(&Local).date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_crosses_midnight() {
        // 2026-11-21 23:59:59 UTC
        let c = ManualClock::new(1_795_305_599);
        assert_eq!(c.today().to_string(), "2026-11-21");
        c.advance(1);
        assert_eq!(c.today().to_string(), "2026-11-22");
        assert_eq!(c.unix_seconds(), 1_795_305_600);
    }
}
