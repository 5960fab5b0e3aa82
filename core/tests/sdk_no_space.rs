//! The producer against a server whose disk is full: it keeps its records and retries
//! slowly, `commit` and `flush` fail fast with `NoSpace` meanwhile, and the first ack after
//! space is freed delivers everything (once) and accepts commits again. Native and legacy.
//!
//! The servers here are fakes that answer `NoSpace` while `full` is set, exactly as the
//! real one does (status `RESOURCE_EXHAUSTED` with the kind in `modsynclog-error-code`, or
//! `errCode` 16 in the legacy protocol), so that the policy is tested without filling a
//! disk; `scripts/full-disk.sh` fills a real one.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::Stream;
use modsynclog_core::grpc::status_from;
use modsynclog_core::proto::legacy::log_server::{Log, LogServer};
use modsynclog_core::proto::legacy::{
    AppLogRequest, AppLogResponse, DbLogRequest, DbLogResponse, JsonLogRequest, JsonLogResponse,
};
use modsynclog_core::proto::v1::ingest_server::{Ingest, IngestServer};
use modsynclog_core::proto::v1::{AppendRequest, AppendResponse, StoredSeqRequest, StoredSeqResponse};
use modsynclog_core::sdk::{Producer, ProducerOptions};
use modsynclog_core::{Error, ErrorKind};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

/// What the fake servers share: the switch, the records stored, and the refusals sent.
#[derive(Default)]
struct Disk {
    full: AtomicBool,
    /// Payloads in the order stored.
    stored: Mutex<Vec<Vec<u8>>>,
    /// Native: the last `batch_seq` stored per producer (exactly once, as the real server).
    last_seq: Mutex<std::collections::HashMap<String, u64>>,
    /// `NoSpace` answers sent.
    refusals: AtomicUsize,
}

impl Disk {
    fn no_space(&self) -> Error {
        self.refusals.fetch_add(1, Ordering::SeqCst);
        Error::new(ErrorKind::NoSpace, "write /fake/20261121/data000000: the disk is full (os error 28)")
    }

    fn stored(&self) -> Vec<String> {
        self.stored.lock().unwrap().iter().map(|d| String::from_utf8(d.clone()).unwrap()).collect()
    }
}

#[derive(Clone)]
struct FakeIngest(Arc<Disk>);

