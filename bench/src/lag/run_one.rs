//! One run under one server fsync policy ([`lag_run`]): a server in this process, the
//! chosen followers reading while the source commits at the steady rate, and the
//! conditions of the run ([`Run`]: load, how busy the cores were, the disk's fsync latency).

use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use modsynclog_core::replica::{Progress, ReplicaConfig};
use modsynclog_core::sdk::{Producer, ProducerOptions};
use modsynclog_core::server::ServerConfig;
use modsynclog_core::{Date, Durability};
use tokio::runtime::Runtime;
use tokio::sync::watch;

use super::args::{Follower, LagArgs, Source};
use super::followers::{finish_follower, follow_folder, in_process, spawn_follower};
use super::probes::{cores, tempdir, wait_count};
use super::source::{mono_ns, pace_producer, pace_writer, stamped};
use super::stats::{Dist, Followed, Outcome};
use crate::procstat::cpu_with;
use crate::report::CpuTimes;

/// Machine-wide and this benchmark's (both processes') share of all cores, in percent.
pub(super) type Busy = Option<(f64, f64)>;

/// The conditions of one run.
pub(super) struct Run {
    pub(super) name: String,
    pub(super) load_before: String,
    pub(super) load_after: String,
    /// Machine-wide and this benchmark's (both processes') share of all cores while committing.
    pub(super) busy: Busy,
    /// This disk's write+fdatasync latency (4 KiB) just before and just after the run.
    pub(super) fsync_before: Option<Dist>,
    pub(super) fsync_after: Option<Dist>,
}

impl Run {
    pub(super) fn describe(&self) -> String {
        let busy = match self.busy {
            Some((all, ours)) => format!("cores busy {all:.0}% (this benchmark {ours:.0}%, the rest other work)"),
            None => "cores busy ?".into(),
        };
        let fsync = |d: &Option<Dist>| d.map_or("-".into(), |d| format!("p50 {:.2} ms, p99 {:.2} ms", d.p50, d.p99));
        format!(
            "run --fsync {}: load average {} before, {} after; {busy}; write+fdatasync 4 KiB before the run {}, after {}",
            self.name,
            self.load_before,
            self.load_after,
            fsync(&self.fsync_before),
            fsync(&self.fsync_after)
        )
    }
}

/// One run under one fsync policy: every follower's samples, and how busy the machine's
/// cores were while records were committed (all work, and this benchmark's processes).
pub(super) fn lag_run(
    rt: &Runtime,
    args: &LagArgs,
    durability: Durability,
    fsync: &str,
    total: u64,
) -> Result<(Vec<Outcome>, Busy)> {
    let (sdir, rdir) = (tempdir(args)?, tempdir(args)?);
    let date = Date::today_local();
    let config = ServerConfig {
        data_dir: sdir.path().to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse()?,
        durability,
        sync_addr: None,
        ..ServerConfig::default()
    };
    let server = rt.block_on(modsynclog_core::server::start(config))?;
    let addr = server.grpc_addr().to_string();
    let linger = Duration::from_secs_f64(args.linger_ms.max(0.0) / 1e3);
    let on = |f: Follower| args.followers.contains(&f);

    // The first record (id 0), so the day exists everywhere before the followers open it.
    let producer = match args.source {
        Source::Producer => {
            let opts = ProducerOptions { linger, ..ProducerOptions::default() };
            let p = Producer::connect(&addr, opts)?;
            p.commit(1201, stamped(args.size, args.filler))?;
            p.flush(Some(Duration::from_secs(10)))?;
            Some(p)
        }
        Source::Writer => {
            rt.block_on(server.writer().append(vec![(1201, stamped(args.size, args.filler))]))?;
            None
        }
    };
    let (stop_replica, stopped) = watch::channel(false);
    // When the replica's store returned from each append (after its own fsyncs): `(ns, next_id)`.
    let appended = Arc::new(Mutex::new(Vec::<(u64, u64)>::new()));
    let replica = on(Follower::Replica).then(|| {
        let config = ReplicaConfig { durability: args.replica_fsync, ..ReplicaConfig::new(addr.clone(), rdir.path()) };
        let appended = appended.clone();
        let progress = move |p: Progress| {
            let t = mono_ns();
            let mut a = appended.lock().unwrap_or_else(|e| e.into_inner());
            if a.last().is_none_or(|&(_, n)| n < p.next_id) {
                a.push((t, p.next_id));
            }
        };
        rt.spawn(modsynclog_core::replica::run(config, stopped, progress))
    });
    if replica.is_some() {
        wait_count(rdir.path(), date, 1, Duration::from_secs(30))?;
    }

    let done = Arc::new(AtomicBool::new(false));
    let mut child = None;
    if on(Follower::CrossProcess) {
        child = Some(spawn_follower(sdir.path(), date, total)?);
    }
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut threads: Vec<(Follower, JoinHandle<Result<Followed>>)> = Vec::new();
    if on(Follower::InProcess) {
        let t = in_process(&server, date, total, done.clone(), ready_tx.clone());
        threads.push((Follower::InProcess, t));
    }
    if on(Follower::Replica) {
        let (dir, done, ready) = (rdir.path().to_path_buf(), done.clone(), ready_tx.clone());
        let t = std::thread::Builder::new().name("lag-replica-reader".into()).spawn(move || {
            follow_folder(
                &dir,
                date,
                1,
                total,
                || done.load(Ordering::Relaxed),
                Duration::from_secs(2),
                || {
                    let _ = ready.send(());
                },
            )
        })?;
        threads.push((Follower::Replica, t));
    }
    drop(ready_tx);
    for _ in &threads {
        ready_rx.recv_timeout(Duration::from_secs(30)).context("a follower did not start")?;
    }

    let child_pid = child.as_ref().and_then(|(c, _)| c.0.as_ref()).map(Child::id);
    let (cpu, ours, t) = (CpuTimes::now(), cpu_with(child_pid)?, Instant::now());
    match &producer {
        Some(p) => pace_producer(p, args, total)?,
        None => pace_writer(rt, &server.writer(), args, total, linger)?,
    }
    let ours = (cpu_with(child_pid)? - ours) / t.elapsed().as_secs_f64() / cores() * 100.0;
    let busy = cpu.and_then(CpuTimes::busy_percent_since).map(|b| (b, ours));
    done.store(true, Ordering::Relaxed);

    let mut outcomes = Vec::new();
    for (follower, t) in threads {
        let followed = t.join().map_err(|_| anyhow::anyhow!("a follower thread panicked"))??;
        outcomes.push(Outcome { follower, fsync: fsync.to_string(), expected: total, followed });
    }
    if let Some((c, out)) = child.take() {
        let followed = finish_follower(c, out)?;
        outcomes.insert(
            outcomes.iter().position(|o| o.follower == Follower::Replica).unwrap_or(outcomes.len()),
            Outcome { follower: Follower::CrossProcess, fsync: fsync.to_string(), expected: total, followed },
        );
    }
    let _ = stop_replica.send(true);
    if let Some(task) = replica {
        rt.block_on(task)??;
    }
    let appended = std::mem::take(&mut *appended.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(o) = outcomes.iter_mut().find(|o| o.follower == Follower::Replica) {
        o.followed.appended = appended;
    }
    if let Some(p) = producer {
        p.close(Some(Duration::from_secs(10)))?;
    }
    rt.block_on(server.shutdown())?;
    Ok((outcomes, busy))
}
