//! Which records a search or a follower wants: a type, a substring of the payload, a
//! regular expression over it. The substring search is `memchr`'s SIMD `memmem`; the
//! expression is the `regex` crate's, bounded in size since it comes from a URL.

use memchr::memmem::Finder;
use modsynclog_core::{Error, ErrorKind, Record, Result};
use regex::bytes::{Regex, RegexBuilder};

/// Longest pattern or search text taken from a request.
pub const MAX_PATTERN_LEN: usize = 1024;
/// Memory a compiled expression may use.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, Default)]
pub struct Filter {
    ty: Option<i16>,
    text: Option<Finder<'static>>,
    re: Option<Regex>,
}

impl Filter {
    /// A filter of `ty`, `text` (a substring) and `re` (an expression); empty strings are
    /// no filter. `InvalidArgument` for a pattern that is too long or does not compile.
    pub fn new(ty: Option<i16>, text: Option<&str>, re: Option<&str>) -> Result<Filter> {
        let text = text.filter(|t| !t.is_empty());
        let re = re.filter(|r| !r.is_empty());
        for s in [text, re].into_iter().flatten() {
            if s.len() > MAX_PATTERN_LEN {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("search text longer than {MAX_PATTERN_LEN} bytes"),
                ));
            }
        }
        let re = match re {
            Some(pattern) => Some(
                RegexBuilder::new(pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("bad regular expression: {e}")))?,
            ),
            None => None,
        };
        Ok(Filter { ty, text: text.map(|t| Finder::new(t.as_bytes()).into_owned()), re })
    }

    pub fn is_empty(&self) -> bool {
        self.ty.is_none() && self.text.is_none() && self.re.is_none()
    }

    pub fn matches(&self, record: &Record) -> bool {
        self.ty.is_none_or(|t| t == record.ty)
            && self.text.as_ref().is_none_or(|f| f.find(&record.data).is_some())
            && self.re.as_ref().is_none_or(|re| re.is_match(&record.data))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use modsynclog_core::Date;

    use super::*;

    fn record(ty: i16, data: &'static str) -> Record {
        Record {
            date: Date::parse("2026-11-30").unwrap(),
            id: 0,
            time: 0,
            ty,
            data: Bytes::from_static(data.as_bytes()),
        }
    }

    #[test]
    fn every_part_must_match() {
        let f = Filter::new(Some(3), Some("needle"), Some(r"user=\d+")).unwrap();
        assert!(f.matches(&record(3, "a needle for user=42")));
        assert!(!f.matches(&record(4, "a needle for user=42")));
        assert!(!f.matches(&record(3, "a pin for user=42")));
        assert!(!f.matches(&record(3, "a needle for user=x")));
        assert!(Filter::new(None, Some(""), None).unwrap().is_empty());
    }

    #[test]
    fn bad_patterns_are_invalid_arguments() {
        assert_eq!(Filter::new(None, None, Some("(")).unwrap_err().kind(), ErrorKind::InvalidArgument);
        let long = "x".repeat(MAX_PATTERN_LEN + 1);
        assert_eq!(Filter::new(None, Some(&long), None).unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}
