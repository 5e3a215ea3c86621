//! Generated types and service stubs for `airouter.v1`, the contract every
//! client language builds on. See `proto/airouter/v1/router.proto`.

#![allow(clippy::all, missing_docs)]

/// Package `airouter.v1`.
pub mod v1 {
    tonic::include_proto!("airouter.v1");
}

/// Encoded `FileDescriptorSet` of the contract, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("airouter_descriptor");
