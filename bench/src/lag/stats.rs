//! What the followers saw and how it is reported: latency distributions ([`Dist`]), each
//! follower's samples ([`Followed`], [`Outcome`]), the lines printed on stderr after each
//! run, the Markdown table printed on stdout at the end, and the `--dump` CSV files.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use clap::ValueEnum;

use super::args::Follower;

/// A distribution of latencies, in ms.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dist {
    pub(super) n: usize,
    pub(super) p50: f64,
    pub(super) p90: f64,
    pub(super) p99: f64,
    pub(super) p999: f64,
    pub(super) max: f64,
}

impl Dist {
    /// Nearest-rank quantiles of nanosecond samples.
    pub(super) fn of(mut ns: Vec<u64>) -> Option<Dist> {
        if ns.is_empty() {
            return None;
        }
        ns.sort_unstable();
        let n = ns.len();
        let q = |p: f64| ns[((n as f64 * p).ceil() as usize).clamp(1, n) - 1] as f64 / 1e6;
        Some(Dist { n, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: q(1.0) })
    }

    pub(super) fn line(&self) -> String {
        format!(
            "p50 {:.3} ms, p90 {:.3}, p99 {:.3}, p99.9 {:.3}, max {:.3} (n={})",
            self.p50, self.p90, self.p99, self.p999, self.max, self.n
        )
    }
}

/// Records read after one wake-up of the in-process follower.
#[derive(Debug, Clone, Copy)]
pub(super) struct Group {
    pub(super) records: usize,
    /// Latency of the group's newest record (the least lingered one).
    pub(super) newest: u64,
    /// From the wake-up to the first record decoded.
    pub(super) wake_to_read: u64,
    /// Commit times of the group's oldest and newest records.
    pub(super) first_sent: u64,
    pub(super) last_sent: u64,
}

/// What a follower saw: `(commit ns, latency ns)` per record, in id order.
#[derive(Default)]
pub(super) struct Followed {
    pub(super) samples: Vec<(u64, u64)>,
    pub(super) groups: Vec<Group>,
    /// Wake-ups that found nothing new (in-process only).
    pub(super) empty_wakes: u64,
    /// Replica only: when its store returned from each append, `(ns, next_id)`.
    pub(super) appended: Vec<(u64, u64)>,
}

/// One follower's part of one run.
pub(super) struct Outcome {
    pub(super) follower: Follower,
    pub(super) fsync: String,
    pub(super) expected: u64,
    pub(super) followed: Followed,
}

/// The stderr lines of one run: each follower's latencies, then when the replica's
/// appends returned, against the commit and against the in-process follower.
pub(super) fn print_run(outcomes: &[Outcome]) {
    for o in outcomes {
        print_outcome(o);
    }
    let Some(replica) = outcomes.iter().find(|o| o.follower == Follower::Replica) else { return };
    let appended = &replica.followed.appended;
    if appended.is_empty() {
        return;
    }
    // Sample i is record i + 1 for every follower (they all start at id 1).
    let mut at = Vec::with_capacity(replica.followed.samples.len());
    let mut k = 0;
    for (i, &(sent, _)) in replica.followed.samples.iter().enumerate() {
        let id = i as u64 + 1;
        while k < appended.len() && appended[k].1 <= id {
            k += 1;
        }
        match appended.get(k) {
            Some(&(t, _)) => at.push((sent, t)),
            None => break,
        }
    }
    let records = appended.last().map_or(0, |a| a.1) - appended[0].1;
    eprintln!(
        "    replica appends: {} ({:.1} records each)",
        appended.len(),
        records as f64 / appended.len().max(2).saturating_sub(1) as f64
    );
    if let Some(d) = Dist::of(at.iter().map(|&(sent, t)| t.saturating_sub(sent)).collect()) {
        eprintln!("    commit -> replica's append returned (its fsyncs done): {}", d.line());
    }
    if let Some(inp) = outcomes.iter().find(|o| o.follower == Follower::InProcess) {
        let d = Dist::of(
            at.iter().zip(&inp.followed.samples).map(|(&(_, t), &(sent, lat))| t.saturating_sub(sent + lat)).collect(),
        );
        if let Some(d) = d {
            eprintln!("    readable on the server (in-process) -> replica's append returned: {}", d.line());
        }
    }
}

