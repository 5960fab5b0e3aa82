//! Exactly-once native ingest: batches resent with the same producer id and seq are
//! acknowledged (with their original range) but not stored twice, also across restarts.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use modsynclog_core::clock::ManualClock;
use modsynclog_core::proto::v1::ingest_client::IngestClient;
use modsynclog_core::proto::v1::{AppendRequest, AppendResponse, Record};
use modsynclog_core::sdk::{Producer, ProducerOptions};
use modsynclog_core::server::dedup::{JOURNAL_FILE, STATE_DIR};
use modsynclog_core::server::{ServerConfig, start};
use modsynclog_core::{Durability, Reader};
use support::{NOV21_2359, TestServer, config, read_all};
use tonic::transport::Channel;

fn req(producer: &str, seq: u64, n: usize) -> AppendRequest {
    let records = (0..n).map(|i| Record { r#type: 1201, data: Bytes::from(format!("{producer}-{seq}-{i}")) }).collect();
    AppendRequest { batch_seq: seq, records, producer_id: producer.into() }
}

fn stored(seq: u64, first_id: u64, count: u64) -> AppendResponse {
    AppendResponse { batch_seq: seq, date: "2026-11-21".into(), first_id, count, duplicate: false }
}

async fn client(srv: &TestServer) -> IngestClient<Channel> {
    IngestClient::connect(srv.url()).await.unwrap()
}

async fn append(c: &mut IngestClient<Channel>, r: AppendRequest) -> AppendResponse {
    c.append(r).await.unwrap().into_inner()
}

fn payloads(dir: &std::path::Path) -> Vec<String> {
    read_all(dir).into_iter().map(|r| String::from_utf8(r.data.to_vec()).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_batch_gets_its_original_ack_and_is_stored_once() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut srv = TestServer::start(tmp.path(), &clock).await;
    let mut c = client(&srv).await;

    assert_eq!(append(&mut c, req("p1", 1, 3)).await, stored(1, 0, 3));
    // The same seq again: the original ack, marked duplicate.
    assert_eq!(append(&mut c, req("p1", 1, 3)).await, AppendResponse { duplicate: true, ..stored(1, 0, 3) });
    assert_eq!(append(&mut c, req("p1", 2, 2)).await, stored(2, 3, 2));
    // An older seq: a duplicate whose range is no longer known.
    let old = append(&mut c, req("p1", 1, 3)).await;
    assert_eq!(old, AppendResponse { batch_seq: 1, date: String::new(), first_id: 0, count: 0, duplicate: true });
    // Another producer has its own seqs; gaps are fine.
    assert_eq!(append(&mut c, req("p2", 1, 1)).await, stored(1, 5, 1));
    assert_eq!(append(&mut c, req("p2", 10, 1)).await, stored(10, 6, 1));
    // Without a producer id nothing is deduplicated.
    let anon = AppendRequest { producer_id: String::new(), ..req("anon", 1, 1) };
    assert_eq!(append(&mut c, anon.clone()).await, stored(1, 7, 1));
    assert_eq!(append(&mut c, anon).await, stored(1, 8, 1));
    // An absurd producer id is refused.
    let err = c.append(req(&"x".repeat(200), 1, 1)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    srv.stop().await;
    assert_eq!(
        payloads(tmp.path()),
        ["p1-1-0", "p1-1-1", "p1-1-2", "p1-2-0", "p1-2-1", "p2-1-0", "p2-10-0", "anon-1-0", "anon-1-0"]
    );
    assert!(tmp.path().join(STATE_DIR).join(JOURNAL_FILE).is_file());
    // The journal is not a day: readers and verification do not see it.
    let reports = modsynclog_core::store::verify::verify_store(&modsynclog_core::store::io::StdVfs, tmp.path());
    assert_eq!(reports.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_with_resends_in_one_group_stores_each_seq_once() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut srv = TestServer::start(tmp.path(), &clock).await;
    let mut c = client(&srv).await;

    let seqs = [1u64, 2, 1, 3, 2, 3, 4];
    let reqs: Vec<_> = seqs.iter().map(|&s| req("p", s, 2)).collect();
    let acks: Vec<AppendResponse> =
        c.append_stream(futures::stream::iter(reqs)).await.unwrap().into_inner().map(|a| a.unwrap()).collect().await;
    let got: Vec<(u64, bool, u64)> = acks.iter().map(|a| (a.batch_seq, a.duplicate, a.first_id)).collect();
    assert_eq!(
        got,
        [(1, false, 0), (2, false, 2), (1, true, 0), (3, false, 4), (2, true, 0), (3, true, 4), (4, false, 6)]
    );
    srv.stop().await;
    let want: Vec<String> = (1..=4).flat_map(|s| (0..2).map(move |i| format!("p-{s}-{i}"))).collect();
    assert_eq!(payloads(tmp.path()), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    for durability in [Durability::Never, Durability::Batch] {
        let mut cfg = config(tmp.path(), &clock);
        cfg.durability = durability;
        let mut srv = TestServer::start_with(cfg.clone()).await;
        let mut c = client(&srv).await;
        let base = read_all(tmp.path()).len() as u64;
        let p = format!("p-{durability}");
        assert_eq!(append(&mut c, req(&p, 5, 4)).await, stored(5, base, 4));
        srv.stop().await;

        let mut srv = TestServer::start_with(cfg).await;
        let mut c = client(&srv).await;
        assert_eq!(append(&mut c, req(&p, 5, 4)).await, AppendResponse { duplicate: true, ..stored(5, base, 4) });
        assert_eq!(append(&mut c, req(&p, 6, 1)).await, stored(6, base + 4, 1));
        srv.stop().await;
    }
    assert_eq!(read_all(tmp.path()).len(), 10);
}

/// An in-process cousin of the crash test (server/tests/e2e_crash.rs kills a real process):
/// the server is dropped (open streams cut, queued batches still written) while a producer
/// commits; the producer reconnects to a new server on the same folder and port, resends
/// what was not acknowledged, and every record ends up stored once, in commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_resending_after_an_abrupt_stop_stores_everything_once_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let cfg = config(tmp.path(), &clock);
    let first = start(cfg.clone()).await.unwrap();
    let addr = first.grpc_addr();
    let opts = ProducerOptions { batch_max_records: 50, ..ProducerOptions::default() };
    let producer = Arc::new(Producer::connect(&addr.to_string(), opts).unwrap());
    const N: usize = 40_000;
    let p = producer.clone();
    let committer = tokio::task::spawn_blocking(move || {
        for i in 0..N {
            p.commit(1201, format!("r{i:06}")).unwrap();
            if i % 2_000 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    // Wait until part of it landed, then stop the server abruptly.
    loop {
        let (_, acked) = producer.progress();
        if acked >= 5_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::task::spawn_blocking(move || drop(first)).await.unwrap();
    let landed = Reader::open(tmp.path()).unwrap().count();
    let (_, acked) = producer.progress();
    let second = restart(ServerConfig { grpc_addr: addr, ..cfg }).await;
    committer.await.unwrap();
    let p = producer.clone();
    tokio::task::spawn_blocking(move || p.close(Some(Duration::from_secs(60))).unwrap()).await.unwrap();
    second.shutdown().await.unwrap();

    let got = payloads(tmp.path());
    eprintln!("{landed} records were in the store when the first server stopped, {acked} acknowledged");
    let want: Vec<String> = (0..N).map(|i| format!("r{i:06}")).collect();
    assert_eq!(got.len(), N, "no record lost or duplicated");
    assert!(got == want, "records in commit order");
}

async fn restart(cfg: ServerConfig) -> modsynclog_core::server::RunningServer {
    let mut tries = 0;
    loop {
        match start(cfg.clone()).await {
            Ok(s) => return s,
            Err(e) if tries < 100 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("restart: {e}"),
        }
    }
}
