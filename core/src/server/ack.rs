//! When the server answers an append: after the fsync policy, or as soon as it is written.
//!
//! Native producers always get [`AckWhen::Durable`]. The legacy gRPC service can be told
//! to answer at [`AckWhen::Written`], for the original SDK's one-call-per-record pattern:
//! the original answered before even writing, so `written` still promises more than it did.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};

/// The point at which a queued batch is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckWhen {
    /// Once the store's durability policy is met: under `--fsync batch`, after the
    /// `fdatasync`s; under `interval` and `never`, once written (as `Written`).
    #[default]
    Durable,
    /// Once written to the store's files, before any fsync: a crash of the server process
    /// loses nothing, a power loss can lose what was answered in the last second or so.
    /// A group of such batches alone skips the fsync; the writer syncs within a second,
    /// and before any later durable batch.
    Written,
}

impl FromStr for AckWhen {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "durable" => Ok(AckWhen::Durable),
            "written" => Ok(AckWhen::Written),
            other => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("acknowledge {other:?}: expected `durable` or `written`"),
            )),
        }
    }
}

impl fmt::Display for AckWhen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AckWhen::Durable => "durable",
            AckWhen::Written => "written",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_both() {
        for when in [AckWhen::Durable, AckWhen::Written] {
            assert_eq!(when.to_string().parse::<AckWhen>().unwrap(), when);
        }
        assert_eq!("sometime".parse::<AckWhen>().unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}
