//! `modsynclog-bench-server`: the server benchmark on its own, until `modsynclog-bench
//! server` is wired into main.rs.

#[path = "../server_bench.rs"]
mod server_bench;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Server, SDK and replica throughput and latency over loopback")]
struct Cli {
    #[command(flatten)]
    args: server_bench::ServerBenchArgs,
}

fn main() -> anyhow::Result<()> {
    server_bench::run(Cli::parse().args)
}
