//! Results: one [`Row`] per configuration, printed as a text table or as Markdown.
//!
//! Throughput is payload throughput: `MB/s` counts 10^6 bytes of record payload per
//! second, not the 10-byte headers and 12-byte index entries written with it, so the
//! figure means the same for the store and for the baseline. The summary under the
//! table computes the store/baseline ratios and checks the project's targets.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use modsynclog_core::Date;

/// Why a configuration ended.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// It wrote its record cap.
    Cap,
    /// Its time budget ran out first.
    Budget,
    /// A scan: the best of this many full passes.
    BestOf(u32),
}

#[derive(Debug, Clone)]
pub struct Row {
    pub part: &'static str,
    pub size: usize,
    pub durability: String,
    pub batch: Option<usize>,
    pub records: u64,
    pub elapsed: Duration,
    pub stop: Stop,
    /// Runs this row is the fastest of.
    pub best_of: u32,
    /// Non-idle share of all cores during the timed part (see [`CpuTimes`]).
    pub busy: Option<f64>,
}

impl Row {
    pub fn new(
        part: &'static str,
        size: usize,
        durability: String,
        batch: Option<usize>,
        records: u64,
        elapsed: Duration,
        stop: Stop,
    ) -> Row {
        Row { part, size, durability, batch, records, elapsed, stop, best_of: 1, busy: None }
    }

    pub fn with_busy(self, busy: Option<f64>) -> Row {
        Row { busy, ..self }
    }

    pub fn best_of(self, runs: u32) -> Row {
        Row { best_of: runs, ..self }
    }

    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn mb_per_sec(&self) -> f64 {
        self.records_per_sec() * self.size as f64 / 1e6
    }

    fn cells(&self) -> [String; 10] {
        [
            self.part.to_string(),
            size_label(self.size),
            self.durability.clone(),
            self.batch.map_or("-".into(), |b| b.to_string()),
            thousands(self.records),
            format!("{:.3}", self.elapsed.as_secs_f64()),
            thousands(self.records_per_sec().round() as u64),
            format!("{:.1}", self.mb_per_sec()),
            self.busy.map_or("?".into(), |b| format!("{b:.0}%")),
            match (self.stop, self.best_of) {
                (Stop::Cap, 1) => "record cap".into(),
                (Stop::Budget, 1) => "time budget".into(),
                (Stop::Cap, n) => format!("record cap, best of {n}"),
                (Stop::Budget, n) => format!("time budget, best of {n}"),
                (Stop::BestOf(n), _) => format!("best of {n} passes"),
            },
        ]
    }

    /// One line for stderr while the run goes on (a full run takes about a minute).
    pub fn progress(&self) -> String {
        let c = self.cells();
        format!(
            "  done: {} {} {} batch {}: {} records/s, {} MB/s, cpu busy {}",
            c[0], c[1], c[2], c[3], c[6], c[7], c[8]
        )
    }
}

const HEADERS: [&str; 10] =
    ["part", "record", "durability", "batch", "records", "seconds", "records/s", "MB/s", "cpu busy", "stopped by"];

/// Where and when the figures were taken.
#[derive(Debug, Clone)]
pub struct Machine {
    pub nproc: usize,
    pub today: Date,
    pub cpu: String,
    pub kernel: String,
    pub file_system: String,
    /// `/proc/loadavg` when the run started: other work on a 2-core machine shows up here.
    pub load: String,
}

impl Machine {
    /// Reads what it can; anything unreadable (not Linux) is shown as `?`.
    pub fn probe(dir: &Path) -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let cpu = read("/proc/cpuinfo")
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| "?".into());
        let kernel = read("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_else(|| "?".into());
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            today: Date::today_local(),
            cpu,
            kernel,
            file_system: file_system(dir).unwrap_or_else(|| "?".into()),
            load: load_average(),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "machine: {} cores ({}), Linux {}; scratch on {}; date {}; load average at start {}",
            self.nproc, self.cpu, self.kernel, self.file_system, self.today, self.load
        )
    }
}

