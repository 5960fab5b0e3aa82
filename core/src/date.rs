//! Calendar dates as the store names them.
//!
//! A [`Date`] is always a real calendar day. It is written `YYYY-MM-DD` on the wire and
//! in APIs, and `YYYYMMDD` as a day folder. Parsing is strict on purpose: a date that
//! arrives from the network becomes a path, so nothing but exactly ten (or eight) ASCII
//! characters of a valid date is ever accepted.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

use crate::error::{Error, Result};

/// A calendar day between 0001-01-01 and 9999-12-31.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(NaiveDate);

impl Date {
    /// Builds a date from its parts; fails unless it is a real calendar day.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Result<Date> {
        if !(1..=9999).contains(&year) {
            return Err(Error::invalid(format!("year {year} is out of range 1..=9999")));
        }
        NaiveDate::from_ymd_opt(year, month, day)
            .map(Date)
            .ok_or_else(|| Error::invalid(format!("{year:04}-{month:02}-{day:02} is not a calendar date")))
    }

    /// Parses `YYYY-MM-DD` exactly (no spaces, signs or missing zeros).
    pub fn parse(s: &str) -> Result<Date> {
        let b = s.as_bytes();
        let bad = || Error::invalid(format!("{s:?} is not a date of the form YYYY-MM-DD"));
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let year = digits(&b[0..4]).ok_or_else(bad)?;
        let month = digits(&b[5..7]).ok_or_else(bad)?;
        let day = digits(&b[8..10]).ok_or_else(bad)?;
        Date::from_ymd(year as i32, month, day)
    }

    /// Parses a day folder name, exactly eight digits `YYYYMMDD`; `None` for anything else.
    pub fn from_folder_name(name: &str) -> Option<Date> {
        let b = name.as_bytes();
        if b.len() != 8 {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[4..6])?;
        let day = digits(&b[6..8])?;
        Date::from_ymd(year as i32, month, day).ok()
    }

    /// The folder name of this day, `YYYYMMDD`.
    pub fn folder_name(self) -> String {
        format!("{:04}{:02}{:02}", self.0.year(), self.0.month(), self.0.day())
    }

    /// The next calendar day (saturates at 9999-12-31).
    pub fn succ(self) -> Date {
        self.0.succ_opt().map(Date).unwrap_or(self)
    }

    /// The day before (saturates at 0001-01-01).
    pub fn pred(self) -> Date {
        self.0.pred_opt().filter(|d| d.year() >= 1).map(Date).unwrap_or(self)
    }

    /// This day moved by `days` (negative goes back).
    pub fn add_days(self, days: i64) -> Date {
        self.0
            .checked_add_signed(chrono::TimeDelta::days(days))
            .filter(|d| (1..=9999).contains(&d.year()))
            .map(Date)
            .unwrap_or(self)
    }

    /// Today by the machine's local calendar.
    pub fn today_local() -> Date {
        Date(chrono::Local::now().date_naive())
    }

    /// Today in UTC.
    pub fn today_utc() -> Date {
        Date(chrono::Utc::now().date_naive())
    }

    /// Wraps a chrono date (clamped into years 1..=9999).
    pub fn from_naive(d: NaiveDate) -> Date {
        let min = NaiveDate::from_ymd_opt(1, 1, 1).expect("valid");
        let max = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid");
        Date(d.clamp(min, max))
    }

    pub fn naive(self) -> NaiveDate {
        self.0
    }
}

impl From<Date> for NaiveDate {
    fn from(d: Date) -> NaiveDate {
        d.0
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0.year(), self.0.month(), self.0.day())
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Date {
    type Err = Error;
    fn from_str(s: &str) -> Result<Date> {
        Date::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_both_forms() {
        let d = Date::parse("2026-11-21").unwrap();
        assert_eq!(d.to_string(), "2026-11-21");
        assert_eq!(d.folder_name(), "20261121");
        assert_eq!(Date::from_folder_name("20261121"), Some(d));
        assert_eq!(d.succ().to_string(), "2026-11-22");
        assert_eq!(Date::parse("2026-12-31").unwrap().succ().to_string(), "2027-01-01");
        assert_eq!(Date::parse("2024-03-01").unwrap().pred().to_string(), "2024-02-29");
        assert_eq!(d.add_days(-7).to_string(), "2026-11-14");
    }

    #[test]
    fn rejects_anything_that_is_not_exactly_a_date() {
        for s in [
            "",
            "2026-2-01",
            "2026-02-30",
            "2025-02-29",
            "2026-13-01",
            "2026-00-10",
            "../../etc",
            "2026/11/21",
            "2026-11-21 ",
            " 2026-11-21",
            "+026-11-21",
            "0000-01-01",
            "2026-11-2x",
            "２026-11-21",
        ] {
            assert!(Date::parse(s).is_err(), "{s:?} was accepted");
        }
        for s in ["2026112", "202611211", "2026-112", "20260230", "abcdefgh", "../etc/x", "２0261121"] {
            assert_eq!(Date::from_folder_name(s), None, "{s:?} was accepted");
        }
        assert!(Date::parse("2024-02-29").is_ok());
    }
}
