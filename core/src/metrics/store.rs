//! Figures read from a store folder when asked (a scrape, an API call): its days, and how
//! far each connected replica is behind it.
//!
//! Everything here is a few `stat`s and, per lagging replica, one index entry and one
//! record header read, all through the store's [`Vfs`]: cheap enough to do on every scrape.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::collect::{counter, gauge, gauges};
use super::sessions::{SessionInfo, SessionKind, Sessions};
use crate::date::Date;
use crate::error::Result;
use crate::store::day;
use crate::store::io::Vfs;
use crate::store::notify::Signal;

/// Days shown by `day_records` and `day_bytes`: two months keeps a scrape small whatever
/// the retention.
const DAYS_IN_METRICS: usize = 62;

/// One day of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayInfo {
    pub date: Date,
    pub records: u64,
    pub bytes: u64,
    pub finished: bool,
}

/// The days of the store at `root`, newest first.
pub fn days(vfs: &dyn Vfs, root: &Path) -> Result<Vec<DayInfo>> {
    day::list_days(vfs, root)?.into_iter().rev().map(|date| day_info(vfs, root, date)).collect()
}

/// The newest day of the store at `root` (`None` when it has none): what [`days`] gives
/// first, without looking into every other day's files.
pub fn newest_day(vfs: &dyn Vfs, root: &Path) -> Result<Option<DayInfo>> {
    day::list_days(vfs, root)?.last().map(|&date| day_info(vfs, root, date)).transpose()
}

fn day_info(vfs: &dyn Vfs, root: &Path, date: Date) -> Result<DayInfo> {
    Ok(DayInfo {
        date,
        records: day::record_count(vfs, root, date)?,
        bytes: day::day_bytes(vfs, root, date)?,
        finished: day::is_finished(vfs, root, date),
    })
}

/// A connected replica and how far behind it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaInfo {
    pub session: SessionInfo,
    /// Records the store holds past the replica's position.
    pub lag_records: u64,
    /// 0 when caught up; else the age of the oldest record not sent to it yet.
    pub lag_seconds: f64,
}

/// The replicas among `sessions`, with their lag against the store at `root`.
pub fn replicas(vfs: &dyn Vfs, root: &Path, sessions: &Sessions) -> Vec<ReplicaInfo> {
    let days = day::list_days(vfs, root).unwrap_or_default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    sessions
        .list()
        .into_iter()
        .filter(|s| s.kind.is_replica())
        .map(|session| {
            let (lag_records, oldest) = match session.position {
                Some((date, id)) => lag(vfs, root, &days, date, id),
                None => (0, None),
            };
            let lag_seconds = oldest.map_or(0.0, |t| (now - f64::from(t)).max(0.0));
            ReplicaInfo { session, lag_records, lag_seconds }
        })
        .collect()
}

/// Records past `(date, id)` and the time of the first of them.
fn lag(vfs: &dyn Vfs, root: &Path, days: &[Date], date: Date, id: u64) -> (u64, Option<i32>) {
    let (mut behind, mut oldest) = (0u64, None);
    for &d in days.iter().filter(|d| **d >= date) {
        let from = if d == date { id } else { 0 };
        let count = day::record_count(vfs, root, d).unwrap_or(0);
        if count > from {
            behind += count - from;
            if oldest.is_none() {
                oldest = day::record_time(vfs, root, d, from).ok().flatten();
            }
        }
    }
    (behind, oldest)
}

/// The store's figures for a scrape: appends since start and the head (from the writer's
/// [`Signal`], when this process writes the store), the days, the connected replicas.
#[derive(Debug)]
pub struct StoreMetrics {
    pub vfs: Arc<dyn Vfs>,
    pub root: PathBuf,
    pub signal: Option<Arc<Signal>>,
    pub sessions: Option<Arc<Sessions>>,
}

impl Collector for StoreMetrics {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        if let Some(signal) = &self.signal {
            let head = signal.head();
            counter(&mut e, "appended_records", "Records appended since start", head.appended_records)?;
            counter(&mut e, "appended_bytes", "Payload bytes appended since start", head.appended_bytes)?;
            counter(&mut e, "append_batches", "Group commits since start", head.appended_batches)?;
            if let Some(date) = head.date {
                let labels = [("date", date.to_string())];
                gauges(&mut e, "head_records", "Records in the day last written", &[(labels, head.count as i64)])?;
            }
        }
        let days = days(self.vfs.as_ref(), &self.root).unwrap_or_default();
        let shown = &days[..days.len().min(DAYS_IN_METRICS)];
        let label = |d: &DayInfo| [("date", d.date.to_string())];
        let records: Vec<_> = shown.iter().map(|d| (label(d), d.records as i64)).collect();
        gauges(&mut e, "day_records", "Records of each day (the newest 62)", &records)?;
        let bytes: Vec<_> = shown.iter().map(|d| (label(d), d.bytes as i64)).collect();
        gauges(&mut e, "day_bytes", "Bytes on disk of each day (the newest 62)", &bytes)?;
        let total: u64 = days.iter().map(|d| d.bytes).sum();
        gauge(&mut e, "store_bytes", "Bytes on disk of the whole store", total as i64)?;

