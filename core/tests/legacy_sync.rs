//! The legacy sync socket end to end: our server against scripted Go-style clients, our
//! replica against scripted Go-style servers replaying the Go vectors, and the two of
//! ours together while the master store is being written across a day change.
//!
//! Everything binds 127.0.0.1 port 0 and lives in temp dirs; every task is held by a
//! guard that aborts it, so a failing assertion never leaves a server running.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{copy_tree, date, vectors};
use modsynclog_core::clock::ManualClock;
use modsynclog_core::legacy::{LegacyClientConfig, LegacyServerConfig, run, serve};
use modsynclog_core::wire::{
    CTYPE_BATCH, CTYPE_DAY_FINISHED, CTYPE_HEARTBEAT, CTYPE_HELLO, CTYPE_HELLO_REPLY, CTYPE_REQUEST, DEFAULT_SEND_FLAG,
    Frame, FrameHeader, FrameLimits, HEADER_LEN, HELLO_FROM_SERVER, SyncRequest, WireRecord, decode_batch, decode_body,
    encode_batch, encode_day_finished, write_frame,
};
use modsynclog_core::{Date, Durability, ErrorKind, NewRecord, Reader, Store, StoreOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

const FLAG: i32 = DEFAULT_SEND_FLAG;
/// 2026-11-22 00:00:00 UTC.
const NOV22: i64 = 1_795_305_600;
const STEP: Duration = Duration::from_secs(10);

/// Aborts the task when dropped, pass or fail.
struct Guard<T>(Option<JoinHandle<T>>);

impl<T> Guard<T> {
    fn new(handle: JoinHandle<T>) -> Guard<T> {
        Guard(Some(handle))
    }

    /// Hands the task over to be awaited instead of aborted.
    fn take(mut self) -> JoinHandle<T> {
        self.0.take().expect("taken once")
    }
}

impl<T> Drop for Guard<T> {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

/// A running task with a shutdown switch; dropping it stops and aborts the task.
struct Running<T> {
    stop: watch::Sender<bool>,
    task: Guard<T>,
}

impl<T> Running<T> {
    async fn stop(self) -> T {
        self.stop.send_replace(true);
        tokio::time::timeout(STEP, self.task.take()).await.expect("task did not stop in time").expect("task panicked")
    }
}

async fn start_server(
    root: &Path,
    store: &Store,
    config: LegacyServerConfig,
) -> (String, Running<modsynclog_core::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, rx) = watch::channel(false);
    let task = Guard::new(tokio::spawn(serve(listener, store.vfs(), root.to_path_buf(), store.signal(), config, rx)));
    (addr, Running { stop, task })
}

fn start_client(config: LegacyClientConfig) -> Running<modsynclog_core::Result<()>> {
    let (stop, rx) = watch::channel(false);
    Running { stop, task: Guard::new(tokio::spawn(run(config, rx))) }
}

fn client_config(server: &str, dir: &Path, clock: &Arc<ManualClock>, history_days: i64) -> LegacyClientConfig {
    LegacyClientConfig {
        history_days,
        heartbeat: Duration::from_millis(100),
        clock: clock.clone(),
        ..LegacyClientConfig::new(server, dir)
    }
}

fn quiet_store(root: &Path) -> Store {
    Store::open(root, StoreOptions { durability: Durability::Never, ..Default::default() }).unwrap()
}

/// Every file and folder under `dir`, with file contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(base).unwrap().to_path_buf();
            if path.is_dir() {
                out.insert(rel, None);
                walk(base, &path, out);
            } else {
                out.insert(rel, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn assert_same_file(a: &Path, b: &Path) {
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(read(a) == read(b), "{} and {} differ", a.display(), b.display());
}

/// Polls `cond` every 10 ms for up to 20 s.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn index_len(root: &Path, day: &str) -> u64 {
    std::fs::metadata(root.join(day).join("index")).map(|m| m.len()).unwrap_or(0)
}

/// Reads one whole frame, returning its header, decoded frame and raw bytes.
async fn recv_raw(s: &mut TcpStream) -> (FrameHeader, Frame, Vec<u8>) {
    let mut raw = vec![0u8; HEADER_LEN];
    tokio::time::timeout(STEP, s.read_exact(&mut raw)).await.expect("no frame in time").expect("frame header");
    let header = FrameHeader::decode(raw[..].try_into().unwrap()).unwrap();
    let mut body = vec![0u8; header.body_length as usize];
    tokio::time::timeout(STEP, s.read_exact(&mut body)).await.expect("no frame body in time").expect("frame body");
    let frame = decode_body(&header, &body, &FrameLimits::default()).unwrap();
    raw.extend_from_slice(&body);
    (header, frame, raw)
}

async fn send(s: &mut TcpStream, ctype: i32, content: &[u8], zlib: bool) {
    write_frame(s, FLAG, ctype, content, zlib).await.unwrap();
}

/// Waits until the server closes the connection (EOF or reset), for at most `within`.
async fn expect_dropped(s: &mut TcpStream, case: &str, within: Duration) {
    let mut buf = [0u8; 4096];
    let drop = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, drop).await.unwrap_or_else(|_| panic!("{case}: the server kept the connection"));
}

fn vector_bytes(rel: &str) -> Vec<u8> {
    let path = vectors().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The 20 records of 2026-11-21 as the Go encoder put them on the wire.
fn vector_records_1121() -> Vec<WireRecord> {
    decode_batch(&Bytes::from(vector_bytes("udata/udata_20rec_20261121_all.bin"))).unwrap()
}

fn batch(records: &[WireRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_batch(records, &mut out);
    out
}

/// Writes `n` varied records to `day` in uneven batches.
fn fill_day(store: &mut Store, day: Date, n: u64, clock: Option<&ManualClock>, pause: bool) {
    let mut id = 0;
    let mut size = 1;
    while id < n {
        let k = size.min(n - id);
        let data: Vec<Vec<u8>> =
            (id..id + k).map(|i| format!("{day} #{i} {}", "x".repeat((i * 37 % 300) as usize)).into_bytes()).collect();
        let time = clock.map_or(1_795_190_400 + id as i32, |c| {
            use modsynclog_core::clock::Clock;
            c.unix_seconds() as i32
        });
        let records: Vec<NewRecord<'_>> =
            data.iter().zip(id..).map(|(d, i)| NewRecord { time, ty: (i % 7) as i16 - 3, data: d }).collect();
        store.append(day, &records).unwrap();
        id += k;
        size = size % 89 + 11;
        if pause {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// (a) A Go-style client against our server: hello, then a finished day of 1,234 records
/// in batches of at most 500, compressed, equal to the store, then the 304.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_go_client_gets_a_finished_day_in_batches_then_304() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let day = date("2026-11-21");
    let mut store = quiet_store(&root);
    fill_day(&mut store, day, 1234, None, false);
    store.finish(day).unwrap();
    let (addr, server) = start_server(&root, &store, LegacyServerConfig::default()).await;

    let mut s = TcpStream::connect(&addr).await.unwrap();
    send(&mut s, CTYPE_HELLO, b"hello test msg from client", false).await;
    let (h, reply, raw) = recv_raw(&mut s).await;
    assert_eq!((h.ctype, h.zlib, &reply.content[..]), (CTYPE_HELLO_REPLY, false, HELLO_FROM_SERVER.as_bytes()));
    assert_eq!(raw, vector_bytes("frames/03_reply_ctype8.bin"), "the hello reply is byte-identical to Go's");

    let index = std::fs::read(root.join("20261121/index")).unwrap();
    let stored: Vec<_> = Reader::open(&root).unwrap().from(day, 0).map(Result::unwrap).collect();
    assert_eq!(stored.len(), 1234);
    for start in [0u64, 1000] {
        send(&mut s, CTYPE_REQUEST, &SyncRequest { date: day, id: start }.encode(), false).await;
        let mut next = start;
        loop {
            let (h, frame, _) = recv_raw(&mut s).await;
            if h.ctype == CTYPE_DAY_FINISHED {
                assert!(h.zlib, "304 is compressed as in Go");
                assert_eq!(&frame.content[..], b"2026-11-21");
                break;
            }
            assert_eq!((h.ctype, h.zlib), (CTYPE_BATCH, true));
            let records = decode_batch(&frame.content).unwrap();
            assert!(!records.is_empty() && records.len() <= 500, "batch of {}", records.len());
            for r in records {
                let want = &stored[next as usize];
                let entry = &index[next as usize * 12..next as usize * 12 + 12];
                assert_eq!((r.date, r.id, r.time, r.ty, &r.data), (want.date, want.id, want.time, want.ty, &want.data));
                assert_eq!(r.data_file_index, i16::from_be_bytes([entry[0], entry[1]]));
                assert_eq!(r.data_offset, i64::from_be_bytes(entry[2..10].try_into().unwrap()));
                next += 1;
            }
        }
        assert_eq!(next, 1234, "every record from {start} was sent once");
    }
    server.stop().await.unwrap();
}

/// (d) Bad input: each bad connection is dropped, a good client keeps being served, and
/// nothing on disk changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_clients_are_dropped_without_touching_the_store_or_other_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("a/b/store");
    copy_tree(&vectors().join("store"), &root);
    let store = quiet_store(&root);
    let before = snapshot(tmp.path());
    let config = LegacyServerConfig { heartbeat_timeout: Duration::from_secs(1), ..Default::default() };
    let (addr, server) = start_server(&root, &store, config).await;

    // A good client, greeted before the attacks and kept alive by heartbeats.
    let mut good = TcpStream::connect(&addr).await.unwrap();
    send(&mut good, CTYPE_HELLO, b"hello test msg from client", false).await;
    assert_eq!(recv_raw(&mut good).await.0.ctype, CTYPE_HELLO_REPLY);

    let header = |flag: i32, zlib: bool, ctype: i32, content: i32, body: i32| {
        FrameHeader { send_flag: flag, zlib, ctype, content_length: content, body_length: body }.encode().to_vec()
    };
    let request = |d: &str| format!(r#"{{"date":"{d}","id":0}}"#).into_bytes();
    let mut garbage = vec![0u8; 4096];
    let mut x: u32 = 12345;
    for b in &mut garbage {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    let framed = |ctype: i32, content: &[u8]| modsynclog_core::wire::encode_frame(FLAG, ctype, content, false);
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("wrong send flag", modsynclog_core::wire::encode_frame(123_456, CTYPE_HELLO, b"hi", false), false),
        ("2 GiB body", header(FLAG, false, CTYPE_HELLO, i32::MAX, i32::MAX), false),
        ("huge heartbeat", header(FLAG, false, CTYPE_HEARTBEAT, 2000, 2000), false),
        ("truncated header", header(FLAG, false, CTYPE_HELLO, 26, 26)[..11].to_vec(), true),
        ("truncated body", [header(FLAG, false, CTYPE_HELLO, 100, 100), vec![b'x'; 10]].concat(), true),
        (
            "bad zlib flag",
            header(FLAG, true, CTYPE_HELLO, 0, 0)
                .iter()
                .enumerate()
                .map(|(i, b)| if i == 7 { 2 } else { *b })
                .collect(),
            false,
        ),
        ("random garbage", garbage, false),
        ("301 ../../etc", framed(CTYPE_REQUEST, &request("../../etc")), false),
        ("301 2026-02-30", framed(CTYPE_REQUEST, &request("2026-02-30")), false),
        ("301 not json", framed(CTYPE_REQUEST, b"{\"date\":"), false),
        // The vector day holds 20 records: a replica "ahead" of us has diverged.
        ("301 past our count", framed(CTYPE_REQUEST, br#"{"date":"2026-11-21","id":21}"#), false),
        ("silent for the heartbeat timeout", Vec::new(), false),
        ("hello then silent", framed(CTYPE_HELLO, b"hello test msg from client"), false),
    ];
    let attacks = async {
        for (case, bytes, half_close) in cases {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            // The server may drop us before everything is written; that is the point.
            let _ = s.write_all(&bytes).await;
            if half_close {
                let _ = s.shutdown().await;
            }
            // Bad input is refused at once; only silence waits for the heartbeat timeout.
            let started = tokio::time::Instant::now();
            let idle = case.contains("silent");
            expect_dropped(&mut s, case, if idle { STEP } else { Duration::from_millis(500) }).await;
            if idle {
                assert!(started.elapsed() >= Duration::from_millis(900), "{case}: dropped before the timeout");
            }
        }
    };
    {
        // Meanwhile the good client heartbeats well within the 1 s timeout.
        let (_, mut w) = good.split();
        let beats = async {
            loop {
                write_frame(&mut w, FLAG, CTYPE_HEARTBEAT, b"", false).await.unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        tokio::select! {
            _ = attacks => {}
            _ = beats => unreachable!(),
        }
    }

    // Still serving: the good client syncs the finished day.
    send(&mut good, CTYPE_REQUEST, &SyncRequest { date: date("2026-11-21"), id: 0 }.encode(), false).await;
    let mut got = Vec::new();
    loop {
        let (h, frame, _) = recv_raw(&mut good).await;
        if h.ctype == CTYPE_DAY_FINISHED {
            break;
        }
        got.extend(decode_batch(&frame.content).unwrap());
    }
    assert_eq!(got, vector_records_1121());
    // And a fresh client after all that.
    let mut fresh = TcpStream::connect(&addr).await.unwrap();
    send(&mut fresh, CTYPE_HELLO, b"hello test msg from client", false).await;
    assert_eq!(recv_raw(&mut fresh).await.0.ctype, CTYPE_HELLO_REPLY);

    server.stop().await.unwrap();
    drop(store);
    assert!(snapshot(tmp.path()) == before, "the server changed files on disk");
}

/// What a scripted server saw: each frame's raw bytes, tagged with its connection number.
type Seen = mpsc::UnboundedReceiver<(usize, Vec<u8>)>;

/// A Go-style server: accepts connections one after another, answers hello with Go's
/// exact reply, reports every frame and lets `on_request(connection, request)` answer 301s.
fn scripted_server<F>(listener: TcpListener, on_request: F) -> (Guard<()>, Seen)
where
    F: Fn(usize, SyncRequest) -> Vec<Vec<u8>> + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        for conn in 0.. {
            let Ok((mut s, _)) = listener.accept().await else { return };
            loop {
                let mut raw = vec![0u8; HEADER_LEN];
                if s.read_exact(&mut raw).await.is_err() {
                    break; // the replica dropped us; take the next connection
                }
                let header = FrameHeader::decode(raw[..].try_into().unwrap()).unwrap();
                let mut body = vec![0u8; header.body_length as usize];
                s.read_exact(&mut body).await.unwrap();
                let frame = decode_body(&header, &body, &FrameLimits::default()).unwrap();
                raw.extend_from_slice(&body);
                let _ = tx.send((conn, raw));
                let replies = match frame.ctype {
                    CTYPE_HELLO => vec![vector_bytes("frames/03_reply_ctype8.bin")],
                    CTYPE_REQUEST => on_request(conn, SyncRequest::decode(&frame.content).unwrap()),
                    _ => Vec::new(),
                };
                for reply in replies {
                    if s.write_all(&reply).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    (Guard::new(task), rx)
}

fn frame_bytes(ctype: i32, content: &[u8], zlib: bool) -> Vec<u8> {
    modsynclog_core::wire::encode_frame(FLAG, ctype, content, zlib)
}

/// The 301s a scripted server saw, as (connection, date, id).
fn requests(seen: &mut Seen, log: &mut Vec<(usize, Vec<u8>)>) -> Vec<(usize, String, u64)> {
    while let Ok(item) = seen.try_recv() {
        log.push(item);
    }
    log.iter()
        .filter_map(|(conn, raw)| {
            let header = FrameHeader::decode(raw[..HEADER_LEN].try_into().unwrap()).unwrap();
            (header.ctype == CTYPE_REQUEST).then(|| {
                let r = SyncRequest::decode(&raw[HEADER_LEN..]).unwrap();
                (*conn, r.date.to_string(), r.id)
            })
        })
        .collect()
}

/// (b) Our replica against a Go-style server replaying the vector store, with Go's own
/// frames where the vectors have them: the replica's folder becomes byte-identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_copies_a_go_server_byte_for_byte() {
    let vec_store = vectors().join("store");
    let tmp = tempfile::tempdir().unwrap();
    let replica = tmp.path().join("replica");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (_script, mut seen) = scripted_server(listener, |_, req| match (req.date.to_string().as_str(), req.id) {
        ("2026-11-20", 0) => vec![
            frame_bytes(CTYPE_BATCH, &vector_bytes("udata/udata_3rec_20261120_all.bin"), true),
            vector_bytes("frames/07_dayend_ctype304_zlib1.bin"),
            // The Go server repeats the 304 until it reads the next 301.
            vector_bytes("frames/07_dayend_ctype304_zlib1.bin"),
        ],
        ("2026-11-21", 0) => vec![
            vector_bytes("frames/05_batch_ctype302_zlib1.bin"),
            frame_bytes(CTYPE_BATCH, &vector_bytes("udata/udata_1rec_20261121_id3.bin"), false),
            frame_bytes(CTYPE_BATCH, &batch(&vector_records_1121()[4..]), true),
            frame_bytes(CTYPE_DAY_FINISHED, &encode_day_finished(date("2026-11-21")), true),
        ],
        _ => Vec::new(),
    });
    // An old day that retention (-2: keep from 2026-11-20 on) deletes on connect.
    let old = date("2026-11-10");
    let mut local = quiet_store(&replica);
    local.append(old, &[NewRecord { time: 0, ty: 1, data: b"old" }]).unwrap();
    local.finish(old).unwrap();
    drop(local);
    let clock = ManualClock::new(NOV22 + 3600);
    let client =
        start_client(LegacyClientConfig { retain_days: Some(-2), ..client_config(&addr, &replica, &clock, -2) });

    eventually("2026-11-21 finished on the replica", || replica.join("20261121/finish").exists()).await;
    let mut log = Vec::new();
    eventually("the request for 2026-11-22", || {
        requests(&mut seen, &mut log).iter().any(|(_, d, id)| (d.as_str(), *id) == ("2026-11-22", 0))
    })
    .await;
    eventually("a heartbeat", || {
        requests(&mut seen, &mut log);
        log.iter().any(|(_, raw)| raw == &vector_bytes("frames/01_heartbeat_ctype1.bin"))
    })
    .await;
    client.stop().await.unwrap();

    for file in ["index", "data000000", "finish"] {
        assert_same_file(&vec_store.join("20261121").join(file), &replica.join("20261121").join(file));
    }
    for file in ["index", "data000000"] {
        assert_same_file(&vec_store.join("20261120").join(file), &replica.join("20261120").join(file));
    }
    assert!(replica.join("20261120/finish").exists(), "the 304 for a past day finishes it locally");
    assert!(!replica.join("20261110").exists(), "retention removed the old day");
    assert_eq!(log[0].1, vector_bytes("frames/02_hello_ctype7.bin"), "hello is byte-identical to Go's");
    let raw_1121 = log.iter().find(|(_, raw)| raw == &vector_bytes("frames/04_request_ctype301.bin"));
    assert!(raw_1121.is_some(), "the 301 for 2026-11-21 is byte-identical to Go's");
    let reqs: Vec<_> = requests(&mut seen, &mut log).into_iter().map(|(_, d, id)| (d, id)).collect();
    assert_eq!(reqs, [("2026-11-20".into(), 0), ("2026-11-21".into(), 0), ("2026-11-22".into(), 0)]);
}

/// (e) A server whose ids skip ahead, or repeat, makes the replica drop and reconnect;
/// it resumes from its own count and never writes a record twice or out of order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_drops_a_server_that_skips_or_repeats_ids_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let replica = tmp.path().join("replica");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let all = vector_records_1121();
    let (_script, mut seen) = scripted_server(listener, move |conn, req| {
        let b = |range: std::ops::Range<usize>| frame_bytes(CTYPE_BATCH, &batch(&all[range]), true);
        if req.date != date("2026-11-21") {
            return Vec::new();
        }
        match conn {
            0 => vec![b(0..3), b(5..7)], // skips ids 3 and 4
            1 => vec![b(1..3)],          // repeats ids 1 and 2
            2 => {
                let mut wrong_day = all[3].clone();
                wrong_day.date = date("2026-11-20");
                vec![frame_bytes(CTYPE_BATCH, &batch(&[wrong_day]), true)]
            }
            _ => vec![b(req.id as usize..20), frame_bytes(CTYPE_DAY_FINISHED, b"2026-11-21", true)],
        }
    });
    let clock = ManualClock::new(NOV22 + 3600);
    let client = start_client(client_config(&addr, &replica, &clock, -1));

    eventually("2026-11-21 finished on the replica", || replica.join("20261121/finish").exists()).await;
    client.stop().await.unwrap();
    let mut log = Vec::new();
    let reqs = requests(&mut seen, &mut log);
    let want: Vec<(usize, String, u64)> = vec![
        (0, "2026-11-21".into(), 0),
        (1, "2026-11-21".into(), 3),
        (2, "2026-11-21".into(), 3),
        (3, "2026-11-21".into(), 3),
        (3, "2026-11-22".into(), 0),
    ];
    assert_eq!(reqs, want);
    let vec_day = vectors().join("store/20261121");
    for file in ["index", "data000000", "finish"] {
        assert_same_file(&vec_day.join(file), &replica.join("20261121").join(file));
    }
}

/// A server that says today is finished and then sends records of it: the day would end
/// finished with records its master called complete without. The replica drops it and
/// stores none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_drops_a_server_that_sends_records_of_a_day_it_finished() {
    let tmp = tempfile::tempdir().unwrap();
    let replica = tmp.path().join("replica");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let today = date("2026-11-22");
    let mut late = vector_records_1121()[0].clone();
    (late.date, late.id) = (today, 0);
    let (_script, mut seen) = scripted_server(listener, move |_, req| {
        if req.date != today {
            return Vec::new();
        }
        vec![
            frame_bytes(CTYPE_DAY_FINISHED, &encode_day_finished(today), true),
            frame_bytes(CTYPE_BATCH, &batch(std::slice::from_ref(&late)), true),
        ]
    });
    let clock = ManualClock::new(NOV22 + 3600);
    let client = start_client(client_config(&addr, &replica, &clock, 0));
    let mut log = Vec::new();
    eventually("a second connection", || requests(&mut seen, &mut log).iter().any(|(conn, ..)| *conn >= 1)).await;
    client.stop().await.unwrap();
    let reqs = requests(&mut seen, &mut log);
    assert!(reqs.iter().all(|(_, d, id)| (d.as_str(), *id) == ("2026-11-22", 0)), "{reqs:?}");
    assert_eq!(index_len(&replica, "20261122"), 0, "no record of the finished day stored");
}

/// (c) Our replica against our server while the master is written, across a day change:
/// both folders end identical, file by file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_follows_our_server_across_a_day_change() {
    let tmp = tempfile::tempdir().unwrap();
    let (master, replica) = (tmp.path().join("master"), tmp.path().join("replica"));
    let clock = ManualClock::new(NOV22 - 3600);
    let (d1, d2) = (date("2026-11-21"), date("2026-11-22"));
    let mut store = quiet_store(&master);
    // Something on disk before the replica connects, the rest while it syncs.
    fill_day(&mut store, d1, 700, Some(&clock), false);
    let (addr, server) = start_server(&master, &store, LegacyServerConfig::default()).await;
    let client = start_client(client_config(&addr, &replica, &clock, 0));

    let writer_clock = clock.clone();
    let writer = Guard::new(tokio::task::spawn_blocking(move || {
        // The rest of day one, a little at a time: the replica follows the live tail.
        let mut more = Vec::new();
        for i in 0..40u32 {
            more.push(format!("live {i}").into_bytes());
            let batch: Vec<_> = more.iter().map(|d| NewRecord { time: i as i32, ty: 1, data: d }).collect();
            store.append(d1, &batch).unwrap();
            more.clear();
            std::thread::sleep(Duration::from_millis(3));
        }
        fill_day(&mut store, d1, 1300, Some(&writer_clock), true);
        writer_clock.set(NOV22 + 60);
        store.finish(d1).unwrap();
        fill_day(&mut store, d2, 1100, Some(&writer_clock), true);
        store
    }));
    let store = tokio::time::timeout(Duration::from_secs(60), writer.take()).await.unwrap().unwrap();
    let want = store.count(d2).unwrap() * 12;
    eventually("day two on the replica", || index_len(&replica, "20261122") == want).await;
    assert!(replica.join("20261121/finish").exists());
    client.stop().await.unwrap();
    server.stop().await.unwrap();
    drop(store);
    let (a, b) = (snapshot(&master), snapshot(&replica));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, content) in &a {
        assert!(content == &b[path], "{} differs", path.display());
    }
}

/// Configuration and store-ownership errors surface at once instead of being retried.
#[tokio::test]
async fn client_rejects_bad_retention_and_a_store_held_by_another_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV22);
    for (history, retain) in [(0, 0), (-2, -1), (1, -3)] {
        let config = LegacyClientConfig {
            retain_days: Some(retain),
            ..client_config("127.0.0.1:9", tmp.path(), &clock, history)
        };
        let err = run(config, watch::channel(false).1).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "history {history} retain {retain}: {err}");
    }
    let _held = quiet_store(tmp.path());
    let err = run(client_config("127.0.0.1:9", tmp.path(), &clock, 0), watch::channel(false).1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
}
