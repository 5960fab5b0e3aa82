//! The SDK producer on an open network: refused credentials are final, the queue is bounded
//! in bytes (blocking, non-blocking and async commits), and TLS (CA, mTLS, server name).

mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use modsynclog_core::ErrorKind;
use modsynclog_core::access::AllowList;
use modsynclog_core::clock::ManualClock;
use modsynclog_core::sdk::{Producer, ProducerOptions};
use modsynclog_core::server::ServerConfig;
use modsynclog_core::tls::{ClientTls, ServerTls};
use support::{NOV21_2359, TestServer, config, read_all};

/// A port nothing listens on (bound once, then released).
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn opts_with_token(token: &str) -> ProducerOptions {
    ProducerOptions { token: Some(token.to_string()), ..ProducerOptions::default() }
}

/// Runs a blocking call off the runtime, returning its result and how long it took.
async fn timed<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let out = f();
        (out, start.elapsed())
    })
    .await
    .unwrap()
}

/// Every call on an ended producer fails at once with `kind`.
async fn assert_ended(p: &Arc<Producer>, kind: ErrorKind) {
    let start = Instant::now();
    let err = p.commit(1201, "late").unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.to_string().contains("refused this producer's credentials"), "{err}");
    assert_eq!(p.try_commit(1201, "late").unwrap_err().kind(), kind);
    assert_eq!(p.commit_async(1201, "late").await.unwrap_err().kind(), kind);
    assert_eq!(p.flush(Some(Duration::from_secs(30))).unwrap_err().kind(), kind);
    assert_eq!(p.flush_async(None).await.unwrap_err().kind(), kind);
    assert!(start.elapsed() < Duration::from_secs(1), "calls on an ended producer return at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_ends_the_producer() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let cfg = ServerConfig { token: Some("s3cret".into()), ..config(tmp.path(), &clock) };
    let mut srv = TestServer::start_with(cfg).await;
    let addr = srv.addr.to_string();

    // The right token works (so the refusal below is about the token).
    let good = Producer::connect(&addr, opts_with_token("s3cret")).unwrap();
    good.commit(1201, "good").unwrap();
    good.flush_async(Some(Duration::from_secs(10))).await.unwrap();

    let bad = Arc::new(Producer::connect(&addr, opts_with_token("wrong")).unwrap());
    // The refusal may already have come: then commit reports it.
    match bad.commit(1201, "refused") {
        Ok(()) => {}
        Err(e) => assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}"),
    }
    let p = bad.clone();
    let (result, took) = timed(move || p.flush(Some(Duration::from_secs(30)))).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(took < Duration::from_secs(5), "flush took {took:?}");
    assert!(err.to_string().contains("refused this producer's credentials"), "{err}");
    assert_ended(&bad, ErrorKind::Unauthenticated).await;
    assert_eq!(bad.close(Some(Duration::from_secs(30))).unwrap_err().kind(), ErrorKind::Unauthenticated);

    // No token at all is refused the same way.
    let none = Producer::connect(&addr, ProducerOptions::default()).unwrap();
    none.commit(1201, "anonymous").ok();
    assert_eq!(none.flush_async(Some(Duration::from_secs(10))).await.unwrap_err().kind(), ErrorKind::Unauthenticated);

    good.close_async(Some(Duration::from_secs(5))).await.unwrap();
    srv.stop().await;
    let got = read_all(tmp.path());
    assert_eq!(got.len(), 1, "only the good producer's record is stored");
    assert_eq!(&got[0].data[..], b"good");
}

