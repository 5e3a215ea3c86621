//! Compiles `airouter/v1/*.proto` with protox (pure Rust, so no system `protoc`
//! is needed on a fresh machine) and writes the descriptor set that the server
//! serves through gRPC reflection.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["airouter/v1/router.proto"];
    println!("cargo:rerun-if-changed=airouter/v1");
    let fds = protox::compile(protos, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("airouter_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
