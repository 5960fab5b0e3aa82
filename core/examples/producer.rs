//! Producer: a `Producer` with explicit options, and what to do with each error.
//!
//! Commits N records (type 1201, JSON), then flushes with a timeout and reports what the
//! server acknowledged. `MODSYNCLOG_TOKEN` (a bearer token) and `MODSYNCLOG_CA` (the CA
//! file of an `https://` server) are used when set.
//!
//! * `QueueFull` (the queue stayed full for `enqueue_timeout`): wait a little, retry.
//! * `NoSpace` (the server's disk is full; the producer keeps its records): report, retry later.
//! * `Unauthenticated` / `PermissionDenied`: final, nothing can help; exit with status 3.
//!
//! ```text
//! cargo run -p modsynclog-core --example producer -- 127.0.0.1:1235 1000
//! ```

use std::process::exit;
use std::thread::sleep;
use std::time::{Duration, Instant};

use modsynclog_core::sdk::{Producer, ProducerOptions, TYPE_JSON_LOG};
use modsynclog_core::{Error, ErrorKind};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.first().map_or("127.0.0.1:1235", String::as_str);
    let n: u64 = args.get(1).map_or(1000, |s| s.parse().expect("N is a number"));

    let mut opts = ProducerOptions {
        queue_bytes: 1 << 20,                    // at most 1 MiB of payloads waiting to be sent
        linger: Duration::from_millis(10),       // batch what comes within 10 ms
        enqueue_timeout: Duration::from_secs(2), // commit waits this long for room, then QueueFull
        token: std::env::var("MODSYNCLOG_TOKEN").ok(),
        ..ProducerOptions::default()
    };
    opts.tls.ca_file = std::env::var_os("MODSYNCLOG_CA").map(Into::into); // for https://
    let producer = Producer::connect(addr, opts).unwrap_or_else(|e| fail(&e));

    for i in 0..n {
        let record = format!(r#"{{"lang":"rust","i":{i}}}"#);
        loop {
            match producer.commit(TYPE_JSON_LOG, record.clone()) {
                Ok(()) => break,
                Err(e) if e.kind() == ErrorKind::QueueFull => sleep(Duration::from_millis(100)),
                Err(e) if e.kind() == ErrorKind::NoSpace => {
                    eprintln!("server disk full, retrying in 1 s: {}", e.message());
                    sleep(Duration::from_secs(1));
                }
                Err(e) => fail(&e),
            }
        }
    }

    // Wait up to 30 s for the acknowledgements; a full disk is retried until then.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match producer.flush(Some(left)) {
            Ok(()) => break,
            Err(e) if e.kind() == ErrorKind::NoSpace && !left.is_zero() => {
                eprintln!("server disk full, flushing again in 1 s");
                sleep(Duration::from_secs(1));
            }
            Err(e) => {
                let (committed, acked) = producer.progress();
                eprintln!("acknowledged {acked} of {committed} records");
                fail(&e);
            }
        }
    }
    let (committed, acked) = producer.progress();
    producer.close(Some(Duration::from_secs(10))).unwrap_or_else(|e| fail(&e));
    println!("committed {committed} records, acknowledged {acked}");
}

/// Reports an error; refused credentials exit with 3, anything else with 1.
fn fail(e: &Error) -> ! {
    eprintln!("error {} ({:?}): {}", e.code(), e.kind(), e.message());
    exit(if matches!(e.kind(), ErrorKind::Unauthenticated | ErrorKind::PermissionDenied) { 3 } else { 1 });
}
