//! The followers that read the records back and note when each became readable.
//!
//! - [`in_process`]: a thread of the server's process, asleep on the writer's signal;
//! - [`follow_folder`]: the default `Reader::open(dir).follow(true)` over a folder (inotify,
//!   fallback poll), used for the replica's folder in this process and by the
//!   cross-process follower;
//! - the cross-process follower: this binary run again as the hidden `lag-follow`
//!   subcommand ([`follow_main`]), started by [`spawn_follower`] and read back by
//!   [`finish_follower`].

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use modsynclog_core::server::RunningServer;
use modsynclog_core::store::Signal;
use modsynclog_core::{Date, Next, Reader};

use super::source::{commit_time, mono_ns};
use super::stats::{Followed, Group};

/// The hidden `lag-follow` subcommand: the cross-process follower.
#[derive(Args, Debug, Clone)]
pub struct FollowArgs {
    #[arg(long)]
    pub dir: PathBuf,
    /// The day to follow, YYYY-MM-DD.
    #[arg(long)]
    pub date: String,
    #[arg(long, default_value_t = 1)]
    pub from_id: u64,
    /// Records to read before ending.
    #[arg(long)]
    pub count: u64,
    /// Ends early after this long without a record.
    #[arg(long, default_value_t = 10.0)]
    pub idle_secs: f64,
}

/// The in-process follower: a `Reader` (not following) over the server's folder, read to
/// its end each time the writer's signal moves, and asleep on that signal in between.
/// This is the loop `Reader::of(store).follow(true)` runs (note the signal's sequence,
/// look at the files, sleep until the sequence moves; no poll, no inotify), built from
/// [`RunningServer::signal`] because the store is owned by the writer thread and `Reader`
/// has no public constructor taking a signal. The wait's 250 ms timeout only lets the
/// thread notice the end of the run; a lost wake-up would show as a 250 ms sample.
pub(super) fn in_process(
    server: &RunningServer,
    date: Date,
    total: u64,
    done: Arc<AtomicBool>,
    ready: mpsc::Sender<()>,
) -> JoinHandle<Result<Followed>> {
    let (root, signal): (PathBuf, Arc<Signal>) = (server.store_root().to_path_buf(), server.signal());
    std::thread::Builder::new()
        .name("lag-in-process".into())
        .spawn(move || -> Result<Followed> {
            let mut reader = Reader::open(&root)?.from(date, 1);
            let mut out = Followed { samples: Vec::with_capacity(total as usize), ..Followed::default() };
            let _ = ready.send(());
            let (mut woke, mut last_record) = (mono_ns(), Instant::now());
            while (out.samples.len() as u64) < total {
                let seq = signal.head().seq;
                let mut group: Option<Group> = None;
                while let Next::Record(rec) = reader.next_record(None)? {
                    let now = mono_ns();
                    let sent = commit_time(&rec.data)?;
                    let lat = now.saturating_sub(sent);
                    out.samples.push((sent, lat));
                    let g = group.get_or_insert(Group {
                        records: 0,
                        newest: lat,
                        wake_to_read: now - woke,
                        first_sent: sent,
                        last_sent: sent,
                    });
                    g.records += 1;
                    g.newest = g.newest.min(lat);
                    g.first_sent = g.first_sent.min(sent);
                    g.last_sent = g.last_sent.max(sent);
                    if out.samples.len() as u64 >= total {
                        break;
                    }
                }
                match group {
                    Some(g) => {
                        out.groups.push(g);
                        last_record = Instant::now();
                    }
                    None => out.empty_wakes += 1,
                }
                if (out.samples.len() as u64) >= total
                    || (done.load(Ordering::Relaxed) && last_record.elapsed() > Duration::from_secs(2))
                {
                    break;
                }
                signal.wait_past(seq, Duration::from_millis(250));
                woke = mono_ns();
            }
            Ok(out)
        })
        .expect("spawning a thread")
}

