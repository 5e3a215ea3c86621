//! Compiles `airouter/v1/*.proto` with protox (pure Rust, so no system `protoc`
//! is needed on a fresh machine), writes the descriptor set that the server
//! serves through gRPC reflection, and generates serde impls from the same
//! descriptors with pbjson-build so the messages serialise as canonical proto3
//! JSON (the mapping grpcurl prints).
//!
//! `google.protobuf.*` is taken from `pbjson-types` in both generators:
//! prost-types has no serde impls, and a message whose `Duration` field cannot
//! be serialised could not derive its own.

use std::path::PathBuf;

use prost::Message;

/// Where the well-known types come from, for prost and pbjson alike.
const WELL_KNOWN: (&str, &str) = (".google.protobuf", "::pbjson_types");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["airouter/v1/router.proto", "airouter/v1/admin.proto"];
    println!("cargo:rerun-if-changed=airouter/v1");
    let fds = protox::compile(protos, ["."])?;
    let descriptor_set = fds.encode_to_vec();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("airouter_descriptor.bin"), &descriptor_set)?;
    tonic_prost_build::configure()
        // Without this, prost maps `.google.protobuf` to `::prost_types` itself
        // and refuses a second mapping; nothing is compiled for it either way,
        // the extern path below takes precedence.
        .compile_well_known_types(true)
        .extern_path(WELL_KNOWN.0, WELL_KNOWN.1)
        .compile_fds(fds)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_set)?
        .extern_path(WELL_KNOWN.0, WELL_KNOWN.1)
        .build(&[".airouter"])?;
    Ok(())
}
