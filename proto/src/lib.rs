//! Generated types and service stubs for `airouter.v1`, the contract every
//! client language builds on (see `proto/airouter/v1/router.proto`), and the
//! gRPC code names and error-chain text ([`status`]) that the Rust server and
//! client share, so neither keeps its own copy.

pub mod status;

/// Package `airouter.v1`.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("airouter.v1");
}

/// Encoded `FileDescriptorSet` of the contract, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("airouter_descriptor");
