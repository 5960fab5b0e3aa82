//! The producer's linger timer: how long a batch that is not full may wait for more records.
//!
//! tokio's timers have millisecond granularity and round a deadline up to the next tick,
//! and its reactor then sleeps in `epoll_wait`, whose timeout is whole milliseconds too: a
//! 1 ms linger took about 2 ms (`modsynclog-bench lag` measured p50 2.1 ms), which doubled
//! the commit-to-readable latency of a lightly loaded producer. On Linux the linger sleeps on
//! a `timerfd` instead (nanosecond resolution, woken through the same reactor; the producer's
//! task always runs on a runtime with I/O, which its gRPC connection needs anyway);
//! elsewhere, or if a timerfd cannot be made (out of descriptors), on tokio's timer. (The `tokio-timerfd` crate does the same, but pulls a second, older `rustix`
//! into the build for what is three `libc` calls here.)

use std::time::Instant;

/// Sleeps until `deadline`.
pub(super) async fn sleep_until(deadline: Instant) {
    #[cfg(target_os = "linux")]
    if timerfd::sleep_until(deadline).await.is_ok() {
        return;
    }
    tokio::time::sleep_until(deadline.into()).await
}

#[cfg(target_os = "linux")]
mod timerfd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Instant;

    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// One-shot timerfd on `CLOCK_MONOTONIC` (the clock of [`Instant`] on Linux), armed for
    /// what is left until `deadline` and awaited through tokio's reactor.
    pub(super) async fn sleep_until(deadline: Instant) -> io::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        // SAFETY: a plain system call; its result is checked.
        let raw = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec {
                tv_sec: left.as_secs().try_into().unwrap_or(libc::time_t::MAX),
                tv_nsec: left.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: `fd` is a timerfd and `spec` a valid itimerspec; the old value is not asked for.
        if unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: an `OwnedFd` names the same open descriptor until it is dropped, and the
        // `AsyncFd` owns it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(io::Error::from)?;
        loop {
            let mut ready = fd.readable().await?;
            let mut expirations = 0u64;
            // SAFETY: reads at most 8 bytes into `expirations`, which has 8.
            let n = unsafe { libc::read(fd.as_raw_fd(), (&raw mut expirations).cast(), 8) };
            if n == 8 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::WouldBlock {
                return Err(err);
            }
            ready.clear_ready();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A batch never leaves before its linger is over. (How soon after: that is timing, and
    /// `modsynclog-bench lag` prints it.)
    #[tokio::test]
    async fn never_wakes_before_the_deadline() {
        for micros in [0, 1, 250, 1000, 3000] {
            let start = Instant::now();
            let deadline = start + Duration::from_micros(micros);
            sleep_until(deadline).await;
            assert!(Instant::now() >= deadline, "woke {:?} early", deadline - Instant::now());
        }
    }

    /// The timerfd itself works here (no silent fall-back to tokio's timer on Linux).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_timerfd_is_used_on_linux() {
        let deadline = Instant::now() + Duration::from_micros(300);
        timerfd::sleep_until(deadline).await.expect("a timerfd sleep");
        assert!(Instant::now() >= deadline);
    }
}