        let Some(sessions) = &self.sessions else { return Ok(()) };
        let replicas = replicas(self.vfs.as_ref(), &self.root, sessions);
        let producers = sessions.list().iter().filter(|s| s.kind == SessionKind::Producer).count();
        let connected: Vec<_> = ["native", "legacy"]
            .iter()
            .map(|p| ([("protocol", *p)], replicas.iter().filter(|r| r.session.kind.protocol() == *p).count() as i64))
            .collect();
        gauges(&mut e, "replicas_connected", "Replicas connected now", &connected)?;
        gauge(&mut e, "producers_connected", "SDK producers (ingest streams) connected now", producers as i64)?;
        let hosts = furthest_behind_per_host(&replicas);
        let labels = |host: &str, r: &ReplicaInfo| {
            [("replica", host.to_string()), ("protocol", r.session.kind.protocol().to_string())]
        };
        let position: Vec<_> =
            hosts.iter().map(|(h, r)| (labels(h, r), r.session.position.map_or(0, |(_, id)| id) as i64)).collect();
        gauges(&mut e, "replica_position", "Next record id sent to each replica host, of its day", &position)?;
        let lag: Vec<_> = hosts.iter().map(|(h, r)| (labels(h, r), r.lag_records as i64)).collect();
        gauges(&mut e, "replica_lag_records", "Records each replica host is behind", &lag)?;
        let lag: Vec<_> = hosts.iter().map(|(h, r)| (labels(h, r), r.lag_seconds)).collect();
        gauges(&mut e, "replica_lag_seconds", "Age of the oldest record not yet sent to each replica host", &lag)?;
        Ok(())
    }
}

/// The replica furthest behind of each host and protocol, with the host: the label the
/// per-replica gauges carry. A host and not its address, because a replica that reconnects
/// comes from a new port, and a port in the label made a new series at every reconnect;
/// two replicas on one host share a series that shows the one further behind.
fn furthest_behind_per_host(replicas: &[ReplicaInfo]) -> Vec<(String, &ReplicaInfo)> {
    let mut hosts: BTreeMap<(String, &'static str), &ReplicaInfo> = BTreeMap::new();
    for r in replicas {
        let address = &r.session.address;
        let host = address.parse::<SocketAddr>().map_or_else(|_| address.clone(), |a| a.ip().to_string());
        let slot = hosts.entry((host, r.session.kind.protocol())).or_insert(r);
        if (r.lag_records, r.lag_seconds) > (slot.lag_records, slot.lag_seconds) {
            *slot = r;
        }
    }
    hosts.into_iter().map(|((host, _), r)| (host, r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::io::StdVfs;
    use crate::store::{Durability, NewRecord, Store, StoreOptions};

    #[test]
    fn newest_day_is_the_first_of_days() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(newest_day(&StdVfs, dir.path()).unwrap(), None);
        let mut store =
            Store::open(dir.path(), StoreOptions { durability: Durability::Never, ..Default::default() }).unwrap();
        for (day, n) in [("2026-11-20", 2), ("2026-11-22", 3), ("2026-11-21", 1)] {
            let recs: Vec<_> = (0..n).map(|_| NewRecord { time: 1, ty: 1, data: b"abc" }).collect();
            store.append(Date::parse(day).unwrap(), &recs).unwrap();
        }
        let all = days(&StdVfs, dir.path()).unwrap();
        assert_eq!(all.iter().map(|d| d.records).collect::<Vec<_>>(), [3, 1, 2]);
        assert_eq!(newest_day(&StdVfs, dir.path()).unwrap().as_ref(), all.first());
    }

    fn replica(kind: SessionKind, address: &str, lag_records: u64) -> ReplicaInfo {
        let session = SessionInfo {
            id: 0,
            kind,
            address: address.to_string(),
            connected_since: 0,
            position: Some((Date::parse("2026-11-30").unwrap(), 100 - lag_records)),
            records: 0,
            bytes: 0,
        };
        ReplicaInfo { session, lag_records, lag_seconds: lag_records as f64 / 10.0 }
    }

    #[test]
    fn replicas_are_labelled_by_host_and_the_furthest_behind_is_shown() {
        let replicas = [
            replica(SessionKind::NativeReplica, "10.0.0.7:50123", 5),
            replica(SessionKind::NativeReplica, "10.0.0.7:50999", 40),
            replica(SessionKind::NativeReplica, "10.0.0.7:51000", 7),
            replica(SessionKind::LegacyReplica, "10.0.0.7:41000", 1),
            replica(SessionKind::NativeReplica, "[::1]:6000", 0),
            replica(SessionKind::LegacyReplica, "unknown", 3),
        ];
        let shown: Vec<_> = furthest_behind_per_host(&replicas)
            .into_iter()
            .map(|(host, r)| (host, r.session.kind.protocol(), r.lag_records))
            .collect();
        assert_eq!(
            shown,
            [
                ("10.0.0.7".to_string(), "legacy", 1),
                ("10.0.0.7".to_string(), "native", 40),
                ("::1".to_string(), "native", 0),
                ("unknown".to_string(), "legacy", 3),
            ]
        );
    }
}
