//! `modsynclog-client status`: per day, the record count and whether it is finished.
//!
//! `--dir` alone reads a local store folder (a replica's or a server's). `--server` asks a
//! server's native sync service; with `--dir` too, each day shows both sides and the
//! replica's lag in records. `--metrics` reads a server's metrics endpoint and shows its
//! Kafka imports (per partition: stored and committed offsets, high watermark, lag) and
//! exports (last record exported, lag); see [`crate::status_kafka`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use modsynclog_core::Date;
use modsynclog_core::replica::{self, DayState};
use modsynclog_core::store::day;
use modsynclog_core::store::io::StdVfs;

use crate::client_auth::ClientAuthArgs;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Local store folder (a replica's or a server's).
    #[arg(long, env = "MODSYNCLOG_DIR", required_unless_present_any = ["server", "metrics"])]
    pub dir: Option<PathBuf>,
    /// A server to ask: its gRPC port as HOST:PORT or https://HOST:PORT (native sync service).
    #[arg(long)]
    pub server: Option<String>,
    /// A server's metrics endpoint, HOST:PORT (its --metrics-addr): show its Kafka imports
    /// and exports.
    #[arg(long)]
    pub metrics: Option<String>,
    /// Token and TLS (read scope).
    #[command(flatten)]
    pub auth: ClientAuthArgs,
}

pub fn run(args: StatusArgs) -> Result<()> {
    let local = match &args.dir {
        Some(dir) => Some(local_days(dir)?),
        None => None,
    };
    let mut text = match (&args.server, &local) {
        (None, None) => String::new(),
        (None, Some(local)) => local_table(local),
        (Some(server), _) => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let remote = rt
                .block_on(replica::server_status(server, args.auth.token()?.as_deref(), &args.auth.tls()))
                .with_context(|| format!("status of {server}"))?;
            server_table(&remote, local.as_deref())
        }
    };
    if let Some(addr) = &args.metrics {
        let metrics = crate::status_kafka::scrape(addr, args.auth.token()?.as_deref())?;
        text.push_str(&crate::status_kafka::tables(&metrics));
    }
    print!("{text}");
    Ok(())
}

fn local_days(dir: &Path) -> Result<Vec<DayState>> {
    if !dir.is_dir() {
        bail!("{}: no such store folder", dir.display());
    }
    let mut out = Vec::new();
    for date in day::list_days(&StdVfs, dir)? {
        let count = day::record_count(&StdVfs, dir, date)?;
        out.push(DayState { date, count, finished: day::is_finished(&StdVfs, dir, date) });
    }
    Ok(out)
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The table of one store folder.
fn local_table(days: &[DayState]) -> String {
    let mut s = format!("{:<10}  {:>12}  finished\n", "date", "records");
    for d in days {
        let _ = writeln!(s, "{}  {:>12}  {}", d.date, d.count, yes_no(d.finished));
    }
    s
}

/// The server's days, and beside them the local ones and the lag when a folder is given.
fn server_table(remote: &[DayState], local: Option<&[DayState]>) -> String {
    let Some(local) = local else {
        let mut s = format!("{:<10}  {:>12}  {:>15}\n", "date", "server", "server finished");
        for d in remote {
            let _ = writeln!(s, "{}  {:>12}  {:>15}", d.date, d.count, yes_no(d.finished));
        }
        return s;
    };
    let mut rows: BTreeMap<Date, (Option<&DayState>, Option<&DayState>)> = BTreeMap::new();
    for d in remote {
        rows.entry(d.date).or_default().0 = Some(d);
    }
    for d in local {
        rows.entry(d.date).or_default().1 = Some(d);
    }
    let mut s = format!(
        "{:<10}  {:>12}  {:>15}  {:>12}  {:>14}  {:>10}\n",
        "date", "server", "server finished", "local", "local finished", "lag"
    );
    let mut total = 0u64;
    for (date, (r, l)) in rows {
        let count = |d: Option<&DayState>| d.map_or("-".to_string(), |d| d.count.to_string());
        let fin = |d: Option<&DayState>| d.map_or("-", |d| yes_no(d.finished));
        let lag = r.map(|r| r.count.saturating_sub(l.map_or(0, |l| l.count)));
        total += lag.unwrap_or(0);
        let _ = writeln!(
            s,
            "{date}  {:>12}  {:>15}  {:>12}  {:>14}  {:>10}",
            count(r),
            fin(r),
            count(l),
            fin(l),
            lag.map_or("-".to_string(), |n| n.to_string())
        );
    }
    let _ = writeln!(s, "lag: {total} records");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str, count: u64, finished: bool) -> DayState {
        DayState { date: Date::parse(date).unwrap(), count, finished }
    }

    #[test]
    fn the_table_shows_both_sides_and_the_lag() {
        let remote = [day("2026-11-21", 10, true), day("2026-11-22", 7, false)];
        let local = [day("2026-11-20", 3, true), day("2026-11-21", 10, true), day("2026-11-22", 4, false)];
        let t = server_table(&remote, Some(&local));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert!(lines[1].starts_with("2026-11-20") && lines[1].contains(" - ") && lines[1].ends_with('-'), "{t}");
        assert!(lines[2].split_whitespace().eq(["2026-11-21", "10", "yes", "10", "yes", "0"]), "{t}");
        assert!(lines[3].split_whitespace().eq(["2026-11-22", "7", "no", "4", "no", "3"]), "{t}");
        assert_eq!(lines[4], "lag: 3 records");
        let t = server_table(&remote, None);
        assert!(t.lines().nth(2).unwrap().split_whitespace().eq(["2026-11-22", "7", "no"]), "{t}");
    }
}
