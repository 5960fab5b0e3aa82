//! The server's ingest side over real gRPC: legacy service, native ingest, acks, auth,
//! day rollover with a manual clock, shutdown with calls in flight.

mod support;

use std::time::Duration;

use bytes::Bytes;
use modsynclog_core::ErrorKind;
use modsynclog_core::access::AllowList;
use modsynclog_core::clock::ManualClock;
use modsynclog_core::proto::legacy::log_client::LogClient;
use modsynclog_core::proto::legacy::{AppLogRequest, DbLogRequest, JsonLogRequest};
use modsynclog_core::proto::v1::ingest_client::IngestClient;
use modsynclog_core::proto::v1::{AppendRequest, AppendResponse, Record};
use modsynclog_core::server::{Limits, ServerConfig, start};
use modsynclog_core::{Durability, NewRecord, Store, StoreOptions};
use support::{NOV21_2359, TestServer, config, date, day_dir, read_all};
use tonic::Request;

fn records(n: usize, tag: &str) -> Vec<Record> {
    (0..n).map(|i| Record { r#type: 1201, data: Bytes::from(format!("{tag}-{i}")) }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_calls_store_exact_bytes_and_refuse_oversize() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut cfg = config(tmp.path(), &clock);
    cfg.limits = Limits { max_record_len: 1024, ..Limits::default() };
    let mut srv = TestServer::start_with(cfg).await;
    let mut client = LogClient::connect(srv.url()).await.unwrap();

    let db = client.db_log_write(DbLogRequest { data_type: 1001, data: Bytes::from_static(b"\x00db\xff") }).await;
    let db = db.unwrap().into_inner();
    assert_eq!((db.err_code, db.err_message.as_str()), (0, "ok"));
    let app = client.app_log_write(AppLogRequest { data_type: 1101, data: Bytes::from_static(b"app") }).await;
    assert_eq!(app.unwrap().into_inner().err_code, 0);
    let json = client.json_log_write(JsonLogRequest { data_type: 1201, data: Bytes::from_static(b"{\"a\":1}") });
    let json = json.await.unwrap().into_inner();
    assert_eq!((json.err_code, json.err_message.as_str()), (0, "ok"));
    // (int16)DataType, as the Go server does.
    let odd = client.json_log_write(JsonLogRequest { data_type: 70_000, data: Bytes::new() }).await;
    assert_eq!(odd.unwrap().into_inner().err_code, 0);

    let big = client.json_log_write(JsonLogRequest { data_type: 1201, data: Bytes::from(vec![7u8; 2000]) }).await;
    let big = big.unwrap().into_inner();
    assert_eq!(big.err_code, ErrorKind::TooLarge.code());
    assert!(!big.err_message.is_empty());

    srv.stop().await;
    let got = read_all(tmp.path());
    let want: Vec<(i16, &[u8])> =
        vec![(1001, b"\x00db\xff"), (1101, b"app"), (1201, b"{\"a\":1}"), (70_000i32 as i16, b"")];
    assert_eq!(got.iter().map(|r| (r.ty, r.data.as_ref())).collect::<Vec<_>>(), want);
    assert!(got.iter().all(|r| r.time == NOV21_2359 as i32 && r.date == date("2026-11-21")));
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_carry_date_first_id_and_count() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut cfg = config(tmp.path(), &clock);
    cfg.limits = Limits { max_record_len: 100, max_batch_records: 50, ..Limits::default() };
    let mut srv = TestServer::start_with(cfg).await;
    let mut client = IngestClient::connect(srv.url()).await.unwrap();

    let a = client
        .append(AppendRequest { batch_seq: 7, records: records(3, "u"), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a, AppendResponse { batch_seq: 7, date: "2026-11-21".into(), first_id: 0, count: 3, duplicate: false });
    let b = client
        .append(AppendRequest { batch_seq: 8, records: records(5, "u"), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((b.first_id, b.count), (3, 5));
    let bad = Record { r#type: 40_000, data: Bytes::new() };
    let err =
        client.append(AppendRequest { batch_seq: 9, records: vec![bad], ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let err = client
        .append(AppendRequest { batch_seq: 9, records: records(51, "x"), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);

    // A stream of ten batches of 1..=10 records, then one over the limit.
    let mut reqs: Vec<AppendRequest> = (1..=10u64)
        .map(|n| AppendRequest { batch_seq: n, records: records(n as usize, &format!("s{n}")), ..Default::default() })
        .collect();
    reqs.push(AppendRequest {
        batch_seq: 11,
        records: vec![Record { r#type: 1, data: Bytes::from(vec![0u8; 101]) }],
        ..Default::default()
    });
    let mut acks = client.append_stream(futures::stream::iter(reqs)).await.unwrap().into_inner();
    let mut next_id = 8;
    for n in 1..=10u64 {
        let ack = acks.message().await.unwrap().expect("an ack per batch");
        assert_eq!(
            ack,
            AppendResponse { batch_seq: n, date: "2026-11-21".into(), first_id: next_id, count: n, duplicate: false }
        );
        next_id += n;
    }
    let end = acks.message().await.unwrap_err();
    assert_eq!(end.code(), tonic::Code::ResourceExhausted);

    srv.stop().await;
    let got = read_all(tmp.path());
    assert_eq!(got.len() as u64, next_id);
    assert_eq!(got[8].data.as_ref(), b"s1-0");
    assert_eq!(got.last().unwrap().data.as_ref(), b"s10-9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_rollover_finishes_the_old_day() {
    let tmp = tempfile::tempdir().unwrap();
    // An old store: the 18th and 19th left open, the 20th never existed.
    {
        let mut store = Store::open(tmp.path(), StoreOptions { durability: Durability::Never, ..Default::default() });
        let store = store.as_mut().unwrap();
        for d in ["2026-11-18", "2026-11-19"] {
            store.append(date(d), &[NewRecord { time: 1, ty: 5, data: b"old" }]).unwrap();
        }
    }
    let clock = ManualClock::new(NOV21_2359);
    let mut srv = TestServer::start(tmp.path(), &clock).await;
    for d in ["2026-11-18", "2026-11-19"] {
        assert!(day_dir(tmp.path(), d).join("finish").is_file(), "{d} finished at start");
    }
    assert!(!day_dir(tmp.path(), "2026-11-20").exists(), "no folder for a day that never existed");

    let writer = srv.running().writer();
    let before = writer.append(vec![(1, Bytes::from_static(b"before"))]).await.unwrap();
    assert_eq!((before.date, before.first_id), (date("2026-11-21"), 0));
    clock.advance(60); // 2026-11-22 00:00:00
    let after = writer.append(vec![(1, Bytes::from_static(b"after"))]).await.unwrap();
    assert_eq!((after.date, after.first_id), (date("2026-11-22"), 0));
    assert!(day_dir(tmp.path(), "2026-11-21").join("finish").is_file());
    assert!(!day_dir(tmp.path(), "2026-11-22").join("finish").exists());

    // Idle across the next midnight: the periodic tick finishes the 22nd, creates nothing.
    clock.advance(86_400);
    let finish22 = day_dir(tmp.path(), "2026-11-22").join("finish");
    for _ in 0..50 {
        if finish22.is_file() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(finish22.is_file(), "idle rollover finished the 22nd");
    assert!(!day_dir(tmp.path(), "2026-11-23").exists());
    srv.stop().await;

    let got = read_all(tmp.path());
    let seen: Vec<(String, &[u8], i32)> = got.iter().map(|r| (r.date.to_string(), r.data.as_ref(), r.time)).collect();
    assert_eq!(
        seen,
        vec![
            ("2026-11-18".to_string(), &b"old"[..], 1),
            ("2026-11-19".to_string(), &b"old"[..], 1),
            ("2026-11-21".to_string(), &b"before"[..], NOV21_2359 as i32),
            ("2026-11-22".to_string(), &b"after"[..], NOV21_2359 as i32 + 60),
        ]
    );
}

fn with_token<T>(msg: T, token: Option<&str>) -> Request<T> {
    let mut req = Request::new(msg);
    if let Some(t) = token {
        req.metadata_mut().insert("authorization", t.parse().unwrap());
    }
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_guards_native_services_and_legacy_is_off() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut cfg: ServerConfig = config(tmp.path(), &clock);
    cfg.token = Some("s3cret".into());
    let mut srv = TestServer::start_with(cfg.clone()).await;
    let mut client = IngestClient::connect(srv.url()).await.unwrap();
    let req = || AppendRequest { batch_seq: 1, records: records(1, "t"), ..Default::default() };
    for bad in [None, Some("Bearer wrong"), Some("s3cret")] {
        let err = client.append(with_token(req(), bad)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{bad:?}");
    }
    let err = client.append_stream(with_token(futures::stream::iter(vec![req()]), None)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let ok = client.append(with_token(req(), Some("Bearer s3cret"))).await.unwrap().into_inner();
    assert_eq!(ok.count, 1);
    let mut legacy = LogClient::connect(srv.url()).await.unwrap();
    let off = legacy.json_log_write(JsonLogRequest { data_type: 1201, data: Bytes::new() }).await.unwrap_err();
    assert_eq!(off.code(), tonic::Code::Unimplemented);
    srv.stop().await;

    cfg.allow_legacy = true;
    let mut srv = TestServer::start_with(cfg).await;
    let mut legacy = LogClient::connect(srv.url()).await.unwrap();
    let on = legacy.json_log_write(JsonLogRequest { data_type: 1201, data: Bytes::from_static(b"l") }).await;
    assert_eq!(on.unwrap().into_inner().err_code, 0);
    srv.stop().await;
    assert_eq!(read_all(tmp.path()).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_services_answer_only_their_allow_list() {
    use tokio::io::AsyncReadExt;
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut cfg: ServerConfig = config(tmp.path(), &clock);
    cfg.allow_legacy = true;
    cfg.sync_addr = Some("127.0.0.1:0".parse().unwrap());
    cfg.legacy_allow = Some(AllowList::parse("10.0.0.0/8").unwrap());
    let mut srv = TestServer::start_with(cfg.clone()).await;
    let mut legacy = LogClient::connect(srv.url()).await.unwrap();
    let denied = legacy.json_log_write(JsonLogRequest { data_type: 1201, data: Bytes::from_static(b"x") }).await;
    let denied = denied.unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("--legacy-allow"), "{denied:?}");
    // The legacy sync socket closes a connection from outside the list at once.
    let mut sock = tokio::net::TcpStream::connect(srv.running().sync_addr().unwrap()).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await.expect("closed at once");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    srv.stop().await;

    cfg.legacy_allow = Some(AllowList::parse("127.0.0.1").unwrap());
    let mut srv = TestServer::start_with(cfg).await;
    let mut legacy = LogClient::connect(srv.url()).await.unwrap();
    let ok = legacy.json_log_write(JsonLogRequest { data_type: 1201, data: Bytes::from_static(b"in") }).await;
    assert_eq!(ok.unwrap().into_inner().err_code, 0);
    srv.stop().await;
    assert_eq!(read_all(tmp.path()).len(), 1, "only the allowed call stored a record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_keeps_everything_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut srv = TestServer::start(tmp.path(), &clock).await;
    // A second writer on the same folder is refused.
    let err = start(config(tmp.path(), &clock)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);

    let mut tasks = Vec::new();
    for t in 0..4 {
        let url = srv.url();
        tasks.push(tokio::spawn(async move {
            let mut client = IngestClient::connect(url).await.unwrap();
            let mut acked = Vec::new();
            for i in 0..10_000u64 {
                let recs = records(10, &format!("g{t}-{i}"));
                match client.append(AppendRequest { batch_seq: i, records: recs, ..Default::default() }).await {
                    Ok(a) => acked.push((format!("g{t}-{i}"), a.into_inner())),
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    let writer = srv.running().writer();
    let local = tokio::spawn(async move {
        let mut acked = Vec::new();
        for i in 0..100_000u64 {
            match writer.append(vec![(2, Bytes::from(format!("w-{i}")))]).await {
                Ok(a) => acked.push((format!("w-{i}"), a)),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Closed);
                    break;
                }
            }
        }
        acked
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    srv.stop().await;

    let got = read_all(tmp.path());
    let mut checked = 0;
    for t in tasks {
        for (tag, ack) in t.await.unwrap() {
            assert_eq!(ack.count, 10);
            for k in 0..10 {
                let r = &got[(ack.first_id + k) as usize];
                assert_eq!(r.data, Bytes::from(format!("{tag}-{k}")));
                checked += 1;
            }
        }
    }
    for (tag, a) in local.await.unwrap() {
        assert_eq!(got[a.first_id as usize].data, Bytes::from(tag));
        checked += 1;
    }
    assert!(checked > 0, "some records were acknowledged before the shutdown");
    // Nothing is stored twice: every record holds a distinct payload.
    let distinct: std::collections::HashSet<_> = got.iter().map(|r| r.data.clone()).collect();
    assert_eq!(distinct.len(), got.len());

    // Restart on the same folder: everything is still there, and appending continues.
    let mut srv = TestServer::start(tmp.path(), &clock).await;
    let a = srv.running().writer().append(vec![(1, Bytes::from_static(b"again"))]).await.unwrap();
    assert_eq!(a.first_id, got.len() as u64);
    srv.stop().await;
}

/// Legacy calls hold their record while they wait for the writer: beyond
/// `max_ingest_calls` in progress, one more is answered `Unavailable` at once, and the
/// cap frees with the calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_calls_beyond_the_cap_are_refused_at_once() {
    use modsynclog_core::store::faults::FaultyVfs;
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let vfs = FaultyVfs::new();
    let mut cfg = config(tmp.path(), &clock);
    cfg.durability = Durability::Batch;
    cfg.vfs = std::sync::Arc::new(vfs.clone());
    cfg.net.max_ingest_calls = 1;
    let mut srv = TestServer::start_with(cfg).await;
    let client = LogClient::connect(srv.url()).await.unwrap();
    let call = |tag: &'static str| {
        let mut client = client.clone();
        async move {
            let r = client.json_log_write(JsonLogRequest { data_type: 1201, data: Bytes::from_static(tag.as_bytes()) });
            r.await.unwrap().into_inner()
        }
    };

    // The first call is in progress once its record is written: its fsync is slow.
    vfs.slow_syncs(Duration::from_secs(2));
    let from = vfs.steps();
    let first = tokio::spawn(call("a"));
    let written = "write 20261121/data000000".to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(from..vfs.steps()).any(|n| vfs.step_name(n) == written) {
        assert!(std::time::Instant::now() < deadline, "the first call never reached the disk");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let refused = call("b").await;
    assert_eq!(refused.err_code, ErrorKind::Unavailable.code(), "{refused:?}");
    assert!(refused.err_message.contains("too many legacy calls"), "{refused:?}");
    assert_eq!(first.await.unwrap().err_code, 0);
    vfs.slow_syncs(Duration::ZERO);
    assert_eq!(call("c").await.err_code, 0, "the cap frees with the calls");

    srv.stop().await;
    let got: Vec<_> = read_all(tmp.path()).into_iter().map(|r| r.data).collect();
    assert_eq!(got, [Bytes::from_static(b"a"), Bytes::from_static(b"c")]);
}

/// `StoredSeq` waits in the writer's queue like a batch, so it takes one of the
/// `max_ingest_calls`: with the cap held by an open stream it is refused at once, and it
/// answers once the stream has ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_seq_counts_against_the_ingest_call_cap() {
    use modsynclog_core::proto::v1::StoredSeqRequest;
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut cfg = config(tmp.path(), &clock);
    cfg.net.max_ingest_calls = 1;
    let mut srv = TestServer::start_with(cfg).await;
    let mut client = IngestClient::connect(srv.url()).await.unwrap();
    let ask = |mut client: IngestClient<tonic::transport::Channel>| async move {
        client.stored_seq(StoredSeqRequest { producer_id: "agent-1".into() }).await
    };

    // A stream that has sent one batch and stays open holds the one call.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let batch = AppendRequest {
        producer_id: "agent-1".into(),
        batch_seq: 7,
        records: vec![Record { r#type: 1, data: Bytes::from_static(b"a") }],
    };
    tx.send(batch).await.unwrap();
    let mut acks = client.append_stream(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap().into_inner();
    let ack = acks.message().await.unwrap().expect("the batch's ack");
    assert_eq!(ack.batch_seq, 7, "{ack:?}");
    let refused = ask(client.clone()).await.expect_err("the cap is held by the stream");
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");

    drop(tx);
    assert!(acks.message().await.unwrap().is_none(), "the stream ends");
    // The server lets the call go once its stream has ended on its side too.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let answer = loop {
        match ask(client.clone()).await {
            Ok(answer) => break answer.into_inner(),
            Err(s) if s.code() == tonic::Code::Unavailable => {
                assert!(std::time::Instant::now() < deadline, "the cap never freed: {s:?}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(s) => panic!("{s:?}"),
        }
    };
    assert_eq!((answer.known, answer.batch_seq), (true, 7));
    srv.stop().await;
}