/// Waiters already blocked (a flush, a commit on a full queue, an async commit and flush)
/// return as soon as the server refuses the token, long before their timeouts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_return_when_the_credentials_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let addr = free_addr();
    let opts =
        ProducerOptions { queue_capacity: 1, enqueue_timeout: Duration::from_secs(60), ..opts_with_token("wrong") };
    let p = Arc::new(Producer::connect(&addr.to_string(), opts).unwrap());
    p.commit(1201, "first").unwrap();

    let (q, r) = (p.clone(), p.clone());
    let flush = tokio::task::spawn_blocking(move || q.flush(Some(Duration::from_secs(60))));
    let commit = tokio::task::spawn_blocking(move || r.commit(1201, "second"));
    let s = p.clone();
    let commit_async = tokio::spawn(async move { s.commit_async(1201, "third").await });
    let s = p.clone();
    let flush_async = tokio::spawn(async move { s.flush_async(Some(Duration::from_secs(60))).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!flush.is_finished() && !commit.is_finished() && !commit_async.is_finished());

    let start = Instant::now();
    let cfg = ServerConfig { token: Some("s3cret".into()), grpc_addr: addr, ..config(tmp.path(), &clock) };
    let mut srv = TestServer::start_with(cfg).await;
    for (what, result) in [
        ("flush", flush.await.unwrap()),
        ("commit", commit.await.unwrap()),
        ("commit_async", commit_async.await.unwrap()),
        ("flush_async", flush_async.await.unwrap()),
    ] {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{what}: {err}");
    }
    assert!(start.elapsed() < Duration::from_secs(10), "waiters woke after {:?}", start.elapsed());
    assert_ended(&p, ErrorKind::Unauthenticated).await;
    srv.stop().await;
    assert!(read_all(tmp.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_the_wrong_scope_is_permission_denied() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let cfg = ServerConfig {
        ingest_token: Some("writer".into()),
        sync_token: Some("reader".into()),
        ..config(tmp.path(), &clock)
    };
    let mut srv = TestServer::start_with(cfg).await;
    let p = Arc::new(Producer::connect(&srv.addr.to_string(), opts_with_token("reader")).unwrap());
    p.commit(1201, "x").ok();
    let err = p.flush_async(Some(Duration::from_secs(10))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_ended(&p, ErrorKind::PermissionDenied).await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_mode_refusals_are_final_too() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let cfg = ServerConfig {
        allow_legacy: true,
        legacy_allow: Some(AllowList::parse("10.0.0.0/8").unwrap()),
        ..config(tmp.path(), &clock)
    };
    let mut srv = TestServer::start_with(cfg).await;
    let opts = ProducerOptions { legacy: true, ..ProducerOptions::default() };
    let p = Arc::new(Producer::connect(&srv.addr.to_string(), opts).unwrap());
    for i in 0..20 {
        if p.commit(1201, format!("l{i}")).is_err() {
            break;
        }
    }
    let q = p.clone();
    let (result, took) = timed(move || q.flush(Some(Duration::from_secs(30)))).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(took < Duration::from_secs(5), "flush took {took:?}");
    assert_ended(&p, ErrorKind::PermissionDenied).await;
    srv.stop().await;
    assert!(read_all(tmp.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_bounded_in_bytes() {
    let addr = free_addr().to_string();
    let opts = ProducerOptions {
        queue_bytes: 1000,
        enqueue_timeout: Duration::from_millis(300),
        ..ProducerOptions::default()
    };
    let p = Producer::connect(&addr, opts.clone()).unwrap();
    p.commit(1201, vec![b'a'; 600]).unwrap();

    let start = Instant::now();
    let err = p.try_commit(1201, vec![b'b'; 600]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueueFull, "{err}");
    assert!(start.elapsed() < Duration::from_millis(100), "try_commit waited {:?}", start.elapsed());
    assert!(err.to_string().contains("queue_bytes = 1000"), "the message names the limit: {err}");

    let start = Instant::now();
    let err = p.commit(1201, vec![b'b'; 600]).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::QueueFull, "{err}");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "commit waited {took:?}");
    assert!(err.to_string().contains("queue_bytes = 1000"), "{err}");

    let start = Instant::now();
    let err = p.commit_async(1201, vec![b'b'; 600]).await.unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::QueueFull, "{err}");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "commit_async waited {took:?}");

    // What still fits is accepted: 600 + 400 = 1000.
    p.try_commit(1201, vec![b'c'; 400]).unwrap();
    assert_eq!(p.try_commit(1201, "d").unwrap_err().kind(), ErrorKind::QueueFull);
    assert_eq!(p.progress(), (2, 0));

    // A flush that times out says why nothing was delivered.
    let err = p.flush(Some(Duration::from_millis(500))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.to_string().contains("cannot connect"), "{err}");

    // Closing gives up on them; a second close (or flush) cannot wait for acks that will
    // never come: it returns at once.
    assert_eq!(p.close(Some(Duration::from_millis(100))).unwrap_err().kind(), ErrorKind::Timeout);
    let start = Instant::now();
    let err = p.close(Some(Duration::from_secs(30))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    assert_eq!(p.flush_async(None).await.unwrap_err().kind(), ErrorKind::Closed);
    assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());

    // A record larger than queue_bytes (within max_record_len) goes into an empty queue only.
    let small = Producer::connect(&addr, ProducerOptions { queue_bytes: 100, ..opts.clone() }).unwrap();
    small.try_commit(1201, vec![b'e'; 500]).unwrap();
    assert_eq!(small.try_commit(1201, "f").unwrap_err().kind(), ErrorKind::QueueFull);

    // The record-count bound still holds.
    let counted = Producer::connect(&addr, ProducerOptions { queue_capacity: 2, ..opts.clone() }).unwrap();
    counted.try_commit(1201, "1").unwrap();
    counted.try_commit(1201, "2").unwrap();
    let err = counted.try_commit(1201, "3").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueueFull);
    assert!(err.to_string().contains("queue_capacity = 2"), "{err}");

    assert_eq!(
        Producer::connect(&addr, ProducerOptions { queue_bytes: 0, ..opts.clone() }).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let newline = ProducerOptions { token: Some("a\nb".into()), ..opts };
    assert_eq!(Producer::connect(&addr, newline).unwrap_err().kind(), ErrorKind::InvalidArgument);
    for p in [p, small, counted] {
        let _ = p.close_async(Some(Duration::ZERO)).await;
    }
}

/// `commit_async` waits for room without blocking its thread: on a one-thread runtime the
/// server below starts (on the same thread) while the commit waits, drains the queue, and
/// the commit then succeeds.
#[tokio::test(flavor = "current_thread")]
async fn commit_async_succeeds_once_space_frees() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let addr = free_addr();
    let opts =
        ProducerOptions { queue_bytes: 1000, enqueue_timeout: Duration::from_secs(20), ..ProducerOptions::default() };
    let p = Producer::connect(&addr.to_string(), opts).unwrap();
    p.commit(1201, vec![b'a'; 800]).unwrap();
    assert_eq!(p.try_commit(1201, vec![b'b'; 800]).unwrap_err().kind(), ErrorKind::QueueFull);

    let start = Instant::now();
    let server = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cfg = ServerConfig { grpc_addr: addr, ..config(tmp.path(), &clock) };
        TestServer::start_with(cfg).await
    };
    let (committed, mut srv) = tokio::join!(p.commit_async(1201, vec![b'b'; 800]), server);
    committed.unwrap();
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(300), "it waited for the server: {took:?}");
    assert!(took < Duration::from_secs(15), "it did not wait for its timeout: {took:?}");
    p.flush_async(Some(Duration::from_secs(10))).await.unwrap();
    p.close_async(Some(Duration::from_secs(5))).await.unwrap();
    srv.stop().await;
    let got = read_all(tmp.path());
    assert_eq!(got.iter().map(|r| r.data.len()).collect::<Vec<_>>(), vec![800, 800]);
}

