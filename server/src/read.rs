//! `modsynclog-client read`: print records from a store folder.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, ValueEnum};
use modsynclog_core::{Date, Next, Reader, Record};

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Store folder (the one holding the YYYYMMDD day folders).
    #[arg(long, env = "MODSYNCLOG_DIR")]
    pub dir: PathBuf,
    /// First day to read, YYYY-MM-DD. Default: the earliest day in the folder.
    #[arg(long)]
    pub date: Option<Date>,
    /// First record id within that day.
    #[arg(long, default_value_t = 0)]
    pub id: u64,
    /// Keep waiting for new records and new days (stop with Ctrl-C). A day is left only
    /// once it is finished.
    #[arg(long)]
    pub follow: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line: date, id, time, type, data_b64, and text when the payload is UTF-8.
    Jsonl,
    /// `DATE ID TIME TYPE PAYLOAD`, the payload as text when it is UTF-8, else `base64:...`.
    Text,
}

pub fn run(args: ReadArgs) -> Result<()> {
    let mut reader = Reader::open(&args.dir)?.follow(args.follow);
    reader = match args.date {
        Some(date) => reader.from(date, args.id),
        None => reader.from_id(args.id),
    };
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    match copy(&mut reader, &mut out, args.format) {
        // A closed pipe (`| head`) is the reader's way of saying "enough".
        Err(e) if e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) => Ok(()),
        other => other,
    }
}

fn copy(reader: &mut Reader, out: &mut impl Write, format: Format) -> Result<()> {
    loop {
        // Flush before waiting, so a follower shows each record as it arrives.
        let next = match reader.next_record(Some(std::time::Duration::ZERO))? {
            Next::Timeout => {
                out.flush()?;
                reader.next_record(None)?
            }
            next => next,
        };
        match next {
            Next::Record(r) => write_record(out, &r, format)?,
            Next::End | Next::Timeout => break,
        }
    }
    out.flush().context("write to stdout")?;
    Ok(())
}

pub fn write_record(out: &mut impl Write, r: &Record, format: Format) -> io::Result<()> {
    let text = std::str::from_utf8(&r.data).ok();
    match format {
        Format::Jsonl => {
            let mut obj = serde_json::json!({
                "date": r.date.to_string(),
                "id": r.id,
                "time": r.time,
                "type": r.ty,
                "data_b64": STANDARD.encode(&r.data),
            });
            if let Some(text) = text {
                obj["text"] = text.into();
            }
            serde_json::to_writer(&mut *out, &obj)?;
            out.write_all(b"\n")
        }
        Format::Text => match text {
            Some(t) => writeln!(out, "{} {} {} {} {}", r.date, r.id, r.time, r.ty, t.escape_debug()),
            None => writeln!(out, "{} {} {} {} base64:{}", r.date, r.id, r.time, r.ty, STANDARD.encode(&r.data)),
        },
    }
}
