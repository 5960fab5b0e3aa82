//! The headers every exported message carries, and reading them back.
//!
//! | header | value (UTF-8 text) |
//! |---|---|
//! | `msl-date` | the record's day, `YYYY-MM-DD` |
//! | `msl-id` | its id within the day, decimal |
//! | `msl-type` | its record type, decimal (-32768..32767) |
//! | `msl-time` | its stored time, Unix seconds, decimal |
//!
//! Text rather than binary so that console consumers and other languages read them
//! without knowing our byte order.

use modsynclog_core::record::Record;
use modsynclog_core::{Date, Error, ErrorKind, Result};
use rdkafka::message::{Header, Headers, OwnedHeaders};

pub const DATE: &str = "msl-date";
pub const ID: &str = "msl-id";
pub const TYPE: &str = "msl-type";
pub const TIME: &str = "msl-time";

/// The headers of `record`'s message.
pub fn of(record: &Record) -> OwnedHeaders {
    let (date, id, ty, time) =
        (record.date.to_string(), record.id.to_string(), record.ty.to_string(), record.time.to_string());
    OwnedHeaders::new_with_capacity(4)
        .insert(Header { key: DATE, value: Some(date.as_bytes()) })
        .insert(Header { key: ID, value: Some(id.as_bytes()) })
        .insert(Header { key: TYPE, value: Some(ty.as_bytes()) })
        .insert(Header { key: TIME, value: Some(time.as_bytes()) })
}

/// Where a message came from: its record's date, id and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    pub date: Date,
    pub id: u64,
    pub ty: i16,
}

/// Reads `msl-date`, `msl-id` and `msl-type` back; `Protocol` when one is missing or bad
/// (a message this exporter did not write).
pub fn origin<H: Headers>(headers: Option<&H>) -> Result<Origin> {
    let value = |key: &str| -> Result<&str> {
        let found = headers.and_then(|h| h.iter().find(|h| h.key == key)).and_then(|h| h.value);
        let bytes = found.ok_or_else(|| bad(format!("no {key} header")))?;
        std::str::from_utf8(bytes).map_err(|_| bad(format!("the {key} header is not UTF-8")))
    };
    let date = Date::parse(value(DATE)?).map_err(|e| bad(format!("{DATE}: {e}")))?;
    let id = value(ID)?.parse().map_err(|_| bad(format!("{ID} is not a record id")))?;
    let ty = value(TYPE)?.parse().map_err(|_| bad(format!("{TYPE} is not a 16-bit type")))?;
    Ok(Origin { date, id, ty })
}

fn bad(message: String) -> Error {
    Error::new(ErrorKind::Protocol, format!("not a modsynclog message: {message}"))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn a_record_s_headers_read_back() {
        let date = Date::parse("2026-11-29").unwrap();
        let record = Record { date, id: 41, time: 1_764_000_000, ty: -7, data: Bytes::new() };
        let headers = of(&record);
        assert_eq!(origin(Some(&headers)).unwrap(), Origin { date, id: 41, ty: -7 });
        assert_eq!(headers.get(0).value, Some(&b"2026-11-29"[..]));
        assert_eq!(headers.get(3).value, Some(&b"1764000000"[..]));
    }

    #[test]
    fn a_foreign_message_is_refused() {
        let none: Option<&OwnedHeaders> = None;
        assert_eq!(origin(none).unwrap_err().kind(), ErrorKind::Protocol);
        let partial = OwnedHeaders::new().insert(Header { key: DATE, value: Some(&b"2026-11-29"[..]) });
        assert!(origin(Some(&partial)).unwrap_err().to_string().contains("no msl-id header"));
    }
}
