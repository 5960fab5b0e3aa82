//! The SDK producer against a real server: many threads, flush, server restarts, legacy mode.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use modsynclog_core::ErrorKind;
use modsynclog_core::clock::ManualClock;
use modsynclog_core::sdk::{Producer, ProducerOptions};
use support::{NOV21_2359, TestServer, config, read_all};

fn payload(thread: usize, i: usize) -> String {
    format!("t{thread}-{i:06}")
}

/// Commits `per_thread` records from each of `threads` threads.
fn commit_from_threads(p: &Producer, threads: usize, per_thread: usize, start: usize) {
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in start..start + per_thread {
                    p.commit(1201, payload(t, i)).unwrap();
                }
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_threads_then_flush_stores_everything_once_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut srv = TestServer::start(tmp.path(), &clock).await;
    let producer = Arc::new(Producer::connect(&srv.addr.to_string(), ProducerOptions::default()).unwrap());
    let p = producer.clone();
    tokio::task::spawn_blocking(move || {
        commit_from_threads(&p, 4, 5_000, 0);
        p.flush(Some(Duration::from_secs(30))).unwrap();
    })
    .await
    .unwrap();
    assert_eq!(producer.progress(), (20_000, 20_000));
    producer.close_async(Some(Duration::from_secs(5))).await.unwrap();
    assert_eq!(producer.commit(1, "late").unwrap_err().kind(), ErrorKind::Closed);
    srv.stop().await;

    let got = read_all(tmp.path());
    assert_eq!(got.len(), 20_000);
    let mut next: HashMap<String, usize> = HashMap::new();
    for r in &got {
        let s = std::str::from_utf8(&r.data).unwrap();
        let (thread, i) = s.split_once('-').unwrap();
        let expected = next.entry(thread.to_string()).or_default();
        assert_eq!(i.parse::<usize>().unwrap(), *expected, "per-thread order");
        *expected += 1;
        assert_eq!(r.ty, 1201);
    }
    assert_eq!(next.values().copied().collect::<Vec<_>>(), vec![5_000; 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_survives_a_server_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut srv = TestServer::start(tmp.path(), &clock).await;
    let addr = srv.addr;
    let opts = ProducerOptions { batch_max_records: 100, ..ProducerOptions::default() };
    let producer = Arc::new(Producer::connect(&addr.to_string(), opts).unwrap());

    let p = producer.clone();
    tokio::task::spawn_blocking(move || {
        commit_from_threads(&p, 2, 2_000, 0);
        p.flush(Some(Duration::from_secs(30))).unwrap();
    })
    .await
    .unwrap();

    // Keep committing while the server goes away and comes back on the same port and folder.
    let p = producer.clone();
    let committer = tokio::task::spawn_blocking(move || {
        for i in 2_000..6_000 {
            p.commit(1201, payload(0, i)).unwrap();
            if i % 500 == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    srv.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut cfg = config(tmp.path(), &clock);
    cfg.grpc_addr = addr;
    let mut srv = TestServer::start_with(cfg).await;
    committer.await.unwrap();
    let p = producer.clone();
    tokio::task::spawn_blocking(move || {
        commit_from_threads(&p, 1, 1_000, 6_000);
        p.flush(Some(Duration::from_secs(60))).unwrap();
    })
    .await
    .unwrap();
    srv.stop().await;

    let got = read_all(tmp.path());
    let distinct: HashSet<&[u8]> = got.iter().map(|r| r.data.as_ref()).collect();
    let committed = 2 * 2_000 + 4_000 + 1_000;
    assert_eq!(distinct.len(), committed, "every committed record is stored (duplicates only from resends)");
    for i in 0..7_000 {
        assert!(distinct.contains(payload(0, i).as_bytes()), "{}", payload(0, i));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_mode_talks_to_the_legacy_service() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut srv = TestServer::start(tmp.path(), &clock).await;
    let opts = ProducerOptions { legacy: true, ..ProducerOptions::default() };
    let producer = Producer::connect(&srv.url(), opts).unwrap();
    for (i, ty) in [1001i16, 1101, 1201, 7].into_iter().cycle().take(200).enumerate() {
        producer.commit(ty, format!("r{i}")).unwrap();
    }
    producer.flush_async(Some(Duration::from_secs(30))).await.unwrap();
    let big = vec![0u8; (4 << 20) + 1];
    assert_eq!(producer.commit(1, big).unwrap_err().kind(), ErrorKind::TooLarge);
    producer.close_async(Some(Duration::from_secs(5))).await.unwrap();
    srv.stop().await;

    let got = read_all(tmp.path());
    assert_eq!(got.len(), 200);
    let set: HashSet<(i16, String)> = got.iter().map(|r| (r.ty, String::from_utf8(r.data.to_vec()).unwrap())).collect();
    for (i, ty) in [1001i16, 1101, 1201, 7].into_iter().cycle().take(200).enumerate() {
        assert!(set.contains(&(ty, format!("r{i}"))));
    }
}

/// A legacy server refuses a message over its limit with a status (the Go server's
/// answer to a record of 4 MiB): the record is refused for good, and the ones after it
/// still go, instead of the producer retrying it forever with everything queued behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_mode_takes_a_status_refusing_a_record_as_final() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut cfg = config(tmp.path(), &clock);
    // A gRPC message limit of about 66 KiB (see `Limits::max_message_len`).
    (cfg.limits.max_record_len, cfg.limits.max_batch_bytes, cfg.limits.max_batch_records) = (1024, 1024, 16);
    let mut srv = TestServer::start_with(cfg).await;
    let opts = ProducerOptions { legacy: true, ..ProducerOptions::default() };
    let producer = Producer::connect(&srv.url(), opts).unwrap();
    producer.commit(1201, vec![b'x'; 128 << 10]).unwrap();
    let err = producer.flush_async(Some(Duration::from_secs(20))).await.unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Timeout, "refused, not retried until the timeout: {err}");
    producer.commit(1201, "after").unwrap();
    producer.flush_async(Some(Duration::from_secs(20))).await.unwrap();
    producer.close_async(Some(Duration::from_secs(5))).await.unwrap();
    srv.stop().await;
    assert_eq!(read_all(tmp.path()).iter().map(|r| r.data.to_vec()).collect::<Vec<_>>(), vec![b"after".to_vec()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_times_out_without_a_server_and_token_is_sent() {
    // Nothing listens here: flush reports Timeout, commit still queues.
    let opts = ProducerOptions { token: Some("s3cret".into()), ..ProducerOptions::default() };
    let producer = Producer::connect("127.0.0.1:9", opts.clone()).unwrap();
    producer.commit(1, "x").unwrap();
    let err = producer.flush_async(Some(Duration::from_millis(200))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(producer.close_async(Some(Duration::ZERO)).await.unwrap_err().kind(), ErrorKind::Timeout);

    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut cfg = config(tmp.path(), &clock);
    cfg.token = Some("s3cret".into());
    let mut srv = TestServer::start_with(cfg).await;
    let producer = Producer::connect(&srv.addr.to_string(), opts).unwrap();
    producer.commit(1, "authorized").unwrap();
    producer.flush_async(Some(Duration::from_secs(10))).await.unwrap();
    srv.stop().await;
    assert_eq!(read_all(tmp.path()).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_servers_message_limit_fails_flush_instead_of_looping() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut srv = TestServer::start(tmp.path(), &clock).await;
    // The producer allows what the server's gRPC message limit does not.
    let opts = ProducerOptions { max_record_len: 64 << 20, ..ProducerOptions::default() };
    let producer = Arc::new(Producer::connect(&srv.addr.to_string(), opts).unwrap());
    let p = producer.clone();
    let err = tokio::task::spawn_blocking(move || {
        p.commit(1, vec![7u8; 40 << 20]).unwrap();
        p.flush(Some(Duration::from_secs(30)))
    })
    .await
    .unwrap()
    .unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Timeout, "the batch must be refused, not resent until the timeout: {err}");
    // Later records still go through.
    let p = producer.clone();
    tokio::task::spawn_blocking(move || {
        p.commit(1, "after").unwrap();
        p.flush(Some(Duration::from_secs(30))).unwrap();
    })
    .await
    .unwrap();
    srv.stop().await;
    let got = read_all(tmp.path());
    assert_eq!(got.iter().map(|r| r.data.to_vec()).collect::<Vec<_>>(), vec![b"after".to_vec()]);
}

/// A refusal that came before any flush is reported by the next flush (and only by it):
/// a record the server dropped for good must not pass for delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_before_the_flush_is_reported_by_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut cfg = config(tmp.path(), &clock);
    cfg.limits.max_record_len = 8;
    let mut srv = TestServer::start_with(cfg).await;
    let producer = Arc::new(Producer::connect(&srv.addr.to_string(), ProducerOptions::default()).unwrap());
    producer.commit(1, "longer than eight bytes").unwrap();
    // Wait for the refusal itself, not for a flush.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while producer.progress().1 < 1 {
        assert!(std::time::Instant::now() < deadline, "the batch was never settled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let p = producer.clone();
    let (first, second) = tokio::task::spawn_blocking(move || {
        let first = p.flush(Some(Duration::from_secs(30)));
        (first, p.flush(Some(Duration::from_secs(30))))
    })
    .await
    .unwrap();
    let err = first.expect_err("the refused record is reported");
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    assert!(err.to_string().contains("1 records were refused"), "{err}");
    second.expect("reported once");
    srv.stop().await;
    assert!(read_all(tmp.path()).is_empty());
}

/// A producer on the caller's runtime, which shuts down with records unacknowledged: the
/// background task is gone, and a flush returns at once instead of waiting for acks.
#[test]
fn a_flush_returns_once_the_callers_runtime_is_gone() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = ProducerOptions { runtime: Some(rt.handle().clone()), ..ProducerOptions::default() };
    // Nothing listens there: the record stays unacknowledged.
    let producer = Producer::connect("127.0.0.1:9", opts).unwrap();
    producer.commit(1, "never acknowledged").unwrap();
    rt.shutdown_background();
    let err = producer.flush(Some(Duration::from_secs(30))).unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Timeout, "returned at once: {err}");
}
