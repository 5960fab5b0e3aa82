//! A record as readers and replicas see it.

use bytes::Bytes;

use crate::date::Date;

/// One log record: its position `(date, id)`, the time and type it was stored with, and
/// its payload. `data` is a cheap-to-clone view into a shared buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub date: Date,
    pub id: u64,
    /// Unix seconds, as stored.
    pub time: i32,
    pub ty: i16,
    pub data: Bytes,
}
