//! Who is connected now: replicas (native subscriptions, legacy sync sockets) and
//! producers (native ingest streams), for the HTTP API and the per-replica metrics.
//!
//! A connection registers itself and gets a [`Session`] guard; dropping the guard
//! (however the connection ends) removes it. Updates are lock-free except a replica's
//! position, a small mutex taken once per batch sent.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::date::Date;

/// What a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A replica over the native gRPC sync service.
    NativeReplica,
    /// A replica over the original's TCP sync socket.
    LegacyReplica,
    /// An SDK producer's ingest stream.
    Producer,
}

impl SessionKind {
    pub fn protocol(self) -> &'static str {
        match self {
            SessionKind::NativeReplica | SessionKind::Producer => "native",
            SessionKind::LegacyReplica => "legacy",
        }
    }

    pub fn is_replica(self) -> bool {
        self != SessionKind::Producer
    }
}

#[derive(Debug)]
struct Entry {
    kind: SessionKind,
    address: String,
    connected_since: u64,
    /// A replica's next record to send.
    position: Mutex<Option<(Date, u64)>>,
    /// A producer's records and payload bytes stored.
    records: AtomicU64,
    bytes: AtomicU64,
}

/// The sessions of a process.
#[derive(Debug, Default)]
pub struct Sessions {
    next_id: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Entry>>>,
}

/// One session as seen at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Unique in the process, never reused: tells a reconnect from the same session.
    pub id: u64,
    pub kind: SessionKind,
    pub address: String,
    /// Unix seconds.
    pub connected_since: u64,
    pub position: Option<(Date, u64)>,
    pub records: u64,
    pub bytes: u64,
}

impl Sessions {
    /// Registers a session of `kind` from `address` (a socket address, or "unknown").
    pub fn open(self: &Arc<Self>, kind: SessionKind, address: String) -> Session {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let since = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let entry = Arc::new(Entry {
            kind,
            address,
            connected_since: since,
            position: Mutex::new(None),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        });
        self.open.lock().unwrap_or_else(|p| p.into_inner()).insert(id, entry.clone());
        Session { sessions: self.clone(), id, entry }
    }

    /// The sessions open now, oldest first.
    pub fn list(&self) -> Vec<SessionInfo> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.iter()
            .map(|(id, e)| SessionInfo {
                id: *id,
                kind: e.kind,
                address: e.address.clone(),
                connected_since: e.connected_since,
                position: *e.position.lock().unwrap_or_else(|p| p.into_inner()),
                records: e.records.load(Ordering::Relaxed),
                bytes: e.bytes.load(Ordering::Relaxed),
            })
            .collect()
    }
}

/// A registered session; removed from its [`Sessions`] when dropped.
#[derive(Debug)]
pub struct Session {
    sessions: Arc<Sessions>,
    id: u64,
    entry: Arc<Entry>,
}

impl Session {
    /// A replica's next record to send.
    pub fn set_position(&self, date: Date, id: u64) {
        *self.entry.position.lock().unwrap_or_else(|p| p.into_inner()) = Some((date, id));
    }

    /// A producer's records stored.
    pub fn add(&self, records: u64, bytes: u64) {
        self.entry.records.fetch_add(records, Ordering::Relaxed);
        self.entry.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.sessions.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_listed_until_dropped() {
        let sessions = Arc::new(Sessions::default());
        let a = sessions.open(SessionKind::NativeReplica, "10.0.0.1:1".into());
        let b = sessions.open(SessionKind::Producer, "10.0.0.2:2".into());
        a.set_position(Date::parse("2026-11-30").unwrap(), 7);
        b.add(3, 30);
        let list = sessions.list();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].position, Some((Date::parse("2026-11-30").unwrap(), 7)));
        assert_eq!((list[1].records, list[1].bytes), (3, 30));
        drop(a);
        let list = sessions.list();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].kind, SessionKind::Producer);
    }
}
