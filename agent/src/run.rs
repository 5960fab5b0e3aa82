//! The agent's loop: read what the files have, batch it (per input's rate), send it, take
//! the acks, look for new files, write checkpoints; stop on request (every batch in
//! flight acknowledged, checkpoints written) or, with `once`, when everything is shipped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::{self, Relaxed};
use std::time::{Duration, Instant};

use modsynclog_core::sdk::sequenced::{SeqBatch, SeqSender};
use modsynclog_core::tls::ClientTls;
use modsynclog_core::{Error, ErrorKind, Result};
use tokio::sync::{mpsc, watch};

use crate::checkpoint::Checkpoints;
use crate::config::{Input, MULTILINE_FLUSH};
use crate::figures::Figures;
use crate::files::Files;
use crate::identity::Inode;
use crate::rate::Bucket;

/// Payload bytes sent and not yet acknowledged, at most, by default: while the server is
/// away the agent stops reading there.
pub const DEFAULT_IN_FLIGHT_BYTES: usize = 16 << 20;
/// How often the globs are looked at again without a file-system event.
pub const SCAN_EVERY: Duration = Duration::from_secs(1);
/// How long a file renamed away by a rotation must stay quiet, read to its end, before the
/// file that took its name is read.
const ROTATED_QUIET: Duration = Duration::from_millis(200);
/// How often files are looked at for growth without a file-system event.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// Checkpoints are written at most this often while records flow (and at stop).
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How long a stop waits for the batches in flight.
pub const STOP_WAIT: Duration = Duration::from_secs(30);

/// What the agent needs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The server: `HOST:PORT` or `https://HOST:PORT`.
    pub server: String,
    pub token: Option<String>,
    pub tls: ClientTls,
    /// Names this agent's records on the server (its producer ids); keep it stable.
    pub agent_id: String,
    /// Where the checkpoints live.
    pub state_dir: PathBuf,
    pub max_in_flight_bytes: usize,
    /// Ship what the files hold now, then return.
    pub once: bool,
}

/// How the agent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Asked to stop; everything sent was acknowledged.
    Stopped,
    /// `once`: everything the files held was shipped.
    Drained,
}

/// Runs the agent until `stop` turns true (or, with `once`, the files are shipped).
/// `inputs` may change while it runs (SIGHUP, etcd): new inputs start, removed ones stop.
pub async fn run(
    config: AgentConfig,
    mut inputs: watch::Receiver<Vec<Input>>,
    mut stop: watch::Receiver<bool>,
    figures: Arc<Figures>,
) -> Result<Ended> {
    crate::identity::check_agent_id(&config.agent_id).map_err(Error::invalid)?;
    let checkpoints = Checkpoints::load(&config.state_dir, &config.agent_id)
        .map_err(|e| Error::new(ErrorKind::Io, format!("checkpoints: {e}")))?;
    let (sender, mut acks) =
        SeqSender::connect(&config.server, config.token.as_deref(), &config.tls, config.max_in_flight_bytes)?;
    let current = inputs.borrow_and_update().clone();
    figures.inputs.store(current.len() as u64, Relaxed);
    let mut files = Files::new(&config.agent_id, current, checkpoints, figures.clone());
    files.start(&sender).await?;
    let save = |files: &mut Files| {
        files.settle(&config.state_dir).map_err(|e| Error::new(ErrorKind::Io, format!("checkpoints: {e}")))
    };
    save(&mut files)?;
    let (events_tx, mut events) = mpsc::channel::<()>(1);
    let mut watcher = crate::watch::Watcher::new(events_tx);
    watcher.watch(&files.inputs);

    let mut buckets: HashMap<String, Bucket> = HashMap::new();
    let mut buf = vec![0u8; crate::tracked::READ_CHUNK];
    let mut next: Option<(Inode, SeqBatch)> = None;
    let mut turn = 0usize;
    let (mut last_scan, mut last_save) = (Instant::now(), Instant::now());
    let mut scan_now = false;
    let mut stopping: Option<Instant> = None;
    loop {
        if stopping.is_none() && *stop.borrow() {
            tracing::info!(in_flight = files.in_flight(), "stopping: waiting for the batches in flight");
            stopping = Some(Instant::now());
            // Not sent: read again from the checkpoint next time.
            if let Some((inode, _)) = next.take()
                && let Some(t) = files.files.get_mut(&inode)
            {
                t.in_flight -= 1;
            }
        }
        if let Some(since) = stopping
            && (files.in_flight() == 0 || since.elapsed() > STOP_WAIT)
        {
            save(&mut files)?;
            return Ok(Ended::Stopped);
        }
        if scan_now || watcher.rescan.swap(false, Ordering::SeqCst) || last_scan.elapsed() >= SCAN_EVERY {
            files.scan();
            (last_scan, scan_now) = (Instant::now(), false);
        }
        let mut busy = false;
        if stopping.is_none() && next.is_none() {
            busy = read_some(&mut files, &figures, &mut buf);
            if files.unregistered() {
                files.dirty = true;
                save(&mut files)?;
                last_save = Instant::now();
            }
            next = take_batch(&mut files, &mut buckets, &mut turn, &figures);
        }
        if config.once && next.is_none() && !busy {
            // Nothing more will come: a multi-line record waiting for more lines, and a
            // last line without its newline, go now.
            files.files.values_mut().filter(|t| t.eof).for_each(|t| t.end_partial_line());
            if files.drained() {
                save(&mut files)?;
                return Ok(Ended::Drained);
            }
        }
        if last_save.elapsed() >= SAVE_EVERY || files.files.values().any(|t| t.restarting) {
            save(&mut files)?;
            last_save = Instant::now();
        }
        let bytes = next.as_ref().map_or(0, |(_, b)| b.records.iter().map(|(_, d)| d.len()).sum());
        let wait = if files.files.values().any(|t| t.has_ready()) {
            // Held back by a rate: until a bucket has room again. With no bucket, by
            // batches in flight (the server down, or a removed input's file finishing):
            // an ack or a file event ends the wait, no need to spin.
            buckets.values().map(Bucket::next_refill).min().unwrap_or(POLL_EVERY)
        } else if busy {
            Duration::ZERO
        } else {
            POLL_EVERY
        };
        tokio::select! {
            biased;
            ack = acks.recv() => match ack {
                Some(ack) => files.acked(ack)?,
                None => return Err(Error::new(ErrorKind::Closed, "the sender ended")),
            },
            reserved = sender.reserve(bytes), if next.is_some() => {
                let (_, batch) = next.take().expect("guarded");
                sender.send(reserved?, batch)?;
            }
            _ = stop.changed(), if stopping.is_none() => {}
            changed = inputs.changed() => {
                if changed.is_ok() {
                    let new = inputs.borrow_and_update().clone();
                    tracing::info!(inputs = new.len(), "inputs changed");
                    figures.inputs.store(new.len() as u64, Relaxed);
                    files.inputs = new;
                    watcher.watch(&files.inputs);
                    buckets.clear();
                    scan_now = true;
                }
            }
            _ = events.recv() => {}
            _ = tokio::time::sleep(wait), if next.is_none() => {}
        }
    }
}