fn print_outcome(o: &Outcome) {
    let f = &o.followed;
    match Dist::of(f.samples.iter().map(|s| s.1).collect()) {
        Some(d) => eprintln!("  {:<38} {}", o.follower.label(), d.line()),
        None => eprintln!("  {:<38} no samples", o.follower.label()),
    }
    if f.samples.len() as u64 != o.expected {
        eprintln!("    read {} of {} records", f.samples.len(), o.expected);
    }
    if !f.groups.is_empty() {
        let records: usize = f.groups.iter().map(|g| g.records).sum();
        eprintln!(
            "    {} wake-ups with records ({:.1} records each), {} found nothing new",
            f.groups.len(),
            records as f64 / f.groups.len() as f64,
            f.empty_wakes
        );
        if let Some(d) = Dist::of(f.groups.iter().map(|g| g.last_sent - g.first_sent).collect()) {
            eprintln!("    commit-time spread of a wake-up's records (about the linger): {}", d.line());
        }
        if let Some(d) = Dist::of(f.groups.iter().map(|g| g.newest).collect()) {
            eprintln!("    newest record of each wake-up: {}", d.line());
        }
        if let Some(d) = Dist::of(f.groups.iter().map(|g| g.wake_to_read).collect()) {
            eprintln!("    wake-up -> first record decoded: {}", d.line());
        }
    }
}

/// The Markdown table on stdout: one row per run and follower, against the target.
pub(super) fn print_table(outcomes: &[Outcome]) {
    println!("| server fsync | follower | records | p50 | p90 | p99 | p99.9 | max | p99 target |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---|");
    for o in outcomes {
        let d = Dist::of(o.followed.samples.iter().map(|s| s.1).collect());
        let read = format!("{} of {}", o.followed.samples.len(), o.expected);
        let target = match (o.follower.target_p99(), d) {
            (Some(t), Some(d)) => format!("≤ {t} ms: {}", if d.p99 <= t { "**held**" } else { "**missed**" }),
            (Some(t), None) => format!("≤ {t} ms: no samples"),
            (None, _) => "-".into(),
        };
        match d {
            Some(d) => println!(
                "| {} | {} | {read} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {target} |",
                o.fsync,
                o.follower.label(),
                d.p50,
                d.p90,
                d.p99,
                d.p999,
                d.max
            ),
            None => println!("| {} | {} | {read} | - | - | - | - | - | {target} |", o.fsync, o.follower.label()),
        }
    }
}

/// `--dump`: every follower's samples to `path` (`follower,fsync,commit_ns,latency_ns`),
/// and when the replica's store returned from each append beside it (`.appends.csv`).
pub(super) fn write_dump(path: &Path, outcomes: &[Outcome]) -> Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path).with_context(|| format!("{}", path.display()))?);
    writeln!(out, "follower,fsync,commit_ns,latency_ns")?;
    for o in outcomes {
        let name = o.follower.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
        for (sent, lat) in &o.followed.samples {
            writeln!(out, "{name},{},{sent},{lat}", o.fsync)?;
        }
    }
    out.flush()?;
    // And when the replica's store returned from each append.
    let appends = path.with_extension("appends.csv");
    let mut out = BufWriter::new(std::fs::File::create(&appends).with_context(|| format!("{}", appends.display()))?);
    writeln!(out, "fsync,ns,next_id")?;
    for o in outcomes {
        for (ns, next_id) in &o.followed.appended {
            writeln!(out, "{},{ns},{next_id}", o.fsync)?;
        }
    }
    out.flush()?;
    eprintln!("samples written to {} and its .appends.csv", path.display());
    Ok(())
}
