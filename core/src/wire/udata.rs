//! The body of a 302 batch: log records back to back, each a 42-byte header and its
//! payload (SPEC §5, vectors README §4).
//!
//! The Go decoder panics on an empty body or 39 to 41 trailing bytes and silently drops
//! 1 to 38; this one accepts only a body that is exactly a sequence of well-formed
//! records, and hands out payloads as slices of the received buffer.

use bytes::Bytes;

use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};

/// Bytes before a record's payload: the length prefix and the 38-byte fixed part.
pub const RECORD_HEADER_LEN: usize = 42;

/// One record as the sync socket carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRecord {
    pub date: Date,
    /// The server's timestamp, kept so both folders end up byte-identical.
    pub time: i32,
    pub id: u64,
    /// Where the server stored the payload; informative only, the client stores its own way.
    pub data_file_index: i16,
    pub data_offset: i64,
    pub ty: i16,
    pub data: Bytes,
}

impl WireRecord {
    /// Bytes this record takes in a batch, for sizing batches before encoding them.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.data.len()
    }
}

/// Appends `records` to `out` in the Go layout.
///
/// # Panics
/// If a payload is 2 GiB or more or an id exceeds `i64::MAX`: neither can be represented
/// on the wire, and neither can come out of a store.
pub fn encode_batch(records: &[WireRecord], out: &mut Vec<u8>) {
    out.reserve(batch_len(records));
    write_batch(records, out).expect("writing to a Vec cannot fail");
}

/// Bytes `records` take as a batch body.
pub fn batch_len(records: &[WireRecord]) -> usize {
    records.iter().map(WireRecord::encoded_len).sum()
}

/// Writes `records` in the Go layout, each header then its payload straight from the
/// record's buffer (into a compressor, say), with no batch-sized copy in between.
///
/// # Panics
/// As [`encode_batch`].
pub fn write_batch(records: &[WireRecord], w: &mut (impl std::io::Write + ?Sized)) -> std::io::Result<()> {
    let mut date_cache: Option<(Date, String)> = None;
    for r in records {
        let len = i32::try_from(r.data.len()).expect("record payload must be under 2 GiB").to_be_bytes();
        let id = i64::try_from(r.id).expect("record id must fit in an i64");
        // A batch is one day: format its date once, not per record.
        let date = match &date_cache {
            Some((d, text)) if *d == r.date => text,
            _ => &date_cache.insert((r.date, r.date.to_string())).1,
        };
        let mut header = [0u8; RECORD_HEADER_LEN];
        header[0..4].copy_from_slice(&len);
        header[4..14].copy_from_slice(date.as_bytes());
        header[14..18].copy_from_slice(&r.time.to_be_bytes());
        header[18..26].copy_from_slice(&id.to_be_bytes());
        header[26..28].copy_from_slice(&r.data_file_index.to_be_bytes());
        header[28..36].copy_from_slice(&r.data_offset.to_be_bytes());
        header[36..38].copy_from_slice(&r.ty.to_be_bytes());
        header[38..42].copy_from_slice(&len);
        w.write_all(&header)?;
        w.write_all(&r.data)?;
    }
    Ok(())
}

/// Decodes a whole batch body; any malformation is [`ErrorKind::Corrupt`] naming its offset.
pub fn decode_batch(body: &Bytes) -> Result<Vec<WireRecord>> {
    if body.is_empty() {
        return Err(Error::new(ErrorKind::Corrupt, "batch body is empty"));
    }
    let mut records = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let (record, next) = decode_record(body, at)?;
        records.push(record);
        at = next;
    }
    Ok(records)
}

/// Decodes the record starting at `at`; returns it and where the next one starts.
fn decode_record(body: &Bytes, at: usize) -> Result<(WireRecord, usize)> {
    let corrupt = |detail: String| Error::new(ErrorKind::Corrupt, format!("batch record at byte {at}: {detail}"));
    let rest = &body[at..];
    let Some(head) = rest.first_chunk::<RECORD_HEADER_LEN>() else {
        return Err(corrupt(format!(
            "{} trailing bytes, fewer than the {RECORD_HEADER_LEN} of a record header",
            rest.len()
        )));
    };
    let prefix = i32::from_be_bytes(field(head, 0));
    let inner = i32::from_be_bytes(field(head, 38));
    let available = rest.len() - RECORD_HEADER_LEN;
    let len = match usize::try_from(prefix) {
        Err(_) => return Err(corrupt(format!("negative payload length {prefix}"))),
        Ok(n) if n > available => {
            return Err(corrupt(format!("payload length {n} runs past the end of the batch ({available} bytes left)")));
        }
        Ok(n) => n,
    };
    if inner != prefix {
        return Err(corrupt(format!("length prefix {prefix} disagrees with the data length field {inner}")));
    }
    let date = std::str::from_utf8(&head[4..14]).ok().and_then(|s| Date::parse(s).ok()).ok_or_else(|| {
        corrupt(format!("date {:?} is not of the form YYYY-MM-DD", String::from_utf8_lossy(&head[4..14])))
    })?;
    let raw_id = i64::from_be_bytes(field(head, 18));
    let id = u64::try_from(raw_id).map_err(|_| corrupt(format!("negative id {raw_id}")))?;
    let start = at + RECORD_HEADER_LEN;
    let record = WireRecord {
        date,
        time: i32::from_be_bytes(field(head, 14)),
        id,
        data_file_index: i16::from_be_bytes(field(head, 26)),
        data_offset: i64::from_be_bytes(field(head, 28)),
        ty: i16::from_be_bytes(field(head, 36)),
        data: body.slice(start..start + len),
    };
    Ok((record, start + len))
}