/// The machine-wide CPU counters of `/proc/stat`, to tell how busy the whole machine was
/// during a timed run. The benchmark is one thread, so on 2 cores about 50% means it ran
/// alone; more means other work (a build, the kernel's writeback) shared the machine.
#[derive(Debug, Clone, Copy)]
pub struct CpuTimes {
    total: u64,
    idle: u64,
}

impl CpuTimes {
    pub fn now() -> Option<CpuTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        // cpu user nice system idle iowait irq softirq steal (guest time is inside user).
        let fields: Vec<u64> =
            stat.lines().next()?.split_whitespace().skip(1).take(8).filter_map(|f| f.parse().ok()).collect();
        (fields.len() == 8).then(|| CpuTimes { total: fields.iter().sum(), idle: fields[3] + fields[4] })
    }

    /// Percent of all cores' time since `self` that was not idle.
    pub fn busy_percent_since(self) -> Option<f64> {
        let now = CpuTimes::now()?;
        let total = now.total.saturating_sub(self.total);
        let idle = now.idle.saturating_sub(self.idle);
        (total > 0).then(|| 100.0 * total.saturating_sub(idle) as f64 / total as f64)
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The type and device of the mount holding `dir` (longest matching mount point), because
/// ext4, xfs and tmpfs give very different write figures.
fn file_system(dir: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && dir.starts_with(f[1])).then(|| (f[1].len(), format!("{} {} ({})", f[2], f[0], f[1])))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, desc)| desc)
}

fn size_label(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) { format!("{} KiB", size / 1024) } else { format!("{size} B") }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The plain-text report: the table, then ratios and targets.
pub fn text(machine: &Machine, rows: &[Row], load_after: &str) -> String {
    let cells: Vec<[String; 10]> = rows.iter().map(Row::cells).collect();
    let mut width = HEADERS.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    // Text columns read left-aligned, figures right-aligned.
    let numeric = [false, true, false, true, true, true, true, true, true, false];
    let line = |row: &[String]| {
        let mut s = String::new();
        for (i, c) in row.iter().enumerate() {
            let w = width[i];
            if numeric[i] {
                let _ = write!(s, "{c:>w$}  ");
            } else {
                let _ = write!(s, "{c:<w$}  ");
            }
        }
        s.trim_end().to_string()
    };
    let mut out = String::new();
    let _ = writeln!(out, "\n{}\n", machine.describe());
    let _ = writeln!(out, "{}", line(&HEADERS.map(String::from)));
    let _ = writeln!(out, "{}", width.map(|w| "-".repeat(w)).join("  "));
    for row in &cells {
        let _ = writeln!(out, "{}", line(row));
    }
    let _ = writeln!(
        out,
        "\nMB/s = 10^6 payload bytes per second; cpu busy = non-idle share of all cores during the timed part (about 50% on 2 cores = the benchmark alone). Load average at the end: {load_after}."
    );
    for s in summary(rows) {
        let _ = writeln!(out, "{s}");
    }
    out
}

/// The same report as Markdown for BENCHMARKS.md.
pub fn markdown(machine: &Machine, rows: &[Row], load_after: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<!-- modsynclog-bench store --markdown -->");
    let _ = writeln!(
        out,
        "Measured {}: {} cores ({}), Linux {}, scratch on {}; load average {} at the start, {load_after} at the end.\n",
        machine.today, machine.nproc, machine.cpu, machine.kernel, machine.file_system, machine.load
    );
    let _ = writeln!(out, "| {} |", HEADERS.join(" | "));
    let _ = writeln!(out, "|---|---:|---|---:|---:|---:|---:|---:|---:|---|");
    for row in rows {
        let _ = writeln!(out, "| {} |", row.cells().join(" | "));
    }
    let _ = writeln!(
        out,
        "\nMB/s = 10^6 payload bytes per second; cpu busy = non-idle share of all cores during the timed part (about 50% on 2 cores = the benchmark alone).\n"
    );
    for s in summary(rows) {
        // Target lines are already "  - ..." items: they nest under the "targets:" item.
        let _ = writeln!(out, "{}", if s.starts_with("  - ") { s } else { format!("- {s}") });
    }
    out
}

