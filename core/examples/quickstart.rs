//! Quickstart: the global SDK. Connects to a server, commits a few records, waits until
//! the server acknowledged them, and prints how many were committed.
//!
//! ```text
//! cargo run -p modsynclog-core --example quickstart -- 127.0.0.1:1235
//! ```
//!
//! The same example exists in C, Python, Node and Go (see `scripts/examples.sh`).

use std::time::Duration;

use modsynclog_core::sdk::{TYPE_APP_LOG, global};

const COUNT: usize = 3;

fn main() -> modsynclog_core::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:1235".to_string());
    global::init(&addr)?; // once per process; connects in the background
    for i in 0..COUNT {
        global::commit(TYPE_APP_LOG, format!("hello from rust {i}"))?; // only queues
    }
    global::flush(Some(Duration::from_secs(10)))?; // the server has them all now
    global::close()?;
    println!("committed {COUNT} records");
    Ok(())
}
