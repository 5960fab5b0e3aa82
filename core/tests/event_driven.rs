//! Followers wake on the writer's events, not on timers: with every fallback poll set to
//! 30 s, an in-process reader, a reader of a folder another writer appends to, a native
//! replica and a legacy replica each see a new record within 2 s. A lost wake-up would leave them waiting for the poll, and these tests fail.
//! A follower in another process is woken by its inotify watch of the folder.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use modsynclog_core::clock::ManualClock;
use modsynclog_core::legacy::{LegacyClientConfig, LegacyServerConfig};
use modsynclog_core::replica::{self, ReplicaConfig};
use modsynclog_core::server::ServerConfig;
use modsynclog_core::store::day::record_count;
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::{Durability, NewRecord, Next, Reader, Store, StoreOptions};
use support::{NOV21_2359, TestServer, date};
use tokio::sync::watch;

/// Far longer than any test may take: seeing a record only after this means a lost wake-up.
const SLOW_POLL: Duration = Duration::from_secs(30);
const WITHIN: Duration = Duration::from_secs(2);
/// Longest any single wait in these tests may take before it counts as a hang.
const LIMIT: Duration = Duration::from_secs(10);

/// CPU time the calling thread has used.
fn thread_cpu() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes the struct it is given.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) }, 0);
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// A follower with nothing to read sleeps: its own look at the folder must not wake it
/// (inotify reports the folder's opening), or it would spin on an empty or quiet store.
#[test]
fn a_waiting_follower_sleeps_instead_of_waking_itself() {
    let tmp = tempfile::tempdir().unwrap();
    // An empty folder, then a finished last day with no next one: both wait for a day.
    let mut reader = Reader::open(tmp.path()).unwrap().follow(true);
    let before = thread_cpu();
    assert_eq!(reader.next_record(Some(Duration::from_secs(1))).unwrap(), Next::Timeout);
    let spent = thread_cpu() - before;
    assert!(spent < Duration::from_millis(300), "waiting on an empty folder used {spent:?} of CPU");

    let opts = StoreOptions { durability: Durability::Never, ..Default::default() };
    let mut store = Store::open(tmp.path(), opts).unwrap();
    store.append(date("2026-11-21"), &[NewRecord { time: 1, ty: 1, data: b"only" }]).unwrap();
    store.finish(date("2026-11-21")).unwrap();
    assert!(matches!(reader.next_record(Some(LIMIT)).unwrap(), Next::Record(_)));
    let before = thread_cpu();
    assert_eq!(reader.next_record(Some(Duration::from_secs(1))).unwrap(), Next::Timeout);
    let spent = thread_cpu() - before;
    assert!(spent < Duration::from_millis(300), "waiting after a finished day used {spent:?} of CPU");
}

/// A store with one record, "first", in an unfinished day.
fn store_with_a_first_record(dir: &Path) -> Store {
    let opts = StoreOptions { durability: Durability::Never, ..Default::default() };
    let mut store = Store::open(dir, opts).unwrap();
    store.append(date("2026-11-21"), &[NewRecord { time: 1, ty: 1, data: b"first" }]).unwrap();
    store
}

/// Lets `reader` take "first" and fall asleep waiting, appends "second", and returns how
/// long the reader took to see it.
fn wake_latency(store: &mut Store, mut reader: Reader) -> Duration {
    let stopper = reader.stopper();
    let follower = std::thread::spawn(move || {
        assert!(matches!(reader.next_record(Some(LIMIT)).unwrap(), Next::Record(r) if r.data.as_ref() == b"first"));
        let next = reader.next_record(Some(LIMIT)).unwrap();
        (next, Instant::now())
    });
    // Append only once the follower really sleeps.
    let deadline = Instant::now() + LIMIT;
    while !stopper.waiting() {
        assert!(Instant::now() < deadline, "the follower never went to sleep");
        std::thread::sleep(Duration::from_millis(1));
    }
    let appended = Instant::now();
    store.append(date("2026-11-21"), &[NewRecord { time: 1, ty: 1, data: b"second" }]).unwrap();
    let (next, seen) = follower.join().unwrap();
    assert!(matches!(next, Next::Record(r) if r.data.as_ref() == b"second"));
    seen - appended
}

#[test]
fn an_in_process_reader_wakes_on_the_append_not_on_its_poll() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = store_with_a_first_record(tmp.path());
    let reader = Reader::of(&store).follow(true).poll_interval(SLOW_POLL);
    let took = wake_latency(&mut store, reader);
    assert!(took < WITHIN, "woke after {took:?}: a lost wake-up");
}

/// A follower in "another process": it shares no signal with the writer (its own
/// `Reader::open`), so only the folder watch can wake it before its 30 s poll.
#[test]
fn a_reader_of_a_folder_another_writer_appends_to_wakes_on_inotify() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = store_with_a_first_record(tmp.path());
    let reader = Reader::open(tmp.path()).unwrap().follow(true).poll_interval(SLOW_POLL);
    let took = wake_latency(&mut store, reader);
    assert!(took < WITHIN, "woke after {took:?}: the folder watch did not wake it");
}

fn count(dir: &Path) -> u64 {
    record_count(&StdVfs, dir, date("2026-11-21")).unwrap()
}

async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_and_legacy_replicas_wake_on_the_append_not_on_a_poll() {
    let tmp = tempfile::tempdir().unwrap();
    let (master, native, legacy) = (tmp.path().join("master"), tmp.path().join("native"), tmp.path().join("legacy"));
    let clock = ManualClock::new(NOV21_2359 - 3600);
    let mut server = TestServer::start_with(ServerConfig {
        fallback_poll: Some(SLOW_POLL),
        sync_addr: Some("127.0.0.1:0".parse().unwrap()),
        legacy_sync: LegacyServerConfig { heartbeat_timeout: Duration::from_secs(600), ..Default::default() },
        ..support::config(&master, &clock)
    })
    .await;
    let writer = server.running().writer();
    writer.append(vec![(1, bytes::Bytes::from_static(b"first"))]).await.unwrap();

    let (stop, stopping) = watch::channel(false);
    let native_config =
        ReplicaConfig { history_days: 0, clock: clock.clone(), ..ReplicaConfig::new(server.url(), &native) };
    let native_task = tokio::spawn(replica::run(native_config, stopping.clone(), |_| {}));
    let sync_addr = server.running().sync_addr().unwrap().to_string();
    // Heartbeats would wake the legacy server's loop too and hide a lost wake-up: none
    // during the test.
    let legacy_config = LegacyClientConfig {
        history_days: 0,
        heartbeat: Duration::from_secs(600),
        clock: clock.clone(),
        ..LegacyClientConfig::new(sync_addr, &legacy)
    };
    let legacy_task = tokio::spawn(modsynclog_core::legacy::run(legacy_config, stopping));

    wait_for("both replicas copy the first record", Duration::from_secs(30), || {
        count(&native) == 1 && count(&legacy) == 1
    })
    .await;
    // Both are caught up and waiting; give their feeders time to go back to sleep on
    // the signal (any poll they make now finds nothing), then append.
    tokio::time::sleep(Duration::from_millis(300)).await;
    writer.append(vec![(1, bytes::Bytes::from_static(b"second"))]).await.unwrap();
    let took =
        wait_for("both replicas copy the second record", WITHIN, || count(&native) == 2 && count(&legacy) == 2).await;
    eprintln!("second record on both replicas after {took:?} (fallback poll {SLOW_POLL:?})");

    stop.send_replace(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), native_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), legacy_task).await;
    server.stop().await;
}
