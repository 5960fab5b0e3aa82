//! The legacy sync socket's frame: a 20-byte big-endian header and a body that may be
//! zlib-compressed (SPEC §4, vectors README §3).
//!
//! Decoding trusts nothing the header says: the lengths are checked against
//! [`FrameLimits`] before anything is allocated, and inflation stops one byte past the
//! announced length, so neither a huge announcement nor a zlib bomb costs more memory
//! than the limits allow.

use std::io::{Read, Write};

use bytes::Bytes;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use crate::error::{Error, ErrorKind, Result};

/// The size of a frame header on the wire.
pub const HEADER_LEN: usize = 20;

/// The shared number both ends must agree on; the original's only "authentication".
pub const DEFAULT_SEND_FLAG: i32 = 398_359_203;

/// Keep-alive, client to server, every 5 s.
pub const CTYPE_HEARTBEAT: i32 = 1;
/// Greeting sent by the client right after it connects.
pub const CTYPE_HELLO: i32 = 7;
/// The server's answer to [`CTYPE_HELLO`].
pub const CTYPE_HELLO_REPLY: i32 = 8;
/// "Send me day `date` from record `id` on" (JSON body, see [`SyncRequest`](super::SyncRequest)).
pub const CTYPE_REQUEST: i32 = 301;
/// A batch of records (see [`decode_batch`](super::decode_batch)).
pub const CTYPE_BATCH: i32 = 302;
/// The day in the body is finished and fully sent. The original README says 303; the code sends 304.
pub const CTYPE_DAY_FINISHED: i32 = 304;

/// Body of [`CTYPE_HELLO`], byte for byte what the Go client sends.
pub const HELLO_FROM_CLIENT: &str = "hello test msg from client";
/// Body of [`CTYPE_HELLO_REPLY`], byte for byte what the Go server sends.
pub const HELLO_FROM_SERVER: &str = "hello test msg from server";

/// How much a peer may make us allocate for one frame.
///
/// The original has no limit besides the heartbeat's, so a peer could announce 2 GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest body (bytes after the header) accepted.
    pub max_body: usize,
    /// Largest content (after decompression) accepted.
    pub max_content: usize,
    /// Largest heartbeat body; the original rejects anything over 1024.
    pub max_heartbeat: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits { max_body: 64 << 20, max_content: 64 << 20, max_heartbeat: 1024 }
    }
}

/// The 20-byte header, as the Go `int`s truncated to `i32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub send_flag: i32,
    pub zlib: bool,
    pub ctype: i32,
    /// Length of the content after decompression.
    pub content_length: i32,
    /// Length of the bytes that follow the header.
    pub body_length: i32,
}

impl FrameHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let fields = [self.send_flag, i32::from(self.zlib), self.ctype, self.content_length, self.body_length];
        for (chunk, field) in out.chunks_exact_mut(4).zip(fields) {
            chunk.copy_from_slice(&field.to_be_bytes());
        }
        out
    }

    /// Reads the fields; only the zlib flag is validated here, lengths by [`check_header`].
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<FrameHeader> {
        let field = |i: usize| i32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        // The Go reader treats anything but 1 as raw; a value other than 0 or 1 only comes
        // from a peer speaking something else, so it is refused rather than guessed at.
        let zlib = match field(4) {
            0 => false,
            1 => true,
            other => return Err(Error::new(ErrorKind::Protocol, format!("frame zlib flag is {other}, not 0 or 1"))),
        };
        Ok(FrameHeader {
            send_flag: field(0),
            zlib,
            ctype: field(8),
            content_length: field(12),
            body_length: field(16),
        })
    }
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub ctype: i32,
    /// The content after decompression.
    pub content: Bytes,
}

/// zlib level of the compressed frames we send when nobody chose one. Level 2 costs about a
/// fifth of the CPU of level 6 (Go's and zlib's default) for 15–20% more bytes on log
/// text (BENCHMARKS.md, "Legacy sync serving"); receivers accept any level.
pub const DEFAULT_ZLIB_LEVEL: u32 = 2;

