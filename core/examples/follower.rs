//! Follower: a reader that follows a store folder (a server's `--data-dir`, or a
//! replica's) and prints each new record as it arrives: `date id type len payload`, the
//! payload as text when it is printable ASCII, else `hex:...`. Records already there are
//! skipped. Stops after N records, or on Ctrl-C (through the reader's `Stopper`).
//!
//! ```text
//! cargo run -p modsynclog-core --example follower -- ./data [N]
//! ```

use std::process::exit;

use modsynclog_core::{Next, Reader, Result};
use tokio::signal::unix::{SignalKind, signal};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: follower DIR [N]");
        exit(2);
    };
    let limit: Option<u64> = args.next().map(|n| n.parse().expect("N is a number"));
    if let Err(e) = follow(&dir, limit) {
        eprintln!("error {} ({:?}): {}", e.code(), e.kind(), e.message());
        exit(1);
    }
}

fn follow(dir: &str, limit: Option<u64>) -> Result<()> {
    // Skip what is there: read to the end once, then follow from the record after the last.
    let mut reader = Reader::open(dir)?;
    let mut last = None;
    while let Next::Record(r) = reader.next_record(None)? {
        last = Some((r.date, r.id));
    }
    let mut reader = match last {
        Some((date, id)) => Reader::open(dir)?.from(date, id + 1),
        None => Reader::open(dir)?,
    }
    .follow(true);

    // Ctrl-C stops the reader from another thread: `next_record` then returns `End`.
    let stopper = reader.stopper();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let mut sigint = {
        let _in_runtime = rt.enter();
        signal(SignalKind::interrupt()).expect("a SIGINT handler") // handled from now on
    };
    std::thread::spawn(move || {
        rt.block_on(sigint.recv());
        stopper.stop();
    });

    eprintln!("following {dir}");
    let mut count = 0;
    while limit != Some(count) {
        let Next::Record(r) = reader.next_record(None)? else { break }; // End: stopped
        let printable = r.data.iter().all(|b| (0x20..0x7f).contains(b));
        let payload = if printable {
            String::from_utf8_lossy(&r.data).into_owned()
        } else {
            format!("hex:{}", r.data.iter().map(|b| format!("{b:02x}")).collect::<String>())
        };
        println!("{} {} {} {} {}", r.date, r.id, r.ty, r.data.len(), payload);
        count += 1;
    }
    eprintln!("stopped after {count} records");
    Ok(())
}
