//! `modsynclog-client verify`: check every day of a store folder without changing it.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use modsynclog_core::store::io::StdVfs;
use modsynclog_core::store::verify::verify_store;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Store folder to check (the one holding the YYYYMMDD day folders).
    #[arg(long, env = "MODSYNCLOG_DIR")]
    pub dir: PathBuf,
}

/// Prints one line per day; fails naming the day and id of the first problem.
pub fn run(args: VerifyArgs) -> Result<()> {
    if !args.dir.is_dir() {
        bail!("{}: no such store folder", args.dir.display());
    }
    let reports = verify_store(&StdVfs, &args.dir)?;
    let mut first_problem = None;
    for r in &reports {
        let state = if r.finished { "finished" } else { "open" };
        match &r.problem {
            None => println!("{}  {:>10} records  {state}  ok", r.date, r.count),
            Some(p) => {
                let at = p.id.map(|id| format!(" at id {id}")).unwrap_or_default();
                println!("{}  {:>10} records  {state}  DAMAGED{at}: {}", r.date, r.count, p.what);
                first_problem.get_or_insert_with(|| format!("day {}{at}: {}", r.date, p.what));
            }
        }
    }
    if reports.is_empty() {
        println!("no day folders in {}", args.dir.display());
    }
    match first_problem {
        Some(p) => bail!("verify failed: {p}"),
        None => Ok(()),
    }
}
