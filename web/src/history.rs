//! The last minutes, one point a second: what the dashboard's charts draw when the page
//! opens (so they are not empty), and the producers' recent rates.
//!
//! A task samples the totals every second: the writer's append counters on the server,
//! the store's record and byte totals on a replica; the largest replica lag; each
//! producer's records.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use modsynclog_core::metrics::{SessionKind, store};
use serde::Serialize;
use tokio::sync::watch;

use crate::Shared;

/// Points kept: five minutes.
const POINTS: usize = 300;
/// A producer's rate is taken over this many samples (seconds).
const RATE_WINDOW: usize = 10;

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Point {
    t: u64,
    records_per_s: f64,
    bytes_per_s: f64,
    lag_records: u64,
    lag_seconds: f64,
}

#[derive(Default)]
struct Inner {
    points: VecDeque<Point>,
    /// The totals at the last sample.
    last: Option<(Instant, u64, u64)>,
    /// Per producer session: (when, records) of the last samples.
    producers: HashMap<u64, VecDeque<(Instant, u64)>>,
}

#[derive(Default)]
pub(crate) struct History(Mutex<Inner>);

/// What one sample read.
struct Sample {
    records: u64,
    bytes: u64,
    lag_records: u64,
    lag_seconds: f64,
    producers: Vec<(u64, u64)>,
}

impl History {
    pub(crate) fn points(&self) -> Vec<Point> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).points.iter().copied().collect()
    }

    /// Records/s of producer session `id` over the last [`RATE_WINDOW`] seconds.
    pub(crate) fn producer_rate(&self, id: u64) -> f64 {
        let inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some(samples) = inner.producers.get(&id) else { return 0.0 };
        match (samples.front(), samples.back()) {
            (Some(first), Some(last)) if last.0 > first.0 => {
                (last.1 - first.1) as f64 / last.0.duration_since(first.0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    fn add(&self, now: Instant, sample: Sample) {
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if let Some((then, records, bytes)) = inner.last {
            let secs = now.duration_since(then).as_secs_f64().max(1e-3);
            let point = Point {
                t,
                // A restart of the counters (a replica's day removed by retention) is no rate.
                records_per_s: sample.records.saturating_sub(records) as f64 / secs,
                bytes_per_s: sample.bytes.saturating_sub(bytes) as f64 / secs,
                lag_records: sample.lag_records,
                lag_seconds: sample.lag_seconds,
            };
            if inner.points.len() == POINTS {
                inner.points.pop_front();
            }
            inner.points.push_back(point);
        }
        inner.last = Some((now, sample.records, sample.bytes));
        let live: Vec<u64> = sample.producers.iter().map(|(id, _)| *id).collect();
        inner.producers.retain(|id, _| live.contains(id));
        for (id, records) in sample.producers {
            let samples = inner.producers.entry(id).or_default();
            if samples.len() == RATE_WINDOW + 1 {
                samples.pop_front();
            }
            samples.push_back((now, records));
        }
    }
}

fn take(state: &Shared) -> Sample {
    let (mut records, mut bytes, mut lag_records, mut lag_seconds) = (0, 0, 0, 0.0f64);
    if let Some(view) = &state.store {
        match &view.signal {
            Some(signal) => {
                let head = signal.head();
                (records, bytes) = (head.appended_records, head.appended_bytes);
            }
            None => {
                let days = store::days(view.vfs.as_ref(), &view.root).unwrap_or_default();
                records = days.iter().map(|d| d.records).sum();
                bytes = days.iter().map(|d| d.bytes).sum();
            }
        }
        if let Some(metrics) = &state.metrics {
            for r in store::replicas(view.vfs.as_ref(), &view.root, &metrics.sessions) {
                lag_records = lag_records.max(r.lag_records);
                lag_seconds = lag_seconds.max(r.lag_seconds);
            }
        }
    }
    let producers = match &state.metrics {
        Some(m) => m
            .sessions
            .list()
            .into_iter()
            .filter(|s| s.kind == SessionKind::Producer)
            .map(|s| (s.id, s.records))
            .collect(),
        None => Vec::new(),
    };
    Sample { records, bytes, lag_records, lag_seconds, producers }
}

/// Samples every second until `shutdown` turns true.
pub(crate) async fn sample(state: Shared, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let s = state.clone();
        let now = Instant::now();
        // It stats the store's files: off the runtime's workers.
        if let Ok(sample) = tokio::task::spawn_blocking(move || take(&s)).await {
            state.history.add(now, sample);
        }
    }
}
