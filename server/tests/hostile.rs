//! Hostile load against the real server (`--fsync batch`), bounded in time: idle gRPC
//! connections, legacy socket connections with half a header, raw ingest streams that
//! push 1 MiB batches without waiting for acknowledgements (no SDK self-restraint: only
//! the server's budgets hold them back), replicas that subscribe and never read. Meanwhile a well-behaved producer and
//! replica keep working, the server's peak RSS stays under a bound worked out from its
//! configured limits, and afterwards the store verifies clean with every acknowledged
//! record in it.
//!
//! `MSL_HOSTILE_SECS` sets how long the flood lasts (default 6: the CI's short mode).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Proc, client, free_port, wait_for_port};
use modsynclog_core::sdk::{Producer, ProducerOptions};
use modsynclog_core::store::day;
use modsynclog_core::store::io::StdVfs;

const MIB: u64 = 1 << 20;
/// The server's limits in this test, and what they allow it to hold at most.
const WRITER_QUEUE_MIB: u64 = 32;
const STREAM_INFLIGHT_MIB: u64 = 8;
const FLOOD_PRODUCERS: u64 = 8;
const STALLED_REPLICAS: u64 = 20;

/// Peak resident memory (VmHWM) and current (VmRSS) of a process, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn records_in(dir: &Path) -> u64 {
    if !dir.exists() {
        return 0;
    }
    day::list_days(&StdVfs, dir).unwrap().into_iter().map(|d| day::record_count(&StdVfs, dir, d).unwrap()).sum()
}

/// A producer committing 1 KiB records as fast as it is acknowledged, in batches of 100.
/// It has a runtime of its own, so the floods' client work does not starve it here.
fn steady_producer(addr: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(u64, Duration)> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let opts =
            ProducerOptions { token: Some("t".into()), runtime: Some(rt.handle().clone()), ..Default::default() };
        let p = Producer::connect(&addr, opts).unwrap();
        let started = Instant::now();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            for _ in 0..100 {
                p.commit(1201, vec![b'k'; 1024]).unwrap();
            }
            p.flush(Some(Duration::from_secs(60))).unwrap();
            n += 100;
        }
        p.close(Some(Duration::from_secs(60))).unwrap();
        (n, started.elapsed())
    })
}

