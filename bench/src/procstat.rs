//! What `/proc` says about a process: resident memory and CPU time.

use anyhow::{Context, Result};

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
}

/// CPU seconds (user + system, all threads) used so far by `pid`, or by this process.
pub fn cpu_secs(pid: Option<u32>) -> Result<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(&path)?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').context("/proc stat format")? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        fields.get(11).context("utime")?.parse::<u64>()? + fields.get(12).context("stime")?.parse::<u64>()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Ok(ticks as f64 / if hz > 0 { hz as f64 } else { 100.0 })
}

/// CPU seconds of this process plus, when given, another one (a server process).
pub fn cpu_with(pid: Option<u32>) -> Result<f64> {
    Ok(cpu_secs(None)? + pid.map(|p| cpu_secs(Some(p))).transpose()?.unwrap_or(0.0))
}
