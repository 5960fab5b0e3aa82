//! The small text bodies of the sync conversation: the client's 301 request and the
//! server's 304 "day finished" notice (SPEC §5).
//!
//! Both carry a date that the receiving side turns into a day folder path, so they are
//! decoded strictly: only a real `YYYY-MM-DD` date gets through, never `../../etc`.

use crate::date::Date;
use crate::error::{Error, Result};

/// Body of a [`CTYPE_REQUEST`](super::CTYPE_REQUEST): "send me day `date` from record `id` on".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncRequest {
    pub date: Date,
    /// The client's own record count for that day, i.e. the first id it lacks.
    pub id: u64,
}

impl SyncRequest {
    /// The JSON the Go client sends: keys sorted, no whitespace,
    /// e.g. `{"date":"2026-11-21","id":0}`.
    pub fn encode(&self) -> Vec<u8> {
        // A Date displays as ten ASCII digits and dashes, so nothing here needs escaping.
        format!(r#"{{"date":"{}","id":{}}}"#, self.date, self.id).into_bytes()
    }

    /// Parses a request body. Anything but an object with exactly a valid `date` string
    /// and a non-negative integer `id` is [`InvalidArgument`](crate::ErrorKind::InvalidArgument).
    pub fn decode(body: &[u8]) -> Result<SyncRequest> {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Error::invalid(format!("sync request is not JSON: {e}")).with_source(e))?;
        let Some(object) = value.as_object() else {
            return Err(Error::invalid(format!("sync request is not a JSON object: {value}")));
        };
        if let Some(key) = object.keys().find(|k| !matches!(k.as_str(), "date" | "id")) {
            return Err(Error::invalid(format!("sync request has an unknown key {key:?}")));
        }
        let date = match object.get("date") {
            Some(serde_json::Value::String(s)) => Date::parse(s)?,
            Some(other) => return Err(Error::invalid(format!("sync request date {other} is not a string"))),
            None => return Err(Error::invalid("sync request has no date")),
        };
        let id = match object.get("id") {
            Some(v) => v
                .as_u64()
                .ok_or_else(|| Error::invalid(format!("sync request id {v} is not a non-negative integer")))?,
            None => return Err(Error::invalid("sync request has no id")),
        };
        Ok(SyncRequest { date, id })
    }
}

/// Body of a [`CTYPE_DAY_FINISHED`](super::CTYPE_DAY_FINISHED): the bare date.
pub fn encode_day_finished(date: Date) -> Vec<u8> {
    date.to_string().into_bytes()
}

/// Parses a day-finished body; anything but exactly `YYYY-MM-DD` is
/// [`InvalidArgument`](crate::ErrorKind::InvalidArgument).
pub fn decode_day_finished(body: &[u8]) -> Result<Date> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::invalid(format!("day-finished body {body:?} is not a date of the form YYYY-MM-DD")))?;
    Date::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn request_encodes_like_go_and_round_trips() {
        let req = SyncRequest { date: Date::parse("2026-11-21").unwrap(), id: 0 };
        assert_eq!(req.encode(), br#"{"date":"2026-11-21","id":0}"#);
        let big = SyncRequest { id: u64::MAX, ..req };
        assert_eq!(SyncRequest::decode(&big.encode()).unwrap(), big);
        // Key order and whitespace are the sender's choice; only the values matter.
        let loose = SyncRequest::decode(br#" { "id" : 12 , "date" : "2024-02-29" } "#).unwrap();
        assert_eq!((loose.date.to_string(), loose.id), ("2024-02-29".to_string(), 12));
    }

    #[test]
    fn request_rejects_bad_dates_ids_and_shapes() {
        for body in [
            r#"{"date":"../../etc","id":0}"#,
            r#"{"date":"2026-02-30","id":0}"#,
            r#"{"date":"20261121","id":0}"#,
            r#"{"date":20261121,"id":0}"#,
            r#"{"date":"2026-11-21","id":-1}"#,
            r#"{"date":"2026-11-21","id":1.5}"#,
            r#"{"date":"2026-11-21","id":"1"}"#,
            r#"{"date":"2026-11-21","id":18446744073709551616}"#,
            r#"{"date":"2026-11-21"}"#,
            r#"{"id":0}"#,
            r#"{"date":"2026-11-21","id":0,"x":1}"#,
            r#"["2026-11-21",0]"#,
            r#"{"date":"2026-11-21","id":0"#,
            "",
            "\u{fffd}",
        ] {
            let err = SyncRequest::decode(body.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{body:?}: {err}");
        }
    }

    #[test]
    fn day_finished_is_the_bare_date() {
        let d = Date::parse("2026-11-20").unwrap();
        assert_eq!(encode_day_finished(d), b"2026-11-20");
        assert_eq!(decode_day_finished(b"2026-11-20").unwrap(), d);
        for bad in [&b"2026-11-20\n"[..], b"../../etc", b"\xff\xfe", b""] {
            assert_eq!(decode_day_finished(bad).unwrap_err().kind(), ErrorKind::InvalidArgument);
        }
    }
}
