//! Tests of late batches: the previous day kept open for its finish grace.

use std::path::Path;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::store::StoreOptions;

/// 2026-11-21 23:59:50 UTC; the manual clock's days are UTC days.
const BEFORE_MIDNIGHT: i64 = 1_795_305_590;
const GRACE: Duration = Duration::from_secs(300);

fn day(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn spawn(root: &Path, clock: &Arc<ManualClock>, grace: Duration) -> WriterControl {
    let opts = StoreOptions { durability: Durability::Never, ..Default::default() };
    WriterControl::spawn(Store::open(root, opts).unwrap(), clock.clone(), Limits::default(), 16, grace).unwrap()
}

async fn filed(h: &WriterHandle, asked: Option<&str>, payload: &str) -> Appended {
    let records = vec![(1, Bytes::from(payload.to_string()))];
    let pending = h.submit_filed(None, asked.map(day), records).await.unwrap();
    pending.wait().await.unwrap()
}

fn head_of(h: &WriterHandle) -> crate::store::Head {
    h.shared.as_ref().unwrap().lock().unwrap().as_ref().unwrap().store.signal().head()
}

/// A store with one record before midnight and one after (the previous day still open,
/// in its grace), its writer stopped; the clock at 00:00:30.
async fn a_record_each_side_of_midnight() -> (tempfile::TempDir, Arc<ManualClock>) {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(BEFORE_MIDNIGHT);
    let control = spawn(tmp.path(), &clock, GRACE);
    filed(&control.handle(), None, "a").await;
    clock.advance(40);
    filed(&control.handle(), None, "b").await;
    control.shutdown().await;
    (tmp, clock)
}

fn finished(root: &Path, date: &str) -> bool {
    crate::store::day::is_finished(&crate::store::io::StdVfs, root, day(date))
}

#[tokio::test]
async fn the_previous_day_takes_late_batches_until_its_grace_is_over() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(BEFORE_MIDNIGHT);
    let control = spawn(tmp.path(), &clock, GRACE);
    let h = control.handle();
    assert_eq!(filed(&h, None, "a").await, Appended { date: day("2026-11-21"), first_id: 0, count: 1 });

    clock.advance(40); // 00:00:30, in the grace
    assert_eq!(filed(&h, Some("2026-11-21"), "late").await.date, day("2026-11-21"));
    assert_eq!(filed(&h, None, "b").await, Appended { date: day("2026-11-22"), first_id: 0, count: 1 });
    // The head moved on; the late day's count stays published as it was, not "whole".
    let head = head_of(&h);
    assert_eq!(head.late, Some((day("2026-11-21"), 2)));
    assert_eq!(head.published(day("2026-11-21"), 3), 2, "a late batch being written is not handed out");
    assert_eq!(filed(&h, Some("2026-11-21"), "late 2").await.first_id, 2);
    // The future, and a day that never existed, go to the current day.
    assert_eq!(filed(&h, Some("2026-11-25"), "future").await.date, day("2026-11-22"));
    assert_eq!(filed(&h, Some("2026-11-20"), "never").await.date, day("2026-11-22"));
    assert!(!finished(tmp.path(), "2026-11-21"), "open during the grace");
    let head = head_of(&h);
    assert_eq!((head.date, head.count, head.late), (Some(day("2026-11-22")), 3, Some((day("2026-11-21"), 3))));

    clock.advance(300); // 00:05:30: the grace is over
    h.tick();
    assert_eq!(filed(&h, Some("2026-11-21"), "too late").await.date, day("2026-11-22"));
    assert!(finished(tmp.path(), "2026-11-21"));
    let head = head_of(&h);
    assert_eq!(head.late, None, "a finished day is whole");
    control.shutdown().await;

    let got: Vec<(String, String)> = crate::Reader::open(tmp.path())
        .unwrap()
        .map(|r| r.unwrap())
        .map(|r| (r.date.to_string(), String::from_utf8(r.data.to_vec()).unwrap()))
        .collect();
    let want = [
        ("2026-11-21", "a"),
        ("2026-11-21", "late"),
        ("2026-11-21", "late 2"),
        ("2026-11-22", "b"),
        ("2026-11-22", "future"),
        ("2026-11-22", "never"),
        ("2026-11-22", "too late"),
    ];
    assert_eq!(got, want.map(|(d, p)| (d.to_string(), p.to_string())));
}