/// Builds a whole frame, header and body, ready for one write; compressed bodies use
/// [`DEFAULT_ZLIB_LEVEL`].
///
/// Compressed bodies are valid zlib but not byte-identical to Go's (SPEC §5); peers
/// only ever compare them after decompression.
///
/// # Panics
/// If the content or its compressed form is 2 GiB or more, which the format cannot carry.
pub fn encode_frame(send_flag: i32, ctype: i32, content: &[u8], compress: bool) -> Vec<u8> {
    let zlib_level = compress.then_some(DEFAULT_ZLIB_LEVEL);
    encode_frame_with(send_flag, ctype, content.len(), zlib_level, |w| w.write_all(content))
}

/// Builds a whole frame whose `content_length` bytes of content `write` produces piece by
/// piece, compressed at `zlib_level` (0–9) when given: a 302 batch goes from the records'
/// buffers straight into the compressor, without an uncompressed copy of the batch.
///
/// # Panics
/// If `write` produces other than `content_length` bytes, or the content or its
/// compressed form is 2 GiB or more, which the format cannot carry.
pub fn encode_frame_with(
    send_flag: i32,
    ctype: i32,
    content_length: usize,
    zlib_level: Option<u32>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Vec<u8> {
    let announced = i32::try_from(content_length).expect("frame content must be under 2 GiB");
    let mut out =
        Vec::with_capacity(HEADER_LEN + if zlib_level.is_some() { content_length / 2 } else { content_length });
    out.resize(HEADER_LEN, 0);
    let (mut out, written) = match zlib_level {
        Some(level) => {
            let mut w = Counting { inner: ZlibEncoder::new(out, Compression::new(level.min(9))), bytes: 0 };
            write(&mut w).expect("writing to a Vec cannot fail");
            (w.inner.finish().expect("writing to a Vec cannot fail"), w.bytes)
        }
        None => {
            let mut w = Counting { inner: out, bytes: 0 };
            write(&mut w).expect("writing to a Vec cannot fail");
            (w.inner, w.bytes)
        }
    };
    assert_eq!(written, content_length, "a frame's content must be as long as its header says");
    let body_length = i32::try_from(out.len() - HEADER_LEN).expect("frame body must be under 2 GiB");
    let header = FrameHeader { send_flag, zlib: zlib_level.is_some(), ctype, content_length: announced, body_length };
    out[..HEADER_LEN].copy_from_slice(&header.encode());
    out
}

/// Counts the bytes written through it, to check the announced content length.
struct Counting<W> {
    inner: W,
    bytes: usize,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Refuses a header before its body is read: wrong send flag, impossible or
/// over-limit lengths, an oversized heartbeat.
pub fn check_header(header: &FrameHeader, expected_send_flag: i32, limits: &FrameLimits) -> Result<()> {
    if header.send_flag != expected_send_flag {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!("frame send flag {} does not match the expected {expected_send_flag}", header.send_flag),
        ));
    }
    check_lengths(header, limits)
}

/// The part of [`check_header`] that does not need the send flag.
fn check_lengths(header: &FrameHeader, limits: &FrameLimits) -> Result<()> {
    let body = announced("body", header.body_length, limits.max_body)?;
    let content = announced("content", header.content_length, limits.max_content)?;
    if header.ctype == CTYPE_HEARTBEAT && body > limits.max_heartbeat {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!("heartbeat body of {body} bytes exceeds {} bytes", limits.max_heartbeat),
        ));
    }
    if !header.zlib && content != body {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!("uncompressed frame announces content of {content} bytes but a body of {body} bytes"),
        ));
    }
    Ok(())
}

fn announced(what: &str, length: i32, max: usize) -> Result<usize> {
    match usize::try_from(length) {
        Ok(n) if n <= max => Ok(n),
        Ok(n) => Err(Error::new(ErrorKind::TooLarge, format!("frame announces a {what} of {n} bytes, limit {max}"))),
        Err(_) => Err(Error::new(ErrorKind::TooLarge, format!("frame announces a negative {what} length {length}"))),
    }
}

/// Turns the body that followed `header` into the frame's content.
///
/// The send flag is the caller's business ([`check_header`]); everything else about the
/// lengths is checked again here, so a header that skipped [`check_header`] is still safe.
pub fn decode_body(header: &FrameHeader, body: &[u8], limits: &FrameLimits) -> Result<Frame> {
    check_body(header, body.len(), limits)?;
    let content =
        if header.zlib { inflate(body, header.content_length as usize)? } else { Bytes::copy_from_slice(body) };
    Ok(Frame { ctype: header.ctype, content })
}

