//! Targets for the legacy sync socket: a raw byte stream of frames, a 302 batch body, and
//! the 301 / 304 bodies (see [`crate::wire`]).

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, ReadBuf};

use crate::date::Date;
use crate::error::ErrorKind;
use crate::wire::{
    CTYPE_BATCH, CTYPE_DAY_FINISHED, CTYPE_REQUEST, DEFAULT_SEND_FLAG, Frame, FrameHeader, FrameLimits, HEADER_LEN,
    SyncRequest, batch_len, check_header, decode_batch, decode_body, decode_day_finished, encode_batch,
    encode_day_finished, encode_frame, read_frame,
};

/// What reading one frame gave; a stream of them ends with the first `Err`, which is
/// [`ErrorKind::Closed`] when the bytes ended cleanly between two frames.
type Outcome = std::result::Result<Frame, ErrorKind>;

/// `data` is what a peer sent on the sync socket: frames back to back, as many as fit.
///
/// Decodes it twice, with the synchronous pieces ([`FrameHeader::decode`],
/// [`check_header`], [`decode_body`]) and with the async reader ([`read_frame`]) over a
/// stream that delivers a few bytes per read and is not ready every other time; both
/// must agree frame by frame, down to the error that ends the stream. Every frame
/// decoded must encode back to what was read, and its content goes on to the decoder of
/// its kind (302 batch, 301 request, 304 day finished), as the two ends of the socket do.
pub fn legacy_frame(data: &[u8]) {
    let limits = FrameLimits::default();
    let decoded = decode_stream(data, &limits);
    // The read size follows the input's length, so the corpus covers many ways of
    // cutting the same frames into reads.
    let read = read_stream(data, 1 + data.len() % 61, &limits);
    assert_eq!(decoded, read, "the async frame reader disagrees with the frame decoder");
    for frame in decoded.iter().flatten() {
        match frame.ctype {
            CTYPE_BATCH => udata_batch(&frame.content),
            CTYPE_REQUEST | CTYPE_DAY_FINISHED => json_bodies(&frame.content),
            _ => {}
        }
    }
}

/// The frames of `data` decoded with the synchronous functions.
fn decode_stream(mut rest: &[u8], limits: &FrameLimits) -> Vec<Outcome> {
    let mut out = Vec::new();
    loop {
        if rest.is_empty() {
            out.push(Err(ErrorKind::Closed));
            return out;
        }
        let Some(raw) = rest.first_chunk::<HEADER_LEN>() else {
            out.push(Err(ErrorKind::Protocol));
            return out;
        };
        let header =
            match FrameHeader::decode(raw).and_then(|h| check_header(&h, DEFAULT_SEND_FLAG, limits).map(|()| h)) {
                Ok(h) => h,
                Err(e) => {
                    out.push(Err(e.kind()));
                    return out;
                }
            };
        // check_header accepted the length: it is neither negative nor over the limit.
        let end = HEADER_LEN + usize::try_from(header.body_length).expect("checked by check_header");
        let Some(body) = rest.get(HEADER_LEN..end) else {
            out.push(Err(ErrorKind::Protocol));
            return out;
        };
        match decode_body(&header, body, limits) {
            Ok(frame) => {
                check_frame(&header, body, &frame, limits);
                out.push(Ok(frame));
                rest = &rest[end..];
            }
            Err(e) => {
                out.push(Err(e.kind()));
                return out;
            }
        }
    }
}

/// What must hold of a frame [`decode_body`] accepted.
fn check_frame(header: &FrameHeader, body: &[u8], frame: &Frame, limits: &FrameLimits) {
    assert_eq!(frame.ctype, header.ctype);
    assert_eq!(frame.content.len(), header.content_length as usize, "content is not as long as announced");
    assert!(frame.content.len() <= limits.max_content);
    let again = encode_frame(header.send_flag, header.ctype, &frame.content, header.zlib);
    if !header.zlib {
        // An uncompressed frame has one encoding: ours must be the bytes that came in.
        assert_eq!(again[..HEADER_LEN], header.encode());
        assert_eq!(&again[HEADER_LEN..], body, "an uncompressed frame does not re-encode to itself");
        return;
    }
    // Our zlib bytes differ from Go's (SPEC §5); what we send must decode to the same content.
    let raw = again.first_chunk::<HEADER_LEN>().expect("a frame has a header");
    let h = FrameHeader::decode(raw).expect("our own header decodes");
    let content = decode_body(&h, &again[HEADER_LEN..], limits).expect("our own frame decodes").content;
    assert_eq!(content, frame.content, "a re-compressed frame decodes to other content");
}

thread_local! {
    /// One runtime per thread for the async reader: building one per input would cost more
    /// than the decoding.
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// The frames of `data` read with [`read_frame`], `chunk` bytes per read at most.
fn read_stream(data: &[u8], chunk: usize, limits: &FrameLimits) -> Vec<Outcome> {
    RUNTIME.with(|rt| {
        let mut rt = rt.borrow_mut();
        let rt = rt.get_or_insert_with(|| {
            tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime builds")
        });
        rt.block_on(async {
            let mut stream = Trickle { data, chunk, stall: true };
            let mut out = Vec::new();
            loop {
                match read_frame(&mut stream, DEFAULT_SEND_FLAG, limits).await {
                    Ok(frame) => out.push(Ok(frame)),
                    Err(e) => {
                        out.push(Err(e.kind()));
                        return out;
                    }
                }
            }
        })
    })
}

/// A stream handing out at most `chunk` bytes per read, and "not ready" every other time,
/// like a slow TCP connection: the reader must loop until a header or body is whole.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
    stall: bool,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.stall = !this.stall;
        if this.stall {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = this.chunk.min(this.data.len()).min(buf.remaining());
        let (head, rest) = this.data.split_at(n);
        buf.put_slice(head);
        this.data = rest;
        Poll::Ready(Ok(()))
    }
}

/// `data` is the content of a 302 frame. A batch that decodes must be non-empty, hand out
/// payloads as slices of the body, and encode back to exactly the same bytes (the format
/// has one encoding); one that does not is [`ErrorKind::Corrupt`].
pub fn udata_batch(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    match decode_batch(&body) {
        Ok(records) => {
            assert!(!records.is_empty(), "a batch decoded to no records");
            assert_eq!(batch_len(&records), data.len());
            let range = body.as_ptr_range();
            for r in records.iter().filter(|r| !r.data.is_empty()) {
                assert!(range.contains(&r.data.as_ptr()), "a payload was copied out of the body");
            }
            let mut again = Vec::with_capacity(data.len());
            encode_batch(&records, &mut again);
            assert_eq!(again, data, "a decoded batch does not re-encode to itself");
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}"),
    }
}

/// `data` is the content of a 301 request or a 304 day-finished frame (both decoders see
/// every input). What decodes must encode to something that decodes the same (the 304
/// date, to the very bytes); what does not is [`ErrorKind::InvalidArgument`]. The two
/// date parsers behind them must round-trip what they accept, too.
pub fn json_bodies(data: &[u8]) {
    match SyncRequest::decode(data) {
        Ok(req) => {
            let again = SyncRequest::decode(&req.encode()).expect("our own request decodes");
            assert_eq!(again, req);
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}"),
    }
    match decode_day_finished(data) {
        Ok(date) => assert_eq!(encode_day_finished(date), data, "a day-finished body does not re-encode to itself"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}"),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(date) = Date::parse(text) {
            assert_eq!(date.to_string(), text);
        }
        if let Some(date) = Date::from_folder_name(text) {
            assert_eq!(date.folder_name(), text);
        }
    }
}
