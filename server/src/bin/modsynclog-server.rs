//! `modsynclog-server`: the master log. Receives records over gRPC, appends them to the
//! store and streams the store to replicas.

use clap::Parser;
use modsynclog_server::config::ServerArgs;
use modsynclog_server::{logging, serve};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "The modsynclog master log: gRPC ingest (legacy grpc_proto_log.Log and modsynclog.v1) \
             and the legacy sync socket for replicas",
    long_about = None
)]
struct Cli {
    #[command(flatten)]
    args: ServerArgs,
}

fn main() -> std::process::ExitCode {
    let result = Cli::parse().args.settle().and_then(|settings| {
        logging::init(settings.log_format);
        tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve::run(settings))
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
