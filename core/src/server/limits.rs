//! Hard limits on what one request may carry, checked before anything is queued, and the
//! memory the ingest path may hold.
//!
//! A record, or a batch, over a limit is refused as a whole with
//! `ErrorKind::TooLarge`: nothing of it is stored. The byte budgets make senders wait
//! (back-pressure through HTTP/2 flow control), they refuse nothing.

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};
use crate::store::format::MAX_RECORD_LEN;

/// Size limits of the ingest services (and of [`WriterHandle::append`](super::WriterHandle::append)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload of one record (default 4 MiB).
    pub max_record_len: usize,
    /// Most records in one batch (default 10 000).
    pub max_batch_records: usize,
    /// Largest sum of payloads in one batch (default 32 MiB).
    pub max_batch_bytes: usize,
    /// Payload bytes queued for the writer and not yet written, all streams together
    /// (default 64 MiB; at most 4 GiB). A batch larger than this waits for an empty queue.
    pub writer_queue_bytes: usize,
    /// Payload bytes one ingest stream may have queued and not yet acknowledged (default
    /// 16 MiB). The stream reads its next batch only below this, so it holds at most this
    /// plus one message.
    pub stream_inflight_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_len: 4 << 20,
            max_batch_records: 10_000,
            max_batch_bytes: 32 << 20,
            writer_queue_bytes: 64 << 20,
            stream_inflight_bytes: 16 << 20,
        }
    }
}

impl Limits {
    /// Checks one record's payload length.
    pub fn check_record(&self, len: usize) -> Result<()> {
        let max = self.max_record_len.min(MAX_RECORD_LEN);
        if len > max {
            return Err(Error::new(ErrorKind::TooLarge, format!("record of {len} bytes exceeds the limit of {max}")));
        }
        Ok(())
    }

    /// Checks a whole batch: its record count, each record, and the sum of payloads.
    pub fn check_batch(&self, records: &[(i16, Bytes)]) -> Result<()> {
        if records.len() > self.max_batch_records {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("batch of {} records exceeds the limit of {}", records.len(), self.max_batch_records),
            ));
        }
        let mut total = 0usize;
        for (_, data) in records {
            self.check_record(data.len())?;
            total += data.len();
        }
        if total > self.max_batch_bytes {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("batch of {total} bytes exceeds the limit of {}", self.max_batch_bytes),
            ));
        }
        Ok(())
    }

    /// The largest gRPC message the services accept: a full batch plus protobuf overhead
    /// (a larger message is refused by the transport before it is decoded).
    pub fn max_message_len(&self) -> usize {
        let payload = self.max_batch_bytes.max(self.max_record_len);
        let overhead = self.max_batch_records.max(1).saturating_mul(16);
        payload.saturating_add(overhead).saturating_add(64 << 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_oversize() {
        let l = Limits { max_record_len: 4, max_batch_records: 2, max_batch_bytes: 6, ..Limits::default() };
        assert!(l.check_batch(&[(1, Bytes::from_static(b"abcd"))]).is_ok());
        let e = l.check_batch(&[(1, Bytes::from_static(b"abcde"))]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooLarge);
        let three = vec![(1, Bytes::from_static(b"a")); 3];
        assert_eq!(l.check_batch(&three).unwrap_err().kind(), ErrorKind::TooLarge);
        let big = vec![(1, Bytes::from_static(b"abcd")); 2];
        assert_eq!(l.check_batch(&big).unwrap_err().kind(), ErrorKind::TooLarge);
    }
}
