//! `modsynclog-client`: read, check, replicate and feed a modsynclog store.

use clap::{Parser, Subcommand};
use modsynclog_server::{kafka_export, logging, read, send, status, sync, verify};

#[derive(Debug, Parser)]
#[command(version, about = "Read, verify, replicate and export modsynclog stores", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as `text` or `json` (one object per line, for log shippers).
    #[arg(long, global = true, env = "MODSYNCLOG_LOG_FORMAT", value_enum, default_value_t)]
    log_format: logging::LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print records from a store folder, from a date and id onwards.
    Read(read::ReadArgs),
    /// Check every day of a store folder; exit non-zero at the first damage.
    Verify(verify::VerifyArgs),
    /// Replicate a server's store into a local folder, until stopped (SIGINT/SIGTERM).
    Sync(sync::SyncArgs),
    /// Send each line of a file or stdin as a record.
    Send(send::SendArgs),
    /// Show each day's record count and finished flag.
    Status(status::StatusArgs),
    /// Export a store folder into a Kafka topic, following it live, exactly once across
    /// restarts, until stopped (SIGINT/SIGTERM).
    KafkaExport(kafka_export::KafkaExportArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let result = match cli.command {
        Command::Read(args) => read::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Send(args) => send::run(args),
        Command::Status(args) => status::run(args),
        Command::KafkaExport(args) => kafka_export::run(args),
        Command::Sync(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(sync::run(args))),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
