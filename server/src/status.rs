//! `modsynclog-client status`: per day, the record count and whether it is finished.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use modsynclog_core::store::day;
use modsynclog_core::store::io::StdVfs;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Local store folder (a replica's or a server's).
    #[arg(long, env = "MODSYNCLOG_DIR", required_unless_present = "server")]
    pub dir: Option<PathBuf>,
    /// A server to ask (native protocol; not available yet).
    #[arg(long)]
    pub server: Option<String>,
}

pub fn run(args: StatusArgs) -> Result<()> {
    let Some(dir) = args.dir else {
        bail!("status --server needs the native sync service, which is not available yet; use --dir");
    };
    if !dir.is_dir() {
        bail!("{}: no such store folder", dir.display());
    }
    println!("{:<10}  {:>12}  finished", "date", "records");
    for date in day::list_days(&StdVfs, &dir)? {
        let count = day::record_count(&StdVfs, &dir, date)?;
        let finished = if day::is_finished(&StdVfs, &dir, date) { "yes" } else { "no" };
        println!("{date}  {count:>12}  {finished}");
    }
    Ok(())
}
