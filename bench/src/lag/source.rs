//! Where the records come from, and the commit time each one carries.
//!
//! A record's first 8 bytes are its commit time in `CLOCK_MONOTONIC` nanoseconds
//! ([`mono_ns`], the same clock in every process), so any follower, in this process or
//! another, can tell how long the record took to become readable. The records are
//! committed steadily at `--rate`, either through the SDK's [`Producer`]
//! ([`pace_producer`]) or queued straight on the server's writer ([`pace_writer`]).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use modsynclog_core::sdk::Producer;
use modsynclog_core::server::{Origin, WriterHandle};
use tokio::runtime::Runtime;

use super::args::{Filler, LagArgs};

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process of the machine.
pub(super) fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A record of `size` bytes: the commit time, then the filler.
pub(super) fn stamped(size: usize, filler: Filler) -> Bytes {
    let mut v = vec![b'x'; size.max(8)];
    if filler == Filler::Random {
        thread_local!(static STATE: std::cell::Cell<u64> = const { std::cell::Cell::new(0x9e37_79b9_7f4a_7c15) });
        STATE.with(|state| {
            let mut x = state.get();
            for chunk in v[8..].chunks_mut(8) {
                // xorshift64: fast, and gzip finds nothing to squeeze.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
            }
            state.set(x);
        });
    }
    v[..8].copy_from_slice(&mono_ns().to_le_bytes());
    Bytes::from(v)
}

/// The commit time a record carries (see [`stamped`]).
pub(super) fn commit_time(data: &[u8]) -> Result<u64> {
    Ok(u64::from_le_bytes(data.get(..8).context("record shorter than its timestamp")?.try_into()?))
}

/// Commits `total` stamped records at `args.rate`: every 200 µs, what is due.
pub(super) fn pace_producer(producer: &Producer, args: &LagArgs, total: u64) -> Result<()> {
    let t = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let due = ((t.elapsed().as_secs_f64() * args.rate as f64) as u64).min(total);
        while sent < due {
            producer.commit(1201, stamped(args.size, args.filler))?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    producer.flush(Some(Duration::from_secs(30)))?;
    Ok(())
}

/// The producer's batching without the SDK and gRPC: records are stamped when committed
/// (every 200 µs, what is due, as [`pace_producer`] does) and queued on the server's writer
/// once the oldest has waited `linger` (0: at once), tagged like a native producer's
/// batches (so the ingest journal is written too). The linger is timed with
/// `std::thread::sleep` (about 0.1 ms late here), not tokio's 1 ms timer wheel.
pub(super) fn pace_writer(
    rt: &Runtime,
    writer: &WriterHandle,
    args: &LagArgs,
    total: u64,
    linger: Duration,
) -> Result<()> {
    let step = Duration::from_micros(200);
    let producer = format!("lag-bench-{}", std::process::id());
    let t = Instant::now();
    let (mut made, mut seq, mut last) = (0u64, 0u64, None);
    let (mut pending, mut oldest): (Vec<(i16, Bytes)>, Option<Instant>) = (Vec::new(), None);
    loop {
        let due = ((t.elapsed().as_secs_f64() * args.rate as f64) as u64).min(total);
        while made < due {
            pending.push((1201, stamped(args.size, args.filler)));
            oldest.get_or_insert_with(Instant::now);
            made += 1;
        }
        if !pending.is_empty() && (made >= total || oldest.is_some_and(|o| o.elapsed() >= linger)) {
            seq += 1;
            let origin = Origin::new(producer.clone(), seq);
            last = Some(rt.block_on(writer.submit_from(Some(origin), std::mem::take(&mut pending)))?);
            oldest = None;
        }
        if made >= total && pending.is_empty() {
            break;
        }
        let to_step = step.as_nanos() - t.elapsed().as_nanos() % step.as_nanos();
        let mut wait = Duration::from_nanos(to_step as u64);
        if let Some(o) = oldest {
            wait = wait.min(linger.saturating_sub(o.elapsed()));
        }
        std::thread::sleep(wait);
    }
    if let Some(ack) = last {
        rt.block_on(ack.wait())?;
    }
    Ok(())
}
