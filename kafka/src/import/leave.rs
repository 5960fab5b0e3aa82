//! Leaving the consumer group when an import stops, in bounded time.
//!
//! Dropping a `BaseConsumer` closes it: librdkafka revokes the partitions from inside its
//! close, and our rebalance callback's `unassign()` then waits for the group thread with
//! no timeout. That wait can last forever (librdkafka issue #4884; seen once here, in CI:
//! every librdkafka thread idle, the import's thread in `rd_kafka_assign(NULL)`), and the
//! stop of the import with it. So the import leaves in two steps:
//!
//! 1. [`leave`]: unsubscribe and poll, so that the revoke runs as an ordinary rebalance
//!    (its batches queued, acknowledged and committed, as on any revoke), until no
//!    partition is left or the deadline passes;
//! 2. [`close`]: drop the consumer, which has nothing left to revoke, on a helper thread,
//!    and wait for it up to the deadline. A close that does not end is left behind (its
//!    thread and connections with it, logged as an error) rather than holding the stop.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::rebalance::ImportContext;

/// How long one poll waits while the group takes the partitions back.
const LEAVE_POLL: Duration = Duration::from_millis(100);

/// Unsubscribes and serves the revoke that follows (see the module docs). Messages
/// prefetched meanwhile are not taken: the revoke commits what the store holds, and the
/// partitions' next owner reads the rest. Returns whether every partition was revoked
/// within `timeout`.
pub(crate) fn leave(consumer: &BaseConsumer<ImportContext>, timeout: Duration, name: &str) -> bool {
    consumer.unsubscribe();
    let deadline = Instant::now() + timeout;
    loop {
        let left = consumer.context().pipeline().assignment().len();
        if left == 0 {
            return true;
        }
        if Instant::now() >= deadline {
            tracing::warn!(import = %name, partitions = left, ?timeout, "kafka import: the group did not take the partitions back in time; closing anyway");
            return false;
        }
        // A message polled here is dropped: its offset is past what the revoke commits.
        let _ = consumer.poll(LEAVE_POLL);
    }
}

/// Drops `consumer` on a helper thread and waits up to `timeout` for it (see the module
/// docs). Returns whether the close ended in time.
pub(crate) fn close(consumer: BaseConsumer<ImportContext>, timeout: Duration, name: &str) -> bool {
    let (done, closed) = std::sync::mpsc::channel::<()>();
    let closing = std::thread::Builder::new().name(format!("kafka-close-{name}")).spawn(move || {
        drop(consumer);
        let _ = done.send(());
    });
    if let Err(e) = closing {
        // The consumer went down with the closure that was not run: dropped here, unbounded.
        tracing::warn!(import = %name, error = %e, "kafka import: no thread to close the consumer on; closed in place");
        return true;
    }
    match closed.recv_timeout(timeout) {
        Ok(()) => true,
        Err(_) => {
            tracing::error!(import = %name, ?timeout, "kafka import: closing the consumer did not end; it is left behind (librdkafka #4884)");
            false
        }
    }
}
