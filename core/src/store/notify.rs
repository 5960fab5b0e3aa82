//! How the writer tells readers in the same process that something changed.
//!
//! The [`Signal`] is a sequence number behind a mutex and a condition variable, plus a
//! tokio `watch` channel carrying the same [`Head`] for async tasks. The writer bumps it
//! after every append and every `finish`; a reader remembers the sequence it saw before
//! looking at the files and sleeps only while it is unchanged, so no wake-up is lost.
//! Readers in other processes cannot be woken this way and poll instead.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::date::Date;

/// The writer's position: the latest day written to and its record count, and the day
/// before it while that one still takes late records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Head {
    /// Bumped on every change; lets waiters tell "something happened" from a spurious wake.
    pub seq: u64,
    pub date: Option<Date>,
    pub count: u64,
    /// An earlier day still open for late records (see the writer's finish grace), and
    /// its published record count; `None` once it is finished.
    pub late: Option<(Date, u64)>,
    /// The latest day published as finished.
    pub finished: Option<Date>,
    /// Totals since the store was opened, for metrics.
    pub appended_records: u64,
    pub appended_bytes: u64,
    pub appended_batches: u64,
    /// Bumped whenever the writer may have cut bytes off a day's files (a failed batch cut
    /// back, a day reopened and recovered): what a reader cached past its last record may
    /// be gone or rewritten since.
    pub cuts: u64,
}

impl Head {
    /// Of `on_disk` records of `date`, those the writer had published at this head: a
    /// batch that failed may sit in the files, whole, until the writer cuts it, and no
    /// reader in the process may hand it out.
    pub fn published(&self, date: Date, on_disk: u64) -> u64 {
        if let Some((late, count)) = self.late
            && late == date
        {
            return on_disk.min(count);
        }
        match self.date {
            Some(head) if head == date => on_disk.min(self.count),
            // Appends have moved on to a later day: this one is whole.
            Some(head) if head > date => on_disk,
            // A day after the head has nothing published yet; with no head, no day was
            // there when the store opened and nothing is appended yet.
            Some(_) | None => 0,
        }
    }
}

#[derive(Debug)]
pub struct Signal {
    state: Mutex<Head>,
    /// Threads blocked in [`Signal::wait_past`]; waking a condition variable nobody waits
    /// on still costs a system call, on every append.
    sleepers: AtomicUsize,
    cv: Condvar,
    watch: tokio::sync::watch::Sender<Head>,
}

impl Default for Signal {
    fn default() -> Self {
        Signal {
            state: Mutex::new(Head::default()),
            sleepers: AtomicUsize::new(0),
            cv: Condvar::new(),
            watch: tokio::sync::watch::Sender::new(Head::default()),
        }
    }
}

impl Signal {
    pub fn head(&self) -> Head {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes everyone without moving the head (a day finished, a reader stopped).
    pub fn publish(&self, position: Option<(Date, u64)>) {
        self.update(|head| {
            if let Some((date, count)) = position {
                head.date = Some(date);
                head.count = count;
            }
        });
    }

    /// Says `date` is finished: whole, and no longer a late day.
    pub fn publish_finished(&self, date: Date) {
        self.update(|head| {
            if head.late.is_some_and(|(late, _)| late == date) {
                head.late = None;
            }
            head.finished = head.finished.max(Some(date));
        });
    }

    /// Publishes `count` records of `date`, an open day before the head (at open).
    pub fn publish_late(&self, date: Date, count: u64) {
        self.update(|head| head.late = Some((date, count)));
    }

    /// Says the writer may have cut bytes off `date`'s files (see [`Head::cuts`]), which
    /// now hold `count` records: a published count above it comes down, or the records of
    /// a later batch that fails would be handed out up to the old count before the writer
    /// cuts them too.
    pub fn publish_cut(&self, date: Date, count: u64) {
        self.update(|head| {
            head.cuts += 1;
            if head.date == Some(date) {
                head.count = head.count.min(count);
            }
            if let Some((late, published)) = &mut head.late
                && *late == date
            {
                *published = (*published).min(count);
            }
        });
    }

    /// Publishes an appended batch: the new head and the totals. A batch of a day before
    /// the head's is a late one (that day is still open); moving on to a later day keeps
    /// the old head's count as the late day's until it is finished, so that a late batch
    /// being written is not handed out before it is published.
    pub fn publish_append(&self, date: Date, count: u64, records: u64, bytes: u64) {
        self.update(|head| {
            match head.date {
                Some(h) if date < h => head.late = Some((date, count)),
                Some(h) if date > h => {
                    // A day finished before the head left it is whole: no late count.
                    head.late = (head.finished != Some(h)).then_some((h, head.count));
                    head.date = Some(date);
                    head.count = count;
                }
                _ => {
                    head.date = Some(date);
                    head.count = count;
                }
            }
            head.appended_records += records;
            head.appended_bytes += bytes;
            head.appended_batches += 1;
        });
    }

    fn update(&self, change: impl FnOnce(&mut Head)) {
        let mut head = self.state.lock().unwrap_or_else(|p| p.into_inner());
        head.seq += 1;
        change(&mut head);
        let snapshot = *head;
        drop(head);
        // A sleeper registers under the lock taken above, so it is counted by now.
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.cv.notify_all();
        }
        self.watch.send_replace(snapshot);
    }

    /// Sleeps until the sequence differs from `seen` or `timeout` passes; returns the sequence.
    pub fn wait_past(&self, seen: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let mut head = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while head.seq == seen {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            head = self.cv.wait_timeout(head, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
        head.seq
    }

    /// Threads blocked in [`wait_past`](Signal::wait_past) right now (lets a test wait
    /// until a follower is really asleep before it appends).
    pub fn sleepers(&self) -> usize {
        self.sleepers.load(Ordering::SeqCst)
    }

    /// An async view of the head, for tasks that feed replicas.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Head> {
        self.watch.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn wakes_a_waiter_and_times_out_without_one() {
        let s = Arc::new(Signal::default());
        assert_eq!(s.wait_past(0, Duration::from_millis(5)), 0);
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.wait_past(0, Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        s.publish(Some((Date::parse("2026-11-21").unwrap(), 3)));
        assert_eq!(t.join().unwrap(), 1);
        assert_eq!(s.head().count, 3);
        assert_eq!(s.subscribe().borrow().count, 3);
    }
}
