//! `modsynclog-client`: read, check and (later) replicate a modsynclog store.

use clap::{Parser, Subcommand};
use modsynclog_server::{logging, read, verify};

#[derive(Debug, Parser)]
#[command(version, about = "Read, verify and replicate modsynclog stores", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print records from a store folder, from a date and id onwards.
    Read(read::ReadArgs),
    /// Check every day of a store folder; exit non-zero at the first damage.
    Verify(verify::VerifyArgs),
}

fn main() -> std::process::ExitCode {
    logging::init();
    let result = match Cli::parse().command {
        Command::Read(args) => read::run(args),
        Command::Verify(args) => verify::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