// ---------------------------------------------------------------------------------------
// TLS

fn pki(dir: &Path) -> PathBuf {
    let certs = dir.join("certs");
    modsynclog_testcerts::TestPki::write(&certs).unwrap();
    certs
}

async fn tls_server(data: &Path, certs: &Path, leaf: &str, client_ca: bool, clock: &Arc<ManualClock>) -> TestServer {
    let cfg = ServerConfig {
        tls: Some(ServerTls {
            cert_file: certs.join(format!("{leaf}.pem")),
            key_file: certs.join(format!("{leaf}.key")),
            client_ca_file: client_ca.then(|| certs.join("ca.pem")),
        }),
        ..config(data, clock)
    };
    TestServer::start_with(cfg).await
}

fn trusting(certs: &Path, ca: &str) -> ClientTls {
    ClientTls { ca_file: Some(certs.join(ca)), ..ClientTls::default() }
}

/// Commits one record and flushes; the flush's outcome.
async fn send_one(addr: &str, tls: ClientTls, flush: Duration) -> modsynclog_core::Result<()> {
    let p = Producer::connect(addr, ProducerOptions { tls, ..ProducerOptions::default() })?;
    p.commit(1201, "over tls")?;
    let result = p.flush_async(Some(flush)).await;
    let _ = p.close_async(Some(Duration::ZERO)).await;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_producer_stores_records_and_explains_certificate_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = pki(tmp.path());
    let data = tmp.path().join("data");
    let clock = ManualClock::new(NOV21_2359);
    let mut srv = tls_server(&data, &certs, "server", false, &clock).await;
    let url = format!("https://localhost:{}", srv.addr.port());

    let p = Producer::connect(&url, ProducerOptions { tls: trusting(&certs, "ca.pem"), ..ProducerOptions::default() })
        .unwrap();
    for i in 0..50 {
        p.commit(1201, format!("tls{i}")).unwrap();
    }
    p.flush_async(Some(Duration::from_secs(10))).await.unwrap();
    p.close_async(Some(Duration::from_secs(5))).await.unwrap();

    // The IP address with the certificate's name given explicitly.
    let by_ip = format!("https://127.0.0.1:{}", srv.addr.port());
    let named = ClientTls { server_name: Some("localhost".into()), ..trusting(&certs, "ca.pem") };
    send_one(&by_ip, named, Duration::from_secs(10)).await.unwrap();

    // A CA that did not sign the server's certificate: retried, and the flush says why.
    let err = send_one(&url, trusting(&certs, "other-ca.pem"), Duration::from_secs(2)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "the certificate problem is named: {err}");

    // A name the certificate does not carry.
    let wrong_name = ClientTls { server_name: Some("elsewhere.example".into()), ..trusting(&certs, "ca.pem") };
    let err = send_one(&url, wrong_name, Duration::from_secs(2)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("not valid for name"), "{err}");

    // Plaintext against the TLS port is not delivered either.
    let plain = format!("127.0.0.1:{}", srv.addr.port());
    assert_eq!(
        send_one(&plain, ClientTls::default(), Duration::from_secs(1)).await.unwrap_err().kind(),
        ErrorKind::Timeout
    );
    srv.stop().await;
    assert_eq!(read_all(&data).len(), 51);

    // An expired server certificate.
    let data2 = tmp.path().join("data2");
    let mut srv = tls_server(&data2, &certs, "expired", false, &clock).await;
    let url = format!("https://localhost:{}", srv.addr.port());
    let err = send_one(&url, trusting(&certs, "ca.pem"), Duration::from_secs(2)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("certificate expired"), "{err}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_needs_the_client_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = pki(tmp.path());
    let data = tmp.path().join("data");
    let clock = ManualClock::new(NOV21_2359);
    let mut srv = tls_server(&data, &certs, "server", true, &clock).await;
    let url = format!("https://localhost:{}", srv.addr.port());

    let with_cert = ClientTls {
        cert_file: Some(certs.join("client.pem")),
        key_file: Some(certs.join("client.key")),
        ..trusting(&certs, "ca.pem")
    };
    send_one(&url, with_cert, Duration::from_secs(10)).await.unwrap();
    let err = send_one(&url, trusting(&certs, "ca.pem"), Duration::from_secs(2)).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Timeout | ErrorKind::Unauthenticated | ErrorKind::PermissionDenied),
        "without a client certificate nothing is delivered: {err}"
    );
    srv.stop().await;
    assert_eq!(read_all(&data).len(), 1);

    // Bad TLS settings are refused when the producer starts.
    let missing = ClientTls { ca_file: Some(tmp.path().join("nope.pem")), ..ClientTls::default() };
    assert_eq!(
        Producer::connect(&url, ProducerOptions { tls: missing, ..ProducerOptions::default() }).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let plaintext = format!("localhost:{}", srv.addr.port());
    let tls = trusting(&certs, "ca.pem");
    assert_eq!(
        Producer::connect(&plaintext, ProducerOptions { tls, ..ProducerOptions::default() }).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}
