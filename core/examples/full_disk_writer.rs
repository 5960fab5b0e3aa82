//! The Rust SDK's part of `scripts/full-disk.sh`: commits records to a server whose disk
//! fills up and checks what the producer reports.
//!
//! ```text
//! cargo run -p modsynclog-core --example full_disk_writer -- ADDR TAG DIR PAD BATCH FLUSH_EVERY
//! ```
//!
//! Same steps and output as `scripts/full-disk/writer.c`: a producer with
//! `batch_max_records = BATCH`; once DIR/start exists, records of type 14, `TAG:<i>:` then
//! PAD bytes `r`, flushed every FLUSH_EVERY, until `commit` or `flush` fails with
//! `ErrorKind::NoSpace` (at once, not after the flush's 60 s timeout); then, once DIR/freed
//! exists, flush until the kept records are delivered, 200 more records, flush. The last
//! line is `RESULT tag=... total=N`.

use std::path::Path;
use std::process::exit;
use std::time::{Duration, Instant};

use modsynclog_core::sdk::{Producer, ProducerOptions};
use modsynclog_core::{Error, ErrorKind};

const TYPE: i16 = 14;
const MORE: u64 = 200;
const FLUSH_TIMEOUT: Option<Duration> = Some(Duration::from_secs(60));

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, tag, signals, pad, batch, flush_every] = args.as_slice() else {
        eprintln!("usage: full_disk_writer ADDR TAG DIR PAD BATCH FLUSH_EVERY");
        exit(2);
    };
    let number = |s: &str| -> usize { s.parse().expect("PAD, BATCH and FLUSH_EVERY are numbers") };
    let (pad, batch, flush_every) = (number(pad), number(batch), number(flush_every) as u64);
    let fail = |message: String| -> ! {
        println!("FAIL {tag}: {message}");
        exit(1);
    };
    let record = |i: u64| {
        let mut r = format!("{tag}:{i}:").into_bytes();
        r.resize(r.len() + pad, b'r');
        r
    };

    let wait_for = |name: &str| {
        let path = Path::new(signals).join(name);
        let deadline = Instant::now() + Duration::from_secs(180);
        while !path.exists() {
            if Instant::now() > deadline {
                fail(format!("{} never appeared", path.display()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    let p = Producer::connect(addr, ProducerOptions { batch_max_records: batch, ..Default::default() })
        .unwrap_or_else(|e| fail(format!("connect: {e}")));
    println!("{tag}: ready");
    wait_for("start");
    let (mut i, mut acked) = (0u64, 0u64);
    let mut took = Duration::ZERO;
    let (source, error): (&str, Error) = loop {
        if i > 1_000_000 {
            fail("1,000,000 records acknowledged and the disk never filled".into());
        }
        if let Err(e) = p.commit(TYPE, record(i)) {
            break ("commit", e);
        }
        i += 1;
        if i % flush_every == 0 {
            let t = Instant::now();
            let r = p.flush(FLUSH_TIMEOUT);
            took = t.elapsed();
            match r {
                Ok(()) => acked = i,
                Err(e) => break ("flush", e),
            }
        }
    };
    if error.kind() != ErrorKind::NoSpace || error.code() != 16 {
        fail(format!("{source} failed with {:?}, not NoSpace: {error}", error.kind()));
    }
    let committed = i;
    println!(
        "{tag}: NoSpace from {source} after {:.3} s: {acked} records acknowledged before the error, {committed} committed",
        took.as_secs_f64()
    );
    println!("{tag}: message: {error}");
    if took > Duration::from_secs(5) {
        fail(format!("the full disk was reported after {took:?}, not at once"));
    }

    wait_for("freed");
    let t = Instant::now();
    loop {
        match p.flush(FLUSH_TIMEOUT) {
            Ok(()) => break,
            Err(e) if e.kind() == ErrorKind::NoSpace && t.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => fail(format!("flush after freeing space: {e}")),
        }
    }
    println!(
        "{tag}: delivered the {} records kept since the disk filled, {:.1} s after space was freed",
        committed - acked,
        t.elapsed().as_secs_f64()
    );
    for _ in 0..MORE {
        p.commit(TYPE, record(i)).unwrap_or_else(|e| fail(format!("commit after freeing space: {e}")));
        i += 1;
    }
    p.flush(FLUSH_TIMEOUT).unwrap_or_else(|e| fail(format!("the last flush: {e}")));
    p.close(Some(Duration::from_secs(10))).unwrap_or_else(|e| fail(format!("close: {e}")));
    println!("RESULT tag={tag} acked_at_error={acked} committed_at_error={committed} error_from={source} total={i}");
}
