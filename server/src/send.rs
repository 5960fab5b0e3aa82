//! `modsynclog-client send`: send each line of a file (or stdin) as a record.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use modsynclog_core::sdk::{Producer, ProducerOptions, TYPE_JSON_LOG};

use crate::client_auth::ClientAuthArgs;

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Server gRPC address: HOST:PORT (plaintext) or https://HOST:PORT (TLS).
    #[arg(long, env = "MODSYNCLOG_SERVER")]
    pub server: String,
    /// Record type stored with every line.
    #[arg(long = "type", default_value_t = TYPE_JSON_LOG, allow_negative_numbers = true)]
    pub ty: i16,
    /// File to read; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Keep reading as the file grows, like a log agent (stop with Ctrl-C).
    #[arg(long)]
    pub follow: bool,
    /// Token and TLS of the native ingest service.
    #[command(flatten)]
    pub auth: ClientAuthArgs,
    /// Use the legacy unary service (works with an original Go server).
    #[arg(long)]
    pub legacy: bool,
    /// How long to wait at the end for every record to be acknowledged.
    #[arg(long, default_value = "60", value_name = "SECONDS")]
    pub flush_timeout: u64,
}

pub fn run(args: SendArgs) -> Result<()> {
    // One legacy call at a time: concurrent unary calls could store a file's lines out of order.
    let opts = ProducerOptions {
        token: args.auth.token()?,
        tls: args.auth.tls(),
        legacy: args.legacy,
        legacy_concurrency: 1,
        ..Default::default()
    };
    let producer = Producer::connect(&args.server, opts)?;
    let input: Box<dyn Read> = match &args.file {
        None => Box::new(io::stdin()),
        Some(p) if p.as_os_str() == "-" => Box::new(io::stdin()),
        Some(p) => Box::new(File::open(p).with_context(|| format!("open {}", p.display()))?),
    };
    let mut lines = BufReader::with_capacity(1 << 16, input);
    let mut line = Vec::new();
    let mut sent = 0u64;
    loop {
        line.clear();
        let n = lines.read_until(b'\n', &mut line).context("read input")?;
        if n == 0 || !line.ends_with(b"\n") && args.follow {
            if !args.follow {
                break;
            }
            // At the end of a growing file: keep the partial line for when it is complete.
            if n > 0 {
                wait_for_rest(&mut lines, &mut line)?;
            } else {
                producer.flush(Some(Duration::from_secs(args.flush_timeout)))?;
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        }
        let record = line.strip_suffix(b"\n").unwrap_or(&line);
        producer.commit(args.ty, record.to_vec())?;
        sent += 1;
    }
    producer.close(Some(Duration::from_secs(args.flush_timeout))).context("wait for acknowledgements")?;
    tracing::info!(records = sent, "all records acknowledged");
    Ok(())
}

/// Reads until `line` ends with a newline, waiting for the file to grow.
fn wait_for_rest(input: &mut impl BufRead, line: &mut Vec<u8>) -> Result<()> {
    while !line.ends_with(b"\n") {
        if input.read_until(b'\n', line).context("read input")? == 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}