/// Follows `dir` from `(date, from)` with the default `Reader::open(dir).follow(true)`
/// until `total` records were read, or `end()` holds and `idle` passed without a record.
/// `ready` runs once the reader watches the folder (its first look is done).
pub(super) fn follow_folder(
    dir: &Path,
    date: Date,
    from: u64,
    total: u64,
    end: impl Fn() -> bool,
    idle: Duration,
    ready: impl FnOnce(),
) -> Result<Followed> {
    let mut reader = Reader::open(dir)?.from(date, from).follow(true);
    let mut out = Followed { samples: Vec::with_capacity(total as usize), ..Followed::default() };
    // The first call starts watching and looks once (nothing is there yet).
    if let Next::Record(rec) = reader.next_record(Some(Duration::ZERO))? {
        let sent = commit_time(&rec.data)?;
        out.samples.push((sent, mono_ns().saturating_sub(sent)));
    }
    ready();
    let mut last_record = Instant::now();
    while (out.samples.len() as u64) < total {
        match reader.next_record(Some(Duration::from_millis(250)))? {
            Next::Record(rec) => {
                let sent = commit_time(&rec.data)?;
                out.samples.push((sent, mono_ns().saturating_sub(sent)));
                last_record = Instant::now();
            }
            Next::Timeout if end() && last_record.elapsed() > idle => break,
            Next::Timeout => {}
            Next::End => break,
        }
    }
    Ok(out)
}

/// The `lag-follow` subcommand: prints `ready`, follows, then prints `commit_ns latency_ns`
/// per record and `end N`.
pub fn follow_main(args: &FollowArgs) -> Result<()> {
    let date = Date::parse(&args.date)?;
    let idle = Duration::from_secs_f64(args.idle_secs);
    let followed = follow_folder(
        &args.dir,
        date,
        args.from_id,
        args.count,
        || true,
        idle,
        || {
            println!("ready");
            let _ = std::io::stdout().flush();
        },
    )?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (sent, lat) in &followed.samples {
        writeln!(out, "{sent} {lat}")?;
    }
    writeln!(out, "end {}", followed.samples.len())?;
    out.flush()?;
    Ok(())
}

/// Kills the child when dropped before [`finish_follower`] took it.
pub(super) struct ChildGuard(pub(super) Option<Child>);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts this binary as the cross-process follower of `dir`; returns once it watches.
pub(super) fn spawn_follower(dir: &Path, date: Date, total: u64) -> Result<(ChildGuard, BufReader<ChildStdout>)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("lag-follow")
        .arg("--dir")
        .arg(dir)
        .args(["--date", &date.to_string(), "--from-id", "1", "--count", &total.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the cross-process follower")?;
    let stdout = child.stdout.take().context("the follower's stdout")?;
    let guard = ChildGuard(Some(child));
    let mut out = BufReader::new(stdout);
    let mut line = String::new();
    out.read_line(&mut line)?;
    if line.trim() != "ready" {
        bail!("the cross-process follower said {line:?} instead of ready");
    }
    Ok((guard, out))
}

/// Reads the cross-process follower's samples until its `end N`, then waits for it to exit.
pub(super) fn finish_follower(mut guard: ChildGuard, out: BufReader<ChildStdout>) -> Result<Followed> {
    let mut followed = Followed::default();
    let mut ended = None;
    for line in out.lines() {
        let line = line?;
        if let Some(n) = line.strip_prefix("end ") {
            ended = Some(n.parse::<usize>()?);
            break;
        }
        let (sent, lat) = line.split_once(' ').context("a follower line")?;
        followed.samples.push((sent.parse()?, lat.parse()?));
    }
    let mut child = guard.0.take().context("the follower")?;
    let status = child.wait()?;
    if !status.success() || ended != Some(followed.samples.len()) {
        bail!("the cross-process follower failed ({status}, {ended:?} of {} lines)", followed.samples.len());
    }
    Ok(followed)
}
