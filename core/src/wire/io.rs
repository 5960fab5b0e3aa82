//! Reading and writing whole frames on a tokio stream.
//!
//! The Go reader takes the header from a single `read()`, which can come back short on a
//! busy TCP connection and desynchronise the stream; these helpers always read until the
//! header and body are complete, and tell a clean close between frames apart from a peer
//! that vanished in the middle of one.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::frame::{Frame, FrameHeader, FrameLimits, HEADER_LEN, check_body, check_header, encode_frame, inflate};
use crate::error::{Error, ErrorKind, Result};

/// Largest buffer reserved before the body's bytes have actually arrived, so that a peer
/// announcing a big body and then stalling holds little memory.
const INITIAL_BODY_RESERVE: usize = 64 << 10;

/// Reads one frame, checking its header before reading the body.
///
/// A stream that ends before the first header byte gives [`ErrorKind::Closed`]; one that
/// ends inside a header or body gives [`ErrorKind::Protocol`].
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, send_flag: i32, limits: &FrameLimits) -> Result<Frame> {
    let mut raw = [0u8; HEADER_LEN];
    let got = read_full(r, &mut raw).await?;
    if got == 0 {
        return Err(Error::new(ErrorKind::Closed, "the peer closed the connection"));
    }
    if got < HEADER_LEN {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!("the connection ended after {got} of the {HEADER_LEN} bytes of a frame header"),
        ));
    }
    let header = FrameHeader::decode(&raw)?;
    check_header(&header, send_flag, limits)?;

    let want = header.body_length as usize;
    let mut body = Vec::with_capacity(want.min(INITIAL_BODY_RESERVE));
    let got = (&mut *r).take(want as u64).read_to_end(&mut body).await.map_err(io_error)?;
    if got < want {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!("the connection ended after {got} of the {want} bytes of a frame body (ctype {})", header.ctype),
        ));
    }
    check_body(&header, body.len(), limits)?;
    let content = if header.zlib { inflate(&body, header.content_length as usize)? } else { body.into() };
    Ok(Frame { ctype: header.ctype, content })
}

/// Writes one frame in a single `write_all` and flushes it.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    send_flag: i32,
    ctype: i32,
    content: &[u8],
    compress: bool,
) -> Result<()> {
    if i32::try_from(content.len()).is_err() {
        return Err(Error::new(ErrorKind::TooLarge, format!("frame content of {} bytes exceeds 2 GiB", content.len())));
    }
    write_encoded(w, &encode_frame(send_flag, ctype, content, compress)).await
}

/// Writes a frame built beforehand (see [`encode_frame_with`](super::encode_frame_with))
/// in a single `write_all` and flushes it.
pub async fn write_encoded<W: AsyncWrite + Unpin>(w: &mut W, frame: &[u8]) -> Result<()> {
    w.write_all(frame).await.map_err(io_error)?;
    w.flush().await.map_err(io_error)
}

/// Fills `buf` unless the stream ends first; returns how many bytes arrived.
async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(io_error(err)),
        }
    }
    Ok(filled)
}

fn io_error(err: std::io::Error) -> Error {
    use std::io::ErrorKind as Io;
    // A reset or broken pipe is the peer going away, which callers handle like a close
    // (reconnect), not like a local I/O fault.
    let kind = match err.kind() {
        Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe | Io::UnexpectedEof => ErrorKind::Closed,
        _ => ErrorKind::Io,
    };
    Error::new(kind, format!("sync socket: {err}")).with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{CTYPE_BATCH, CTYPE_HEARTBEAT, DEFAULT_SEND_FLAG};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn frames_survive_a_stream_that_delivers_one_byte_at_a_time() {
        block_on(async {
            let (mut client, mut server) = tokio::io::duplex(1);
            let content: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
            let sent = content.clone();
            let writer = tokio::spawn(async move {
                write_frame(&mut client, DEFAULT_SEND_FLAG, CTYPE_BATCH, &sent, true).await.unwrap();
                write_frame(&mut client, DEFAULT_SEND_FLAG, CTYPE_HEARTBEAT, b"", false).await.unwrap();
            });
            let limits = FrameLimits::default();
            let a = read_frame(&mut server, DEFAULT_SEND_FLAG, &limits).await.unwrap();
            let b = read_frame(&mut server, DEFAULT_SEND_FLAG, &limits).await.unwrap();
            writer.await.unwrap();
            let end = read_frame(&mut server, DEFAULT_SEND_FLAG, &limits).await.unwrap_err();
            assert_eq!((a.ctype, &a.content[..]), (CTYPE_BATCH, &content[..]));
            assert_eq!((b.ctype, b.content.len()), (CTYPE_HEARTBEAT, 0));
            assert_eq!(end.kind(), ErrorKind::Closed, "{end}");
        });
    }
}
