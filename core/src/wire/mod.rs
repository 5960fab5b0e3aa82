//! The legacy sync socket, byte-compatible with go-socket v1 and go-modsynclog.
//!
//! A Go client or server on the other end must not notice it is talking to us, so every
//! byte follows the original (SPEC §4 and §5); where the original is unsafe (it panics,
//! trusts announced lengths, or reads a header with one short `read()`), these codecs
//! return an [`Error`](crate::Error) instead and keep the bytes that do get through the same.
//!
//! - [`frame`]: the 20-byte header, zlib bodies, message kinds and limits;
//! - [`io`]: reading and writing whole frames on a tokio stream;
//! - [`message`]: the 301 request and 304 day-finished bodies;
//! - [`udata`]: the 302 batch of records.
//!
//! A conversation, for orientation:
//!
//! ```text
//! client                                  server
//!   7  "hello test msg from client"  ->
//!                                    <-   8  "hello test msg from server"
//!   301 {"date":"2026-11-21","id":0} ->
//!                                    <-   302 batch (zlib), repeated
//!                                    <-   304 "2026-11-21" once the day is finished
//!   1  heartbeat every 5 s           ->
//! ```

pub mod frame;
pub mod io;
pub mod message;
pub mod udata;

pub use frame::{
    CTYPE_BATCH, CTYPE_DAY_FINISHED, CTYPE_HEARTBEAT, CTYPE_HELLO, CTYPE_HELLO_REPLY, CTYPE_REQUEST, DEFAULT_SEND_FLAG,
    DEFAULT_ZLIB_LEVEL, Frame, FrameHeader, FrameLimits, HEADER_LEN, HELLO_FROM_CLIENT, HELLO_FROM_SERVER,
    check_header, decode_body, encode_frame, encode_frame_with,
};
pub use io::{read_frame, write_encoded, write_frame};
pub use message::{SyncRequest, decode_day_finished, encode_day_finished};
pub use udata::{RECORD_HEADER_LEN, WireRecord, batch_len, decode_batch, encode_batch, write_batch};