/// One hostile ingest stream: 1 MiB batches as fast as the transport takes them, acks
/// read on the side. Returns the records acknowledged once the stream ended.
async fn flood(grpc: String, producer_id: String, stop: Arc<AtomicBool>) -> u64 {
    use modsynclog_core::proto::v1::ingest_client::IngestClient;
    use modsynclog_core::proto::v1::{AppendRequest, Record};
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}")).unwrap().connect().await.unwrap();
    let mut client = IngestClient::new(channel);
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    request.metadata_mut().insert("authorization", "Bearer t".parse().unwrap());
    let sender = tokio::spawn(async move {
        let data = bytes::Bytes::from(vec![b'F'; MIB as usize]);
        let mut seq = 0;
        while !stop.load(Ordering::Relaxed) {
            let records = vec![Record { r#type: 1201, data: data.clone() }];
            let req = AppendRequest { batch_seq: seq, records, producer_id: producer_id.clone() };
            if tx.send(req).await.is_err() {
                return;
            }
            seq += 1;
        }
    });
    let mut acks = client.append_stream(request).await.unwrap().into_inner();
    let mut acked = 0;
    while let Some(ack) = acks.message().await.unwrap() {
        acked += ack.count;
    }
    sender.await.unwrap();
    acked
}

#[test]
fn hostile_load_leaves_good_clients_working_and_memory_bounded() {
    let secs: u64 = std::env::var("MSL_HOSTILE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let tmp = tempfile::tempdir().unwrap();
    let (master, replica) = (tmp.path().join("master"), tmp.path().join("replica"));
    let (grpc_port, legacy_port) = (free_port(), free_port());
    let grpc = format!("127.0.0.1:{grpc_port}");
    let legacy = format!("127.0.0.1:{legacy_port}");
    let server = Proc::start_logged(
        env!("CARGO_BIN_EXE_modsynclog-server"),
        &[
            "--data-dir",
            master.to_str().unwrap(),
            "--grpc-addr",
            &grpc,
            "--sync-addr",
            &legacy,
            "--fsync",
            "batch",
            "--utc",
            "--token",
            "t",
            "--writer-queue-bytes",
            &format!("{WRITER_QUEUE_MIB}MiB"),
            "--stream-inflight-bytes",
            &format!("{STREAM_INFLIGHT_MIB}MiB"),
            "--handshake-timeout",
            "2",
        ],
        &tmp.path().join("server.log"),
    );
    wait_for_port(grpc_port);
    wait_for_port(legacy_port);
    let pid = server.0.id();
    let (_, base_rss) = memory(pid);

    // The well-behaved replica, and the producer's rate on an idle server.
    let _replica = Proc::start(
        env!("CARGO_BIN_EXE_modsynclog-client"),
        &["sync", "--utc", "--server", &grpc, "--token", "t", "--dir", replica.to_str().unwrap()],
    );
    let stop_idle = Arc::new(AtomicBool::new(false));
    let idle = steady_producer(grpc.clone(), stop_idle.clone());
    std::thread::sleep(Duration::from_secs(2));
    stop_idle.store(true, Ordering::Relaxed);
    let (idle_n, idle_t) = idle.join().unwrap();
    let idle_rate = idle_n as f64 / idle_t.as_secs_f64();

    // 500 gRPC connections that send nothing; 500 legacy ones that send half a header.
    let silent: Vec<TcpStream> = (0..500).filter_map(|_| TcpStream::connect(&grpc).ok()).collect();
    let half_headers: Vec<TcpStream> = (0..500)
        .filter_map(|_| {
            let mut s = TcpStream::connect(&legacy).ok()?;
            let _ = s.write_all(&[0x17, 0xbe, 0x3c, 0x23, 0, 0, 0]);
            Some(s)
        })
        .collect();

    // 20 replicas that subscribe and never read.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let today = modsynclog_core::Date::today_utc().to_string();
    let stalled: Vec<_> = rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..STALLED_REPLICAS {
            let mut c = modsynclog_core::replica::connect(&grpc, Some("t"), &Default::default()).await.unwrap();
            let req = modsynclog_core::proto::v1::SubscribeRequest { date: today.clone(), id: 0 };
            held.push((c.subscribe(req).await.unwrap(), c));
        }
        held
    });

    // 8 raw streams flooding 1 MiB batches, and the steady producer beside them.
    let stop = Arc::new(AtomicBool::new(false));
    let floods: Vec<_> =
        (0..FLOOD_PRODUCERS).map(|i| rt.spawn(flood(grpc.clone(), format!("{i:032x}"), stop.clone()))).collect();
    let replica_before = records_in(&replica);
    let stop_steady = Arc::new(AtomicBool::new(false));
    let steady = steady_producer(grpc.clone(), stop_steady.clone());
    let load_started = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let replica_during = records_in(&replica) - replica_before;
    let (peak_under_load, _) = memory(pid);
    stop_steady.store(true, Ordering::Relaxed);
    let (steady_n, steady_t) = steady.join().unwrap();
    let load_secs = load_started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let flooded: u64 = rt.block_on(async {
        let mut total = 0;
        for f in floods {
            total += f.await.unwrap();
        }
        total
    });

    // Silent clients were dropped by the handshake timeout.
    for (what, conns) in [("gRPC", silent), ("legacy", half_headers)] {
        for mut s in conns {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = [0u8; 64];
            match s.read(&mut buf) {
                Ok(0) | Err(_) => {}
                Ok(n) => panic!("a silent {what} connection got {n} bytes instead of being dropped"),
            }
        }
    }
    drop(stalled);
    drop(rt);

    let steady_rate = steady_n as f64 / steady_t.as_secs_f64();
    let expected = idle_n + steady_n + flooded;
    let (peak, _) = memory(pid);
    // What the limits allow: the writer queue, each ingest stream's budget plus one message
    // being decoded and its HTTP/2 window, each subscriber's events ahead (3 x 4 MiB) and
    // send buffer,
    // the legacy sockets' frame limit, and the writer's group buffers; plus slack for the
    // allocator and the many idle connections' buffers.
    let streams = FLOOD_PRODUCERS + 1;
    let bound = base_rss
        + WRITER_QUEUE_MIB * MIB
        + streams * (STREAM_INFLIGHT_MIB + 2 + 8) * MIB
        + (STALLED_REPLICAS + 1) * (3 * 4 + 1) * MIB
        + 64 * 64 * 1024
        + 64 * MIB
        + 128 * MIB;
    println!(
        "hostile load ({secs} s): server RSS at start {} MiB, peak {} MiB (peak during the flood window {} MiB), bound {} MiB",
        base_rss / MIB,
        peak / MIB,
        peak_under_load / MIB,
        bound / MIB
    );
    println!(
        "well-behaved producer: {idle_rate:.0} records/s idle, {steady_rate:.0} records/s under load; \
         well-behaved replica copied {replica_during} records in {load_secs:.1} s of load ({:.0}/s); \
         flood: {flooded} records of 1 MiB acknowledged",
        replica_during as f64 / load_secs
    );
    assert!(steady_n > 0, "the well-behaved producer must keep getting acknowledgements");
    assert!(replica_during > 0, "the well-behaved replica must keep copying");
    assert!(peak < bound, "server peak RSS {} MiB exceeds the bound {} MiB", peak / MIB, bound / MIB);

    // Nothing acknowledged is missing, and the replica converges on the same count.
    let stored = records_in(&master);
    assert_eq!(stored, expected, "every acknowledged record is stored, once");
    let deadline = Instant::now() + Duration::from_secs(120);
    while records_in(&replica) != stored {
        assert!(Instant::now() < deadline, "the replica did not catch up: {} of {stored}", records_in(&replica));
        std::thread::sleep(Duration::from_millis(100));
    }
    server.terminate();
    let out = client().args(["verify", "--dir"]).arg(&master).output().unwrap();
    assert!(out.status.success(), "verify: {}", String::from_utf8_lossy(&out.stderr));
}
