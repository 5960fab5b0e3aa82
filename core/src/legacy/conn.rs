//! Plumbing shared by both ends: a task that reads frames, and bounded writes.
//!
//! [`read_frame`] is not cancel-safe (dropping it mid-frame loses the bytes already
//! read and desynchronises the stream), so each connection reads in a task of its own
//! and hands whole frames over a small channel. The channel is bounded so that a fast
//! peer is slowed down by TCP instead of filling our memory while we write to disk.

use std::time::Duration;

use tokio::io::AsyncWrite;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{Error, ErrorKind, Result};
use crate::wire::{Frame, FrameLimits, read_frame, write_encoded};

/// Frames read ahead of the consumer: enough to overlap a disk write with the next read.
const READ_AHEAD: usize = 4;

/// The reading half of a connection, running in its own task until dropped.
pub(crate) struct FrameReader {
    rx: mpsc::Receiver<Result<Frame>>,
    task: JoinHandle<()>,
}

impl FrameReader {
    /// Starts reading. With `idle`, a silence that long ends the stream with
    /// [`ErrorKind::Timeout`] (the server's heartbeat rule); with `first`, the first whole
    /// frame must arrive within that (a client that connects and sends nothing, or half a
    /// header, is dropped early).
    pub(crate) fn spawn(
        mut read: OwnedReadHalf,
        send_flag: i32,
        limits: FrameLimits,
        idle: Option<Duration>,
        first: Option<Duration>,
    ) -> FrameReader {
        let (tx, rx) = mpsc::channel(READ_AHEAD);
        let task = tokio::spawn(async move {
            let mut limit = match (first, idle) {
                (Some(f), Some(i)) => Some(f.min(i)),
                (f, i) => f.or(i),
            };
            loop {
                let next = read_frame(&mut read, send_flag, &limits);
                let result = match limit {
                    Some(idle) => tokio::time::timeout(idle, next).await.unwrap_or_else(|_| {
                        Err(Error::new(ErrorKind::Timeout, format!("no frame for {} s", idle.as_secs_f64())))
                    }),
                    None => next.await,
                };
                limit = idle;
                let failed = result.is_err();
                // A send error means the consumer is gone; either way this task is done.
                if tx.send(result).await.is_err() || failed {
                    return;
                }
            }
        });
        FrameReader { rx, task }
    }

    /// The next frame, or the error that ended the stream.
    pub(crate) async fn next(&mut self) -> Result<Frame> {
        match self.rx.recv().await {
            Some(result) => result,
            None => Err(Error::new(ErrorKind::Closed, "the frame reader stopped")),
        }
    }
}

impl Drop for FrameReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Writes one encoded frame (see [`encode_frame`](crate::wire::encode_frame)), giving up
/// after `limit`: a peer that stops reading must not hold the writer (and the store data
/// it has buffered) forever.
pub(crate) async fn write_bounded<W: AsyncWrite + Unpin>(
    w: &mut W,
    limit: Duration,
    ctype: i32,
    frame: &[u8],
) -> Result<()> {
    match tokio::time::timeout(limit, write_encoded(w, frame)).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!("the peer accepted no data for {} s (ctype {ctype})", limit.as_secs_f64()),
        )),
    }
}

/// Resolves when `shutdown` turns true or its sender is dropped (both mean "stop").
pub(crate) async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
