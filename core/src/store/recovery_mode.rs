//! What opening a store does about damage in the days that are not finished.
//!
//! | mode | a torn tail (a crash mid-append) | damage before the tail |
//! |---|---|---|
//! | `tail` (default) | cut off, each repair logged | under `never`/`interval` the whole day is checked and cut back to the first damaged record; under `batch` only the tail is checked (synced data cannot be damaged by a crash) |
//! | `strict` | refuse to open, naming the day and record | refuse to open, naming the day and record |
//!
//! Finished days are never checked at open (`modsynclog-client verify` reads them all).
//! Before any of this, opening puts back the index entries that the index groups in the
//! writer's journal describe and the disk lost (see [`super::index_group`]): under
//! `batch` the server acknowledges a group before its index is synced, so those entries
//! are not damage but the last step of a commit. Only when the index ends before such a
//! group (records before it lost) does `strict` refuse.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recovery {
    /// Repair: cut what a crash left behind, and log it.
    #[default]
    Tail,
    /// Refuse to open on any damage; an operator decides (for example, by opening with
    /// `tail` after looking at `verify`'s report).
    Strict,
}

impl FromStr for Recovery {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "tail" => Ok(Recovery::Tail),
            "strict" => Ok(Recovery::Strict),
            other => {
                Err(Error::new(ErrorKind::InvalidArgument, format!("recovery {other:?}: expected `tail` or `strict`")))
            }
        }
    }
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Recovery::Tail => "tail",
            Recovery::Strict => "strict",
        })
    }
}