/// The `N` bytes of `head` at `offset`; offsets are constants within the 42-byte header.
fn field<const N: usize>(head: &[u8; RECORD_HEADER_LEN], offset: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&head[offset..offset + N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(id: u64, data: &[u8]) -> WireRecord {
        WireRecord {
            date: Date::parse("2026-11-21").unwrap(),
            time: 1_795_190_400,
            id,
            data_file_index: 0,
            data_offset: 0,
            ty: 1,
            data: Bytes::copy_from_slice(data),
        }
    }

    fn encoded(records: &[WireRecord]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_batch(records, &mut out);
        out
    }

    fn corrupt_message(bytes: Vec<u8>) -> String {
        let err = decode_batch(&Bytes::from(bytes)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
        err.to_string()
    }

    #[test]
    fn payloads_are_slices_of_the_input() {
        let body = Bytes::from(encoded(&[record(0, b""), record(1, b"hello")]));
        let records = decode_batch(&body).unwrap();
        assert_eq!(records[1].data, &b"hello"[..]);
        let range = body.as_ptr_range();
        assert!(range.contains(&records[1].data.as_ptr()), "payload was copied");
    }

    #[test]
    fn every_kind_of_damage_is_corrupt_and_located() {
        let good = encoded(&[record(0, b"ab"), record(1, b"cde")]);
        let second = RECORD_HEADER_LEN + 2;
        let patched = |offset: usize, bytes: &[u8]| {
            let mut b = good.clone();
            b[offset..offset + bytes.len()].copy_from_slice(bytes);
            b
        };
        assert!(corrupt_message(patched(second, &(-1i32).to_be_bytes())).contains("negative payload length"));
        assert!(corrupt_message(patched(second, &4i32.to_be_bytes())).contains("runs past the end"));
        assert!(corrupt_message(patched(second, &2i32.to_be_bytes())).contains("disagrees"));
        assert!(corrupt_message(patched(second + 4, b"2026-02-30")).contains(&format!("byte {second}")));
        assert!(corrupt_message(patched(second + 4, b"../../etc/")).contains("YYYY-MM-DD"));
        assert!(corrupt_message(patched(second + 4, b"\xff\xfe2026-1-1")).contains("YYYY-MM-DD"));
        assert!(corrupt_message(patched(second + 18, &(-5i64).to_be_bytes())).contains("negative id -5"));
        assert!(corrupt_message(good[..good.len() - 1].to_vec()).contains("runs past the end"));
        assert!(corrupt_message(Vec::new()).contains("empty"));
    }

    fn arb_record() -> impl Strategy<Value = WireRecord> {
        let date = (1i32..=9999, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| Date::from_ymd(y, m, d).unwrap());
        let fixed = (any::<i32>(), 0..=i64::MAX as u64, any::<i16>(), any::<i64>(), any::<i16>());
        (date, fixed, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(
            |(date, (time, id, data_file_index, data_offset, ty), data)| WireRecord {
                date,
                time,
                id,
                data_file_index,
                data_offset,
                ty,
                data: data.into(),
            },
        )
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_batch(&Bytes::from(bytes));
        }

        #[test]
        fn damaged_batches_never_panic(
            records in proptest::collection::vec(arb_record(), 1..4),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = encoded(&records);
            for (at, value) in flips {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
            let _ = decode_batch(&Bytes::from(bytes));
        }

        #[test]
        fn encode_then_decode_is_identity(records in proptest::collection::vec(arb_record(), 1..6)) {
            let bytes = encoded(&records);
            prop_assert_eq!(bytes.len(), records.iter().map(WireRecord::encoded_len).sum::<usize>());
            prop_assert_eq!(decode_batch(&Bytes::from(bytes)).unwrap(), records);
        }
    }
}