/// Length checks shared by [`decode_body`] and the async reader.
pub(crate) fn check_body(header: &FrameHeader, body_len: usize, limits: &FrameLimits) -> Result<()> {
    check_lengths(header, limits)?;
    if body_len != header.body_length as usize {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!("frame body is {body_len} bytes but the header announces {}", header.body_length),
        ));
    }
    Ok(())
}

/// Inflates `body`, which must decompress to exactly `content_length` bytes.
pub(crate) fn inflate(body: &[u8], content_length: usize) -> Result<Bytes> {
    // The Go reader maps an empty compressed body to empty content; its writer never
    // produces one, but accepting it costs nothing and matches the original.
    if body.is_empty() {
        return match content_length {
            0 => Ok(Bytes::new()),
            n => Err(length_mismatch("0", n)),
        };
    }
    let mut decoder = ZlibDecoder::new(body);
    let mut content = Vec::with_capacity(content_length);
    // One byte past the announcement is enough to know it was a lie, and stops a bomb there.
    let read = (&mut decoder).take(content_length as u64 + 1).read_to_end(&mut content);
    if let Err(err) = read {
        return Err(
            Error::new(ErrorKind::Corrupt, format!("frame body is not a valid zlib stream: {err}")).with_source(err)
        );
    }
    if content.len() > content_length {
        return Err(length_mismatch("more than", content_length));
    }
    if content.len() < content_length {
        return Err(length_mismatch(&content.len().to_string(), content_length));
    }
    // The stream ended but bytes may follow it; Go ignores them, we do not guess at their meaning.
    let used = decoder.total_in();
    if used != body.len() as u64 {
        return Err(Error::new(
            ErrorKind::Corrupt,
            format!("{} bytes follow the end of the zlib stream in the frame body", body.len() as u64 - used),
        ));
    }
    Ok(Bytes::from(content))
}

fn length_mismatch(got: &str, announced: usize) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("frame body decompresses to {got} bytes but the header announces {announced}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ctype: i32, zlib: bool, content_length: i32, body_length: i32) -> FrameHeader {
        FrameHeader { send_flag: DEFAULT_SEND_FLAG, zlib, ctype, content_length, body_length }
    }

    #[test]
    fn header_round_trips_and_rejects_unknown_zlib_values() {
        let h = header(CTYPE_BATCH, true, 138, 73);
        assert_eq!(FrameHeader::decode(&h.encode()).unwrap(), h);
        let mut raw = h.encode();
        raw[7] = 2;
        assert_eq!(FrameHeader::decode(&raw).unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn a_zlib_bomb_stops_one_byte_past_the_announcement() {
        let frame = encode_frame(DEFAULT_SEND_FLAG, CTYPE_BATCH, &vec![0u8; 8 << 20], true);
        let mut h = FrameHeader::decode(frame[..HEADER_LEN].try_into().unwrap()).unwrap();
        h.content_length = 100;
        let err = decode_body(&h, &frame[HEADER_LEN..], &FrameLimits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    }

    #[test]
    fn a_stream_cut_before_its_checksum_or_followed_by_garbage_is_corrupt() {
        let frame = encode_frame(DEFAULT_SEND_FLAG, CTYPE_DAY_FINISHED, b"2026-11-20", true);
        let body = &frame[HEADER_LEN..];
        for bad in [body[..body.len() - 1].to_vec(), [body, b"x"].concat()] {
            let h = header(CTYPE_DAY_FINISHED, true, 10, bad.len() as i32);
            let err = decode_body(&h, &bad, &FrameLimits::default()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
        }
    }

    #[test]
    fn an_empty_compressed_body_is_empty_content_as_in_go() {
        let frame = decode_body(&header(CTYPE_HEARTBEAT, true, 0, 0), &[], &FrameLimits::default()).unwrap();
        assert!(frame.content.is_empty());
        let err = decode_body(&header(CTYPE_HEARTBEAT, true, 3, 0), &[], &FrameLimits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
    }

    #[test]
    fn a_body_that_disagrees_with_its_header_is_refused() {
        let err = decode_body(&header(CTYPE_HELLO, false, 4, 4), b"abc", &FrameLimits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
    }
}
