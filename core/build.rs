//! Compiles the `.proto` files of `../proto` with protox (no system `protoc` needed) and
//! generates the prost messages and tonic clients and servers.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto");
    let files = ["grpc_proto_log.proto", "modsynclog/v1/ingest.proto", "modsynclog/v1/sync.proto"];
    let fds = protox::compile(files, ["../proto"])?;
    tonic_prost_build::configure().bytes(".").compile_fds(fds)?;
    Ok(())
}