type AckStream = Pin<Box<dyn Stream<Item = Result<AppendResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Ingest for FakeIngest {
    async fn append(&self, _: Request<AppendRequest>) -> Result<Response<AppendResponse>, Status> {
        Err(Status::unimplemented("the producer streams"))
    }

    async fn stored_seq(&self, _: Request<StoredSeqRequest>) -> Result<Response<StoredSeqResponse>, Status> {
        Err(Status::unimplemented("the producer keeps its own seqs"))
    }

    type AppendStreamStream = AckStream;

    async fn append_stream(
        &self,
        request: Request<Streaming<AppendRequest>>,
    ) -> Result<Response<Self::AppendStreamStream>, Status> {
        let mut inbound = request.into_inner();
        let disk = self.0.clone();
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Ok(Some(req)) = inbound.message().await {
                if disk.full.load(Ordering::SeqCst) {
                    let _ = tx.send(Err(status_from(&disk.no_space()))).await;
                    return;
                }
                let duplicate = {
                    let mut last = disk.last_seq.lock().unwrap();
                    let dup = last.get(&req.producer_id).is_some_and(|&s| req.batch_seq <= s);
                    if !dup {
                        last.insert(req.producer_id.clone(), req.batch_seq);
                        disk.stored.lock().unwrap().extend(req.records.iter().map(|r| r.data.to_vec()));
                    }
                    dup
                };
                let ack = AppendResponse {
                    batch_seq: req.batch_seq,
                    date: "2026-11-21".into(),
                    first_id: 0,
                    count: req.records.len() as u64,
                    duplicate,
                };
                if tx.send(Ok(ack)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

#[derive(Clone)]
struct FakeLegacy(Arc<Disk>);

impl FakeLegacy {
    fn store(&self, data: &[u8]) -> (i32, String) {
        if self.0.full.load(Ordering::SeqCst) {
            let e = self.0.no_space();
            return (e.code(), e.to_string());
        }
        self.0.stored.lock().unwrap().push(data.to_vec());
        (0, "ok".into())
    }
}

#[tonic::async_trait]
impl Log for FakeLegacy {
    async fn db_log_write(&self, r: Request<DbLogRequest>) -> Result<Response<DbLogResponse>, Status> {
        let (err_code, err_message) = self.store(&r.into_inner().data);
        Ok(Response::new(DbLogResponse { err_code, err_message, data: String::new() }))
    }
    async fn app_log_write(&self, r: Request<AppLogRequest>) -> Result<Response<AppLogResponse>, Status> {
        let (err_code, err_message) = self.store(&r.into_inner().data);
        Ok(Response::new(AppLogResponse { err_code, err_message, data: String::new() }))
    }
    async fn json_log_write(&self, r: Request<JsonLogRequest>) -> Result<Response<JsonLogResponse>, Status> {
        let (err_code, err_message) = self.store(&r.into_inner().data);
        Ok(Response::new(JsonLogResponse { err_code, err_message, data: String::new() }))
    }
}

/// Starts both fake services on a free port.
async fn fake_server() -> (Arc<Disk>, SocketAddr) {
    let disk = Arc::new(Disk::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = tonic::transport::Server::builder()
        .add_service(IngestServer::new(FakeIngest(disk.clone())))
        .add_service(LogServer::new(FakeLegacy(disk.clone())));
    tokio::spawn(router.serve_with_incoming(TcpListenerStream::new(listener)));
    (disk, addr)
}

fn record(i: usize) -> String {
    format!("r{i:05}")
}

/// `flush` until it succeeds (it fails fast with `NoSpace` until the server stores again).
fn flush_until_ok(p: &Producer, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        match p.flush(Some(within)) {
            Ok(()) => return start.elapsed(),
            Err(e) if e.kind() == ErrorKind::NoSpace && start.elapsed() < within => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("flush after freeing space: {e}"),
        }
    }
}

/// The whole policy, for one protocol.
fn fills_and_recovers(disk: &Disk, p: &Producer) {
    for i in 0..100 {
        p.commit(1201, record(i)).unwrap();
    }
    p.flush(Some(Duration::from_secs(10))).unwrap();

    // The disk fills: commits made before the producer hears of it are queued and kept.
    disk.full.store(true, Ordering::SeqCst);
    let mut n = 100;
    while n < 150 {
        match p.commit(1201, record(n)) {
            Ok(()) => n += 1,
            Err(e) if e.kind() == ErrorKind::NoSpace => break,
            Err(e) => panic!("commit: {e}"),
        }
    }
    assert!(n > 100, "the first commit after the disk filled is queued");
    let start = Instant::now();
    let err = p.flush(Some(Duration::from_secs(30))).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::NoSpace, "{err}");
    assert!(took < Duration::from_secs(3), "flush returned NoSpace after {took:?}, not at once");
    assert!(err.to_string().contains("the disk is full"), "{err}");

    // Meanwhile: commits fail at once and queue nothing; a flush fails at once.
    let start = Instant::now();
    let err = p.commit(1201, "refused").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoSpace, "{err}");
    let kept = n - 100;
    assert!(err.to_string().contains(&format!("keeps its {kept} unacknowledged records")), "{err}");
    assert_eq!(p.try_commit(1201, "refused").unwrap_err().kind(), ErrorKind::NoSpace);
    assert_eq!(p.flush(Some(Duration::from_secs(30))).unwrap_err().kind(), ErrorKind::NoSpace);
    assert!(start.elapsed() < Duration::from_millis(500), "fail fast, not after a timeout");
    assert_eq!(p.progress(), (n as u64, 100), "the refused commits were not queued");

    // No tight loop: over 3.5 s, retries at about 1 s and 2 s (and the first refusals).
    let before = disk.refusals.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(3500));
    let retries = disk.refusals.load(Ordering::SeqCst) - before;
    assert!(retries <= 3 * 16, "{retries} NoSpace answers in 3.5 s: the producer spins");
    assert!(retries >= 1, "the producer stopped retrying");

    // Space is freed: the next retry delivers the kept records, commits work again.
    disk.full.store(false, Ordering::SeqCst);
    let took = flush_until_ok(p, Duration::from_secs(30));
    assert!(took <= Duration::from_secs(12), "recovered after {took:?}: the backoff is capped at 10 s");
    assert_eq!(p.progress(), (n as u64, n as u64));
    for i in n..n + 50 {
        p.commit(1201, record(i)).unwrap();
    }
    p.flush(Some(Duration::from_secs(10))).unwrap();

    let stored = disk.stored();
    assert_eq!(stored, (0..n + 50).map(record).collect::<Vec<_>>(), "every record once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_keeps_the_batches_fails_fast_and_resumes() {
    let (disk, addr) = fake_server().await;
    let opts = ProducerOptions { batch_max_records: 10, ..ProducerOptions::default() };
    let p = Producer::connect(&addr.to_string(), opts).unwrap();
    let d = disk.clone();
    tokio::task::spawn_blocking(move || {
        fills_and_recovers(&d, &p);
        p.close(Some(Duration::from_secs(5))).unwrap();
    })
    .await
    .unwrap();
    // The native fake answers NoSpace once per stream: one per retry, never a burst.
    assert!(disk.refusals.load(Ordering::SeqCst) <= 6, "{} refusals", disk.refusals.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_keeps_the_records_fails_fast_and_resumes() {
    let (disk, addr) = fake_server().await;
    let opts = ProducerOptions { legacy: true, legacy_concurrency: 1, ..ProducerOptions::default() };
    let p = Producer::connect(&addr.to_string(), opts).unwrap();
    tokio::task::spawn_blocking(move || {
        fills_and_recovers(&disk, &p);
        p.close(Some(Duration::from_secs(5))).unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_flush_and_a_waiting_commit_learn_of_it_at_once() {
    let (disk, addr) = fake_server().await;
    // A queue of 5 records: the sixth commit waits for room.
    let opts = ProducerOptions {
        queue_capacity: 5,
        batch_max_records: 5,
        enqueue_timeout: Duration::from_secs(30),
        ..ProducerOptions::default()
    };
    let p = Arc::new(Producer::connect(&addr.to_string(), opts).unwrap());
    disk.full.store(true, Ordering::SeqCst);
    let d = disk.clone();
    let p2 = p.clone();
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        // Sent at once, refused: the commits after it find the producer out of space.
        let mut accepted = 0;
        let err = loop {
            match p2.commit(1, record(accepted)) {
                Ok(()) => accepted += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::NoSpace, "{err}");
        assert!(start.elapsed() < Duration::from_secs(3), "a commit waiting for room waited {:?}", start.elapsed());
        let err = p2.flush(None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoSpace, "a flush without a timeout returns too: {err}");

        // close waits for the disk (its last chance to deliver), until its timeout.
        let start = Instant::now();
        let err = p2.close(Some(Duration::from_millis(1500))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoSpace, "{err}");
        assert!(start.elapsed() >= Duration::from_millis(1400), "close gave up after {:?}", start.elapsed());
        assert!(err.to_string().contains("before close"), "{err}");
        assert!(d.stored().is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_delivers_once_space_is_freed() {
    let (disk, addr) = fake_server().await;
    let p = Producer::connect(&addr.to_string(), ProducerOptions::default()).unwrap();
    disk.full.store(true, Ordering::SeqCst);
    let d = disk.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..20 {
            p.commit(1, record(i)).unwrap();
        }
        assert_eq!(p.flush(Some(Duration::from_secs(10))).unwrap_err().kind(), ErrorKind::NoSpace);
        let freer = std::thread::spawn({
            let d = d.clone();
            move || {
                std::thread::sleep(Duration::from_millis(1500));
                d.full.store(false, Ordering::SeqCst);
            }
        });
        p.close(Some(Duration::from_secs(20))).unwrap();
        freer.join().unwrap();
        assert_eq!(d.stored(), (0..20).map(record).collect::<Vec<_>>());
        let unique: HashSet<_> = d.stored().into_iter().collect();
        assert_eq!(unique.len(), 20);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_async_and_flush_async_fail_fast_too() {
    let (disk, addr) = fake_server().await;
    let p = Producer::connect(&addr.to_string(), ProducerOptions::default()).unwrap();
    disk.full.store(true, Ordering::SeqCst);
    p.commit_async(1, "kept").await.unwrap();
    let start = Instant::now();
    let err = p.flush_async(Some(Duration::from_secs(30))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoSpace, "{err}");
    assert_eq!(p.commit_async(1, "refused").await.unwrap_err().kind(), ErrorKind::NoSpace);
    assert!(start.elapsed() < Duration::from_secs(3));
    disk.full.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match p.flush_async(Some(Duration::from_secs(15))).await {
            Ok(()) => break,
            Err(e) if e.kind() == ErrorKind::NoSpace && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    p.commit_async(1, "after").await.unwrap();
    p.close_async(Some(Duration::from_secs(5))).await.unwrap();
    assert_eq!(disk.stored(), ["kept", "after"]);
}
