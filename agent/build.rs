//! Compiles the part of etcd's v3 API the config centre calls (`proto/etcd`) with protox,
//! like the core's protos: no system `protoc` needed. Client stubs only.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["etcd/rpc.proto"], ["proto"])?;
    tonic_prost_build::configure().build_server(false).compile_fds(fds)?;
    Ok(())
}