fn find<'a>(
    rows: &'a [Row],
    part: &str,
    size: usize,
    durability: Option<&str>,
    batch: Option<usize>,
) -> Option<&'a Row> {
    rows.iter().find(|r| {
        r.part == part
            && r.size == size
            && durability.is_none_or(|d| r.durability == d)
            && batch.is_none_or(|b| r.batch == Some(b))
    })
}

/// The fastest `never` append row of a size.
fn best_never(rows: &[Row], size: usize) -> Option<&Row> {
    rows.iter()
        .filter(|r| r.part == "append" && r.size == size && r.durability == "never")
        .max_by(|a, b| a.records_per_sec().total_cmp(&b.records_per_sec()))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "REACHED" } else { "MISSED" }
}

/// Ratio lines and the project's targets, for whatever rows this run produced.
fn summary(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    let mut sizes: Vec<usize> = rows.iter().map(|r| r.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut ratios = Vec::new();
    for &size in &sizes {
        if let (Some(ours), Some(base)) =
            (find(rows, "append", size, Some("never"), Some(1000)), find(rows, "baseline", size, None, None))
        {
            let ratio = ours.records_per_sec() / base.records_per_sec();
            out.push(format!(
                "ours (never, batch 1000) / Go-style baseline, {}: {} / {} records/s = {ratio:.1}x",
                size_label(size),
                thousands(ours.records_per_sec() as u64),
                thousands(base.records_per_sec() as u64)
            ));
            ratios.push((size, ratio));
        }
        if let Some(ceiling) = find(rows, "ceiling", size, None, None) {
            if let Some(base) = find(rows, "baseline", size, None, None) {
                out.push(format!(
                    "page-cache ceiling (pre-encoded, batch {}) / baseline, {}: {:.1}x (no batching writer can beat this)",
                    ceiling.batch.unwrap_or(0),
                    size_label(size),
                    ceiling.records_per_sec() / base.records_per_sec()
                ));
            }
            if let Some(ours) = find(rows, "append", size, Some("never"), ceiling.batch) {
                out.push(format!(
                    "ours (never, batch {}) / page-cache ceiling, {}: {:.0}% ({:.1} vs {:.1} MB/s)",
                    ceiling.batch.unwrap_or(0),
                    size_label(size),
                    100.0 * ours.records_per_sec() / ceiling.records_per_sec(),
                    ours.mb_per_sec(),
                    ceiling.mb_per_sec()
                ));
            }
        }
    }
    out.push("targets:".into());
    if let Some(r) = best_never(rows, 100) {
        let v = r.records_per_sec();
        out.push(format!(
            "  - append 100 B, never >= 3,000,000 records/s: {} (batch {}) {}",
            thousands(v as u64),
            r.batch.unwrap_or(0),
            verdict(v >= 3e6)
        ));
    }
    if let Some(r) = best_never(rows, 4096) {
        let v = r.mb_per_sec();
        out.push(format!(
            "  - append 4 KiB, never >= 1 GB/s: {:.0} MB/s (batch {}) {}",
            v,
            r.batch.unwrap_or(0),
            verdict(v >= 1000.0)
        ));
    }
    for (size, ratio) in ratios {
        out.push(format!(
            "  - >= 10x the per-record baseline, {}: {ratio:.1}x {}",
            size_label(size),
            verdict(ratio >= 10.0)
        ));
    }
    if let Some(r) = find(rows, "scan", 100, None, None) {
        let v = r.records_per_sec();
        out.push(format!("  - scan 100 B >= 5,000,000 records/s: {} {}", thousands(v as u64), verdict(v >= 5e6)));
    }
    out
}
