//! `modsynclog-agent`: ships growing log files into a modsynclog server, exactly once,
//! through rotations and restarts.

use clap::Parser;
use modsynclog_server::agent_cli::{self, AgentArgs};
use modsynclog_server::agent_run;
use modsynclog_server::logging;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "The modsynclog log agent: tails files (globs, rotation, multi-line, rate limits) and ships each \
             record to a modsynclog server, exactly once across restarts of either side",
    long_about = None
)]
struct Cli {
    #[command(flatten)]
    args: AgentArgs,
    /// Log lines as `text` or `json` (one object per line, for log shippers).
    #[arg(long, env = "MODSYNCLOG_LOG_FORMAT", value_enum, default_value_t)]
    log_format: logging::LogFormat,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let result = cli.args.settle().and_then(|settled| {
        if settled.dry_run {
            return agent_cli::dry_run(&settled);
        }
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(agent_run::run(settled))
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
