//! The gRPC port's idle timeout, end to end (`NetLimits::idle_timeout`): a connection that
//! holds no call is closed, one that holds a subscription keeps it, and a client whose
//! idle connection was closed gets its next call through.
//!
//! The server binds 127.0.0.1 port 0 in a temp dir and is stopped by dropping it, so a
//! failing assertion leaves nothing running.

use std::time::Duration;

use bytes::Bytes;
use modsynclog_core::Durability;
use modsynclog_core::metrics::Port;
use modsynclog_core::proto::v1::sync_client::SyncClient;
use modsynclog_core::proto::v1::sync_event::Event;
use modsynclog_core::proto::v1::{StatusRequest, SubscribeRequest, SyncEvent};
use modsynclog_core::server::listener::NetLimits;
use modsynclog_core::server::{self, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far longer than the idle timeout: only a server that never closes gets near it.
const DEADLINE: Duration = Duration::from_secs(30);

/// The HTTP/2 client preface and an empty SETTINGS frame: a client that has done its
/// handshake and then makes no call.
const PREFACE_AND_SETTINGS: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// The next batch of a subscription (skipping the other events): its first id and count.
async fn next_batch(stream: &mut tonic::Streaming<SyncEvent>) -> (u64, usize) {
    loop {
        let event = tokio::time::timeout(DEADLINE, stream.message()).await.expect("a batch in time");
        match event.expect("the subscription goes on").expect("an event").event {
            Some(Event::Batch(b)) => return (b.first_id, b.records.len()),
            _ => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_calls_are_closed_and_open_calls_keep_theirs() {
    let tmp = tempfile::tempdir().unwrap();
    let server = server::start(ServerConfig {
        data_dir: tmp.path().to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        durability: Durability::Never,
        net: NetLimits { idle_timeout: Duration::from_secs(1), ..NetLimits::default() },
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let url = format!("http://{}", server.grpc_addr());
    server.writer().append(vec![(1, Bytes::from_static(b"first"))]).await.unwrap();

    // A subscriber, with its call open.
    let mut subscriber = SyncClient::connect(url.clone()).await.unwrap();
    let date = subscriber.status(StatusRequest {}).await.unwrap().into_inner().days[0].date.clone();
    let request = SubscribeRequest { date: date.clone(), id: 0 };
    let mut stream = subscriber.subscribe(request).await.unwrap().into_inner();
    assert_eq!(next_batch(&mut stream).await, (0, 1));

    // A client that made a call, and has none open now.
    let mut caller = SyncClient::connect(url.clone()).await.unwrap();
    assert_eq!(caller.status(StatusRequest {}).await.unwrap().into_inner().days.len(), 1);

    // A connection that never makes a call is closed: the server ends the stream.
    let mut idle = TcpStream::connect(server.grpc_addr()).await.unwrap();
    idle.write_all(PREFACE_AND_SETTINGS).await.unwrap();
    let closed = tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 4096];
        loop {
            match idle.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue, // the server's SETTINGS, its ACK, pings
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a connection without calls was still open after {DEADLINE:?}");

    // The caller's connection, idle since before that one opened, is closed too: only the
    // subscriber's stays open.
    let metrics = server.metrics();
    let waited = tokio::time::timeout(DEADLINE, async {
        while metrics.open_connections(Port::Grpc) != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{} connections open, want the subscriber's alone", metrics.open_connections(Port::Grpc));

    // The idle timeout has passed for the two older connections too (they were opened
    // before). The subscription's stays: a new record still arrives on the same stream.
    server.writer().append(vec![(1, Bytes::from_static(b"second"))]).await.unwrap();
    assert_eq!(next_batch(&mut stream).await, (1, 1));

    // The caller's next call goes through on a new connection. The client may not have
    // seen its old one close yet (a call sent on it fails, as SECURITY.md says): retried.
    let days = tokio::time::timeout(DEADLINE, async {
        loop {
            match caller.status(StatusRequest {}).await {
                Ok(response) => return response.into_inner().days,
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
    .await
    .expect("a call after the idle close goes through");
    assert_eq!((days[0].date.as_str(), days[0].count), (date.as_str(), 2));
    drop(stream);
    server.shutdown().await.unwrap();
}
