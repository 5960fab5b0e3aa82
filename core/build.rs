//! Compiles the `.proto` files of `../proto` with protox (no system `protoc` needed) and
//! generates the prost messages and tonic clients, and the tonic servers only with the
//! `server` feature (the bindings, built with `sdk` and `reader`, need no server stubs).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto");
    let server = std::env::var_os("CARGO_FEATURE_SERVER").is_some();
    let files = ["grpc_proto_log.proto", "modsynclog/v1/ingest.proto", "modsynclog/v1/sync.proto"];
    let fds = protox::compile(files, ["../proto"])?;
    tonic_prost_build::configure().bytes(".").build_server(server).compile_fds(fds)?;
    Ok(())
}