/// Without a grace the previous day is finished at midnight, as the original does.
#[tokio::test]
async fn without_a_grace_late_batches_go_to_the_current_day() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(BEFORE_MIDNIGHT);
    let control = spawn(tmp.path(), &clock, Duration::ZERO);
    let h = control.handle();
    filed(&h, None, "a").await;
    clock.advance(40);
    assert_eq!(filed(&h, Some("2026-11-21"), "late").await.date, day("2026-11-22"));
    assert!(finished(tmp.path(), "2026-11-21"));
    assert_eq!(head_of(&h).late, None, "a day finished before the head left it is whole");
    control.shutdown().await;
}

/// A restart during the grace with the clock a little behind (before midnight again):
/// both days stay open, and the earlier one is finished once the grace is over.
#[tokio::test]
async fn a_restart_with_the_clock_behind_keeps_both_days_and_finishes_the_earlier() {
    let (tmp, clock) = a_record_each_side_of_midnight().await;

    clock.set(BEFORE_MIDNIGHT - 120); // 23:57:50: the clock stepped back
    let control = spawn(tmp.path(), &clock, GRACE);
    let h = control.handle();
    assert_eq!(filed(&h, None, "c").await.date, day("2026-11-22"), "the newest day, not a reopened one");
    assert_eq!(filed(&h, Some("2026-11-21"), "late").await.date, day("2026-11-21"));
    clock.set(BEFORE_MIDNIGHT + 10 + 301);
    filed(&h, None, "d").await;
    assert!(finished(tmp.path(), "2026-11-21"), "finished once the grace is over");
    control.shutdown().await;
}

/// A restart during the grace keeps the previous day open; one after it finishes it.
#[tokio::test]
async fn a_restart_keeps_the_grace() {
    let (tmp, clock) = a_record_each_side_of_midnight().await;

    let control = spawn(tmp.path(), &clock, GRACE);
    let h = control.handle();
    assert_eq!(
        filed(&h, Some("2026-11-21"), "late").await,
        Appended { date: day("2026-11-21"), first_id: 1, count: 1 }
    );
    let head = head_of(&h);
    assert_eq!(head.late, Some((day("2026-11-21"), 2)));
    control.shutdown().await;

    clock.advance(300);
    let control = spawn(tmp.path(), &clock, GRACE);
    assert!(finished(tmp.path(), "2026-11-21"), "finished at start once the grace is over");
    assert_eq!(filed(&control.handle(), Some("2026-11-21"), "c").await.date, day("2026-11-22"));
    control.shutdown().await;
}

/// One producer's batches alternating between the two days within one group commit are
/// all stored, in order: none is taken for a resend of a later one.
#[tokio::test]
async fn a_producers_batches_across_both_days_in_one_group_are_all_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(BEFORE_MIDNIGHT);
    let control = spawn(tmp.path(), &clock, GRACE);
    let h = control.handle();
    filed(&h, None, "a").await;
    clock.advance(40);
    let today = clock.today();

    let asks = [None, Some("2026-11-21"), None, Some("2026-11-21")];
    let mut acks = Vec::new();
    let mut jobs: Vec<Job> = asks
        .iter()
        .enumerate()
        .map(|(i, asked)| {
            let (tx, rx) = oneshot::channel();
            acks.push(rx);
            Job {
                batch: vec![(1, Bytes::from(format!("seq {}", i + 1)))],
                origin: Some(Origin::new("kafka:g:t:0", i as u64 + 1)),
                day: asked.map(day),
                ack: AckTx {
                    tx,
                    when: AckWhen::Durable,
                    _budget: None,
                    source: Default::default(),
                    arrived: std::time::Instant::now(),
                },
            }
        })
        .collect();
    {
        let mut guard = h.shared.as_ref().unwrap().lock().unwrap();
        let w = guard.as_mut().unwrap();
        w.rollover(today);
        w.commit_all(&mut jobs, today);
    }
    let mut got = Vec::new();
    for rx in acks {
        got.push(rx.await.unwrap().unwrap());
    }
    let stored = |date: &str, first_id| Ack::Stored(Appended { date: day(date), first_id, count: 1 });
    assert_eq!(
        got,
        [stored("2026-11-22", 0), stored("2026-11-21", 1), stored("2026-11-22", 1), stored("2026-11-21", 2)]
    );
    control.shutdown().await;
}
