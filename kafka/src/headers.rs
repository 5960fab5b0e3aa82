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

use std::ffi::CStr;

use modsynclog_core::record::Record;
use modsynclog_core::{Date, Error, ErrorKind, Result};
use rdkafka::bindings::{rd_kafka_header_get_all, rd_kafka_headers_t, rd_kafka_resp_err_t};
use rdkafka::message::{BorrowedHeaders, Header, OwnedHeaders};

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

/// One header of a consumed message: its key's bytes (any producer writes them: not
/// always UTF-8) and its value.
pub type Pair<'a> = (&'a [u8], Option<&'a [u8]>);

/// The headers of a consumed message, in order. Not through rdkafka's `Headers::iter` or
/// `try_get`: they unwrap the key as UTF-8 (rdkafka 0.39, `message.rs`), so one message
/// with a key that is not would panic the import, and the export's resume, every time
/// they read it.
pub fn pairs(headers: Option<&BorrowedHeaders>) -> Vec<Pair<'_>> {
    let Some(headers) = headers else { return Vec::new() };
    // A `&BorrowedHeaders` is the address of librdkafka's header list itself (rdkafka
    // makes it so in `BorrowedHeaders::from_native_ptr`, and casts it back the same way).
    let list = headers as *const BorrowedHeaders as *const rd_kafka_headers_t;
    let mut out = Vec::new();
    for idx in 0.. {
        let (mut name, mut value, mut size) = (std::ptr::null(), std::ptr::null(), 0usize);
        // SAFETY: `list` is a live header list borrowed for `'_`; librdkafka writes the
        // name (NUL-terminated) and the value (`size` bytes, or NULL), both owned by the
        // list, or answers an error past the last header.
        let err = unsafe { rd_kafka_header_get_all(list, idx, &mut name, &mut value, &mut size) };
        if err != rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
            break;
        }
        // SAFETY: as above, valid as long as the list is.
        let key = unsafe { CStr::from_ptr(name) }.to_bytes();
        let value = (!value.is_null()).then(|| unsafe { std::slice::from_raw_parts(value.cast::<u8>(), size) });
        out.push((key, value));
    }
    out
}

/// Reads `msl-date`, `msl-id` and `msl-type` back from a message's [`pairs`]; `Protocol`
/// when one is missing or bad (a message this exporter did not write).
pub fn origin(headers: &[Pair<'_>]) -> Result<Origin> {
    let value = |key: &str| -> Result<&str> {
        let found = headers.iter().find(|(k, _)| *k == key.as_bytes()).and_then(|(_, v)| *v);
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
        let pairs = pairs(Some(headers.as_borrowed()));
        assert_eq!(origin(&pairs).unwrap(), Origin { date, id: 41, ty: -7 });
        assert_eq!(pairs[0], (&b"msl-date"[..], Some(&b"2026-11-29"[..])));
        assert_eq!(pairs[3], (&b"msl-time"[..], Some(&b"1764000000"[..])));
    }

    #[test]
    fn a_foreign_message_is_refused() {
        assert_eq!(origin(&pairs(None)).unwrap_err().kind(), ErrorKind::Protocol);
        let partial = OwnedHeaders::new().insert(Header { key: DATE, value: Some(&b"2026-11-29"[..]) });
        assert!(origin(&pairs(Some(partial.as_borrowed()))).unwrap_err().to_string().contains("no msl-id header"));
    }

    /// Any producer may write a header key that is not UTF-8, and rdkafka's own iterator
    /// panics on it.
    #[test]
    fn a_key_that_is_not_utf8_is_read_without_a_panic() {
        use rdkafka::message::Headers;
        let headers = OwnedHeaders::new().insert(Header { key: TYPE, value: Some(&b"7"[..]) });
        let list = headers.as_borrowed() as *const BorrowedHeaders as *mut rd_kafka_headers_t;
        let (key, value) = (b"\xff\xfe", b"v");
        // SAFETY: `list` is the live, owned list of `headers`; the sizes are the slices'.
        let err =
            unsafe { rdkafka::bindings::rd_kafka_header_add(list, key.as_ptr().cast(), 2, value.as_ptr().cast(), 1) };
        assert_eq!(err, rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
        let all = pairs(Some(headers.as_borrowed()));
        assert_eq!(all, vec![(&b"msl-type"[..], Some(&b"7"[..])), (&b"\xff\xfe"[..], Some(&b"v"[..]))]);
        let iterated = std::panic::catch_unwind(|| headers.as_borrowed().iter().count());
        assert!(iterated.is_err(), "rdkafka's iterator no longer panics: `pairs` may go");
    }
}