/// One file that cannot be read (an I/O error, no descriptor left) waits for the next
/// round; the others go on. Logged once per distinct error.
fn read_failed(t: &mut crate::tracked::Tracked, e: &std::io::Error) {
    let why = e.to_string();
    if t.read_error.as_deref() != Some(why.as_str()) {
        tracing::warn!(path = %t.path.display(), error = %e, "cannot read the file; the others go on, it is tried again");
        t.read_error = Some(why);
    }
}

/// Reads every file that may have grown; returns whether any had something. Files quiet
/// for a while hand out a multi-line record waiting for more lines; files renamed away or
/// deleted, their last line without its newline.
fn read_some(files: &mut Files, figures: &Figures, buf: &mut [u8]) -> bool {
    let mut any = false;
    let ready_limit = crate::tracked::ready_limit(files.files.len());
    let read_out: Vec<Inode> = files.files.iter().filter(|(_, t)| t.read_out(ROTATED_QUIET)).map(|(i, _)| *i).collect();
    let followed: Vec<Inode> = files.files.keys().copied().collect();
    for t in files.files.values_mut() {
        if !files.inputs.iter().any(|i| i.name == t.input) {
            continue; // its input was removed: nothing more is read
        }
        if let Some(before) = t.after {
            if followed.contains(&before) && !read_out.contains(&before) {
                // The rotated file before it is not read to its end yet. Its identity is
                // taken all the same, so that it is registered (and found again after a
                // crash) even if it is renamed away before it is read.
                if let Err(e) = t.take_fingerprint() {
                    read_failed(t, &e);
                }
                continue;
            }
            t.after = None;
        }
        let n = match t.read(ready_limit, buf) {
            Ok(n) => {
                if t.read_error.take().is_some() {
                    tracing::info!(path = %t.path.display(), "the file reads again");
                }
                n
            }
            Err(e) => {
                read_failed(t, &e);
                continue;
            }
        };
        figures.read_bytes.fetch_add(n as u64, Relaxed);
        figures.lost_bytes.fetch_add(std::mem::take(&mut t.lost), Relaxed);
        any |= n > 0 || t.has_ready();
        if n == 0 && t.has_partial() && t.last_growth.elapsed() >= MULTILINE_FLUSH {
            if t.gone && t.last_growth.elapsed() >= crate::files::CLOSE_QUIET {
                t.end_partial_line();
            } else {
                t.flush_pending();
            }
            any |= t.has_ready();
        }
    }
    any
}

/// The next batch: the next file in turn with records ready, as many as its input's rate
/// allows now.
fn take_batch(
    files: &mut Files,
    buckets: &mut HashMap<String, Bucket>,
    turn: &mut usize,
    figures: &Figures,
) -> Option<(Inode, SeqBatch)> {
    let inodes: Vec<Inode> =
        files.files.iter().filter(|(i, t)| t.has_ready() && files.registered(**i)).map(|(i, _)| *i).collect();
    if inodes.is_empty() {
        return None;
    }
    for k in 0..inodes.len() {
        let inode = inodes[(*turn + k) % inodes.len()];
        let t = &files.files[&inode];
        // A removed input's file keeps what it had read, unsent; the others go on.
        let Some(input) = files.inputs.iter().find(|i| i.name == t.input).cloned() else { continue };
        let (mut records, mut bytes) = t.peek(usize::MAX);
        if let Some(rate) = input.rate {
            let bucket = buckets.entry(input.name.clone()).or_insert_with(|| Bucket::new(rate));
            let allowed = bucket.allowed(t.ready_sizes());
            if allowed == 0 {
                continue;
            }
            (records, bytes) = t.peek(allowed);
            bucket.take(records, bytes);
        }
        let producer = files.producer(inode)?;
        let t = files.files.get_mut(&inode)?;
        let batch = t.batch(producer, input.record_type, records)?;
        figures.sent_records.fetch_add(records as u64, Relaxed);
        figures.sent_bytes.fetch_add(bytes as u64, Relaxed);
        figures.truncated_records.store(files.files.values().map(|t| t.truncated_records()).sum(), Relaxed);
        *turn = (*turn + k + 1) % inodes.len().max(1);
        return Some((inode, batch));
    }
    None
}
