//! The native sync (`modsynclog.v1.Sync`) end to end: our server (`server::start`, with
//! its writer, an injected clock and the gRPC listener) and our replica (`replica::run`).
//!
//! Everything binds 127.0.0.1 port 0 and lives in temp dirs. Servers are `RunningServer`s
//! (dropping one stops it) and replicas run in tasks held by a guard that aborts them, so
//! a failing assertion never leaves anything running.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use modsynclog_core::clock::ManualClock;
use modsynclog_core::proto::v1::sync_client::SyncClient;
use modsynclog_core::proto::v1::sync_event::Event;
use modsynclog_core::proto::v1::{StatusRequest, SubscribeRequest};
use modsynclog_core::replica::{self, Progress, ReplicaConfig};
use modsynclog_core::server::{self, Batch, RunningServer, ServerConfig};
use modsynclog_core::{Date, Durability, ErrorKind, NewRecord, Store, StoreOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::Code;

/// 2026-11-22 00:00:00 UTC.
const NOV22: i64 = 1_795_305_600;
const DAY: i64 = 86_400;
const STEP: Duration = Duration::from_secs(20);

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

/// A replica task with a shutdown switch; dropping it aborts the task.
struct Replica {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<modsynclog_core::Result<()>>>,
    seen: Arc<Mutex<Seen>>,
}

/// What the progress callback saw.
#[derive(Debug, Default)]
struct Seen {
    last: Option<Progress>,
    /// Times the replica went from not connected to connected (subscriptions).
    subscriptions: usize,
}

impl Replica {
    fn start(config: ReplicaConfig) -> Replica {
        let (stop, rx) = watch::channel(false);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        let task = tokio::spawn(replica::run(config, rx, move |p: Progress| {
            let mut s = s.lock().unwrap();
            if p.connected && !s.last.as_ref().is_some_and(|l| l.connected) {
                s.subscriptions += 1;
            }
            s.last = Some(p);
        }));
        Replica { stop, task: Some(task), seen }
    }

    async fn stop(mut self) -> modsynclog_core::Result<()> {
        self.stop.send_replace(true);
        let task = self.task.take().unwrap();
        tokio::time::timeout(STEP, task).await.expect("replica did not stop in time").expect("replica panicked")
    }

    fn last(&self) -> Option<Progress> {
        self.seen.lock().unwrap().last.clone()
    }

    fn subscriptions(&self) -> usize {
        self.seen.lock().unwrap().subscriptions
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn start_server(dir: &Path, clock: &Arc<ManualClock>, token: Option<&str>) -> RunningServer {
    server::start(ServerConfig {
        data_dir: dir.to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        token: token.map(str::to_string),
        durability: Durability::Never,
        clock: clock.clone(),
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

fn replica_config(server: &RunningServer, dir: &Path, clock: &Arc<ManualClock>, history_days: i64) -> ReplicaConfig {
    ReplicaConfig { history_days, clock: clock.clone(), ..ReplicaConfig::new(server.grpc_addr().to_string(), dir) }
}

fn quiet_store(root: &Path) -> Store {
    Store::open(root, StoreOptions { durability: Durability::Never, ..Default::default() }).unwrap()
}

/// A record payload: varied sizes, a few large ones to cut batches by bytes.
fn payload(day: Date, i: u64) -> Vec<u8> {
    let len = if i % 997 == 5 { 700_000 } else { (i * 37 % 300) as usize };
    let mut v = format!("{day} #{i} ").into_bytes();
    v.extend((0..len).map(|k| b'a' + ((i as usize + k) % 26) as u8));
    v
}

/// Appends `n` records to `day` of a store opened directly (before the server starts).
fn fill_store(store: &mut Store, day: Date, n: u64, time: i32) {
    let mut id = store.count(day).unwrap();
    let end = id + n;
    while id < end {
        let k = (end - id).min(173);
        let data: Vec<Vec<u8>> = (id..id + k).map(|i| payload(day, i)).collect();
        let records: Vec<NewRecord<'_>> = data
            .iter()
            .zip(id..)
            .map(|(p, i)| NewRecord { time: time + i as i32, ty: (i % 7) as i16 - 3, data: p })
            .collect();
        store.append(day, &records).unwrap();
        id += k;
    }
}

/// Appends `n` records through the running server's writer, in batches of `per`.
async fn write(server: &RunningServer, tag: &str, n: usize, per: usize) {
    let writer = server.writer();
    let mut i = 0;
    while i < n {
        let k = per.min(n - i);
        let batch = (i..i + k).map(|j| (1201, Bytes::from(format!("{tag} {j} {}", "y".repeat(j % 90))))).collect();
        writer.append(batch).await.unwrap();
        i += k;
    }
}

/// The day folders under `dir` and their files (the server's `.modsynclog` state is not
/// part of what a replica copies).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(days) = std::fs::read_dir(dir) else { return out };
    for day in days {
        let day = day.unwrap().path();
        if !day.is_dir() || day.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        // The replica may delete a day (retention) while we look: what vanished is simply
        // not in this snapshot; callers poll until the folders agree.
        let Ok(files) = std::fs::read_dir(&day) else { continue };
        for f in files {
            let f = f.unwrap().path();
            match std::fs::read(&f) {
                Ok(bytes) => {
                    out.insert(f.strip_prefix(dir).unwrap().to_path_buf(), bytes);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("read {}: {e}", f.display()),
            }
        }
    }
    out
}

fn day_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

fn describe(s: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<(PathBuf, usize)> {
    s.iter().map(|(p, b)| (p.clone(), b.len())).collect()
}

/// Waits (up to 60 s) until the replica's day folders equal the master's, file for file.
async fn wait_identical(master: &Path, replica: &Path, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (a, b) = (snapshot(master), snapshot(replica));
        if a == b && !a.is_empty() {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{what}: folders differ:\nmaster  {:?}\nreplica {:?}", describe(&a), describe(&b));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn index_len(root: &Path, day: &str) -> u64 {
    std::fs::metadata(root.join(day).join("index")).map(|m| m.len()).unwrap_or(0)
}

/// (a) An empty replica catches up three days (two finished, one live), ends byte-identical,
/// then follows live appends; its progress reports the lag going to zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_replica_catches_up_three_days_and_follows_live() {
    let tmp = tempfile::tempdir().unwrap();
    let (master, copy) = (tmp.path().join("master"), tmp.path().join("replica"));
    let (d1, d2, d3) = (d("2026-11-20"), d("2026-11-21"), d("2026-11-22"));
    {
        let mut store = quiet_store(&master);
        fill_store(&mut store, d1, 1_500, 1_795_100_000);
        store.finish(d1).unwrap();
        fill_store(&mut store, d2, 9_000, 1_795_200_000);
        store.finish(d2).unwrap();
        fill_store(&mut store, d3, 700, 1_795_310_000);
    }
    let clock = ManualClock::new(NOV22 + 12 * 3600);
    let server = start_server(&master, &clock, None).await;
    let rep = Replica::start(replica_config(&server, &copy, &clock, -2));

    wait_identical(&master, &copy, "after catching up").await;
    assert!(copy.join("20261120/finish").exists() && copy.join("20261121/finish").exists());
    assert!(!copy.join("20261122/finish").exists());
    assert_eq!(day_names(&copy), ["20261120", "20261121", "20261122"]);

    // Live appends arrive without a new subscription.
    for round in 0..5 {
        write(&server, &format!("live{round}"), 300, 37).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_identical(&master, &copy, "after live appends").await;
    eventually("the lag to reach zero at the head", || {
        rep.last().is_some_and(|p| p.lag == Some(0) && p.head == Some((d3, 2_200)))
    })
    .await;
    let p = rep.last().unwrap();
    assert!(p.connected);
    assert_eq!((p.date, p.next_id), (d3, 700 + 1_500));
    assert_eq!(p.head, Some((d3, 2_200)));
    assert_eq!(p.appended, 1_500 + 9_000 + 2_200);
    assert_eq!(rep.subscriptions(), 1);

    rep.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

/// (b) The server's clock crosses midnight while the replica follows: the old day gets its
/// `finish` on both sides and the replica goes on into the new day on the same stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replica_follows_a_day_rollover_without_resubscribing() {
    let tmp = tempfile::tempdir().unwrap();
    let (master, copy) = (tmp.path().join("master"), tmp.path().join("replica"));
    let clock = ManualClock::new(NOV22 - 60);
    let server = start_server(&master, &clock, None).await;
    let rep = Replica::start(replica_config(&server, &copy, &clock, 0));

    write(&server, "before", 400, 50).await;
    eventually("day one on the replica", || index_len(&copy, "20261121") == 400 * 12).await;
    clock.advance(30);
    write(&server, "just before", 100, 7).await;

    clock.set(NOV22 + 5);
    write(&server, "after", 500, 60).await;
    assert!(master.join("20261121/finish").exists(), "the writer finishes the old day before the new one");
    wait_identical(&master, &copy, "after midnight").await;
    assert!(copy.join("20261121/finish").exists());
    assert!(!copy.join("20261122/finish").exists());
    assert_eq!(index_len(&copy, "20261121"), 500 * 12);
    assert_eq!(index_len(&copy, "20261122"), 500 * 12);
    assert_eq!(rep.subscriptions(), 1, "the replica must not subscribe again");
    eventually("lag zero in the new day", || rep.last().is_some_and(|p| p.date == d("2026-11-22") && p.lag == Some(0)))
        .await;

    rep.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

/// (b2) With a finish grace, late records of the previous day reach the replica after
/// midnight; it stays on that day until the server finishes it, then goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replica_takes_late_records_and_moves_on_once_the_grace_is_over() {
    let tmp = tempfile::tempdir().unwrap();
    let (master, copy) = (tmp.path().join("master"), tmp.path().join("replica"));
    let clock = ManualClock::new(NOV22 - 60);
    let server = server::start(ServerConfig {
        data_dir: master.clone(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        durability: Durability::Never,
        clock: clock.clone(),
        finish_grace: Duration::from_secs(300),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let rep = Replica::start(replica_config(&server, &copy, &clock, 0));
    write(&server, "before", 400, 50).await;
    eventually("day one on the replica", || index_len(&copy, "20261121") == 400 * 12).await;

    clock.set(NOV22 + 5);
    write(&server, "after", 100, 50).await;
    let late: Batch = (0..50).map(|j| (9, Bytes::from(format!("late {j}")))).collect();
    let ack = server.writer().submit_filed(None, Some(d("2026-11-21")), late).await.unwrap().wait().await.unwrap();
    assert_eq!((ack.date, ack.first_id, ack.count), (d("2026-11-21"), 400, 50));
    eventually("the late records on the replica", || index_len(&copy, "20261121") == 450 * 12).await;
    assert!(!master.join("20261121/finish").exists(), "open during the grace");
    assert!(!copy.join("20261122").exists(), "the replica goes on only once the day is finished");

    clock.set(NOV22 + 301);
    write(&server, "after the grace", 10, 10).await;
    assert!(master.join("20261121/finish").exists(), "finished once the grace is over");
    wait_identical(&master, &copy, "after the grace").await;
    assert!(copy.join("20261121/finish").exists());
    assert_eq!(index_len(&copy, "20261122"), 110 * 12);
    rep.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

/// (c) The replica is stopped and restarted mid-stream (twice, once while the server is
/// writing) and resumes from its own count: no duplicates, no gaps, byte-identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_replica_resumes_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let (master, copy) = (tmp.path().join("master"), tmp.path().join("replica"));
    let today = d("2026-11-22");
    {
        let mut store = quiet_store(&master);
        fill_store(&mut store, today, 60_000, 1_795_310_000);
    }
    let clock = ManualClock::new(NOV22 + 3600);
    let server = start_server(&master, &clock, None).await;

    let rep = Replica::start(replica_config(&server, &copy, &clock, 0));
    eventually("the first records", || index_len(&copy, "20261122") > 0).await;
    rep.stop().await.unwrap();
    let held = index_len(&copy, "20261122") / 12;
    assert!(held > 0);

    write(&server, "while stopped", 2_000, 100).await;
    let rep = Replica::start(replica_config(&server, &copy, &clock, 0));
    let writing = {
        let writer = server.writer();
        tokio::spawn(async move {
            for i in 0..40 {
                let batch = (0..50).map(|j| (7, Bytes::from(format!("busy {i} {j}")))).collect();
                writer.append(batch).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    eventually("more records", || index_len(&copy, "20261122") / 12 > held).await;
    rep.stop().await.unwrap();
    let rep = Replica::start(replica_config(&server, &copy, &clock, 0));
    writing.await.unwrap();
    wait_identical(&master, &copy, "after two restarts").await;
    assert_eq!(index_len(&copy, "20261122") / 12, 60_000 + 2_000 + 2_000);
    // Every id once, in order, with the master's bytes.
    let records: Vec<_> = modsynclog_core::Reader::open(&copy).unwrap().from(today, 0).map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 64_000);
    assert!(records.iter().enumerate().all(|(i, r)| r.id == i as u64));
    rep.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

/// (d) A wrong token is refused and writes nothing; bad dates are refused and change
/// nothing on disk; a replica claiming more than the server holds is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_and_bad_dates_are_refused_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (master, copy) = (tmp.path().join("master"), tmp.path().join("replica"));
    {
        let mut store = quiet_store(&master);
        fill_store(&mut store, d("2026-11-22"), 50, 1_795_310_000);
    }
    let clock = ManualClock::new(NOV22 + 3600);
    let server = start_server(&master, &clock, Some("s3cret")).await;
    let before = snapshot(&master);
    let tree_before = day_names(&master);

    // The replica with a wrong token, and with none: Unauthenticated, nothing written.
    for token in [Some("wrong"), None] {
        let config = ReplicaConfig { token: token.map(str::to_string), ..replica_config(&server, &copy, &clock, 0) };
        let err = tokio::time::timeout(STEP, replica::run(config, watch::channel(false).1, |_| {}))
            .await
            .expect("a refused token is not retried forever")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
        assert!(day_names(&copy).is_empty(), "nothing may be written: {:?}", day_names(&copy));
    }

    // Raw calls.
    let url = format!("http://{}", server.grpc_addr());
    let mut anon = SyncClient::connect(url.clone()).await.unwrap();
    let status = anon.status(StatusRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = anon.subscribe(SubscribeRequest { date: "2026-11-22".into(), id: 0 }).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    let mut authed =
        replica::connect(&server.grpc_addr().to_string(), Some("s3cret"), &Default::default()).await.unwrap();
    for bad in ["../../etc", "2026-02-30", "20261122", "2026-11-22 ", "", "2026-1-22"] {
        let status = authed.subscribe(SubscribeRequest { date: bad.into(), id: 0 }).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
    }
    let status = authed.subscribe(SubscribeRequest { date: "2026-11-22".into(), id: 51 }).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let status = authed.subscribe(SubscribeRequest { date: "2026-11-21".into(), id: 3 }).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(snapshot(&master), before);
    assert_eq!(day_names(&master), tree_before);
    assert!(!tmp.path().join("etc").exists() && !master.join("..").join("..").join("etc").join("index").exists());

    // The right token works: status, and a stream that opens with DayStart.
    let days = replica::client::status_of(&mut authed).await.unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!((days[0].date, days[0].count, days[0].finished), (d("2026-11-22"), 50, false));
    let mut stream =
        authed.subscribe(SubscribeRequest { date: "2026-11-22".into(), id: 10 }).await.unwrap().into_inner();
    let first = stream.message().await.unwrap().unwrap().event.unwrap();
    assert!(matches!(first, Event::Start(ref s) if s.date == "2026-11-22" && s.id == 10), "{first:?}");
    let mut got = 0;
    while got < 40 {
        match stream.message().await.unwrap().unwrap().event.unwrap() {
            Event::Batch(b) => {
                assert_eq!(b.first_id, 10 + got);
                got += b.records.len() as u64;
            }
            Event::Head(h) => assert_eq!((h.date.as_str(), h.count), ("2026-11-22", 50)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, 40);
    drop(stream);
    server.shutdown().await.unwrap();
}

/// (e) Retention deletes old local days, on connect and after a finished day, but never
/// today or the day being synced (here the day the replica still has open).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_days_but_not_the_day_being_synced() {
    let tmp = tempfile::tempdir().unwrap();
    let (master, copy) = (tmp.path().join("master"), tmp.path().join("replica"));
    let day = |n: i64| d("2026-11-22").add_days(n);
    {
        let mut store = quiet_store(&master);
        for n in [-3, -2, -1] {
            fill_store(&mut store, day(n), 120, 1_795_000_000);
            store.finish(day(n)).unwrap();
        }
        fill_store(&mut store, day(0), 80, 1_795_310_000);
    }
    {
        let mut old = quiet_store(&copy);
        for n in [-9, -7] {
            fill_store(&mut old, day(n), 5, 1_794_000_000);
            old.finish(day(n)).unwrap();
        }
    }
    let server_clock = ManualClock::new(NOV22 + 3600);
    let replica_clock = ManualClock::new(NOV22 + 3600);
    let server = start_server(&master, &server_clock, None).await;
    let config = ReplicaConfig { retain_days: Some(-3), ..replica_config(&server, &copy, &replica_clock, -3) };
    let rep = Replica::start(config);

    // On connect: -9 and -7 go; -3 (the first day synced) onwards stay.
    wait_identical(&master, &copy, "after catching up").await;
    assert_eq!(day_names(&copy), ["20261119", "20261120", "20261121", "20261122"]);

    // The replica's clock runs five days ahead while it still copies day 0. When the server
    // finishes day 0 and moves on, retention keeps only days from (today - 3) = day 2 on,
    // yet day 0, which the replica is still writing, and day 1, now being synced, stay.
    replica_clock.set(NOV22 + 5 * DAY + 3600);
    server_clock.set(NOV22 + DAY + 60);
    write(&server, "next day", 90, 30).await;
    eventually("day 1 on the replica", || index_len(&copy, "20261123") == 90 * 12).await;
    assert_eq!(day_names(&copy), ["20261122", "20261123"]);
    for rel in ["20261122/index", "20261122/data000000", "20261122/finish", "20261123/index", "20261123/data000000"] {
        assert_eq!(std::fs::read(master.join(rel)).unwrap(), std::fs::read(copy.join(rel)).unwrap(), "{rel}");
    }
    rep.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

/// A replica's own configuration and store ownership are checked before connecting.
#[tokio::test]
async fn bad_days_and_a_held_store_fail_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV22);
    let base = ReplicaConfig { clock: clock.clone(), ..ReplicaConfig::new("127.0.0.1:9", tmp.path()) };
    for (history, retain) in [(1, None), (0, Some(0)), (-2, Some(-1))] {
        let config = ReplicaConfig { history_days: history, retain_days: retain, ..base.clone() };
        let err = replica::run(config, watch::channel(false).1, |_| {}).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{history} {retain:?}: {err}");
    }
    let _held = quiet_store(tmp.path());
    let err = replica::run(base, watch::channel(false).1, |_| {}).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
}

/// The sync service reads the store through the server's `Vfs` (so faults can be
/// injected there): while reads fail, status and a subscription fail with the I/O error
/// and nothing is sent; once reads work, the same replica request gets every record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_service_reads_through_the_servers_vfs() {
    use modsynclog_core::store::faults::FaultyVfs;
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV22 + 3600);
    let vfs = FaultyVfs::new();
    let server = server::start(ServerConfig {
        data_dir: tmp.path().join("master"),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        durability: Durability::Never,
        clock: clock.clone(),
        vfs: Arc::new(vfs.clone()),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    write(&server, "r", 10, 4).await;
    let mut client = SyncClient::connect(format!("http://{}", server.grpc_addr())).await.unwrap();

    vfs.fail_reads(true);
    let status = client.status(StatusRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(status.message().contains("Input/output error"), "{status:?}");
    let failed = match client.subscribe(SubscribeRequest { date: "2026-11-22".into(), id: 0 }).await {
        Err(status) => status,
        Ok(stream) => stream.into_inner().message().await.expect_err("no event while reads fail"),
    };
    assert!(failed.message().contains("Input/output error"), "{failed:?}");

    vfs.fail_reads(false);
    let days = client.status(StatusRequest {}).await.unwrap().into_inner().days;
    assert_eq!(days.iter().map(|d| d.count).sum::<u64>(), 10);
    let mut stream =
        client.subscribe(SubscribeRequest { date: "2026-11-22".into(), id: 0 }).await.unwrap().into_inner();
    let mut records = 0;
    while records < 10 {
        let event = tokio::time::timeout(STEP, stream.message()).await.expect("events come").unwrap().unwrap();
        if let Some(Event::Batch(b)) = event.event {
            records += b.records.len();
        }
    }
    assert_eq!(records, 10);
    server.shutdown().await.unwrap();
}
