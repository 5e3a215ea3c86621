//! The `airouter.v1` contract every client language builds on (see
//! `proto/airouter/v1/router.proto`), and the few helpers the Rust server and
//! client must agree on, so neither keeps its own copy:
//! - [`v1`]: generated messages and tonic stubs; every message also
//!   implements serde's `Serialize`/`Deserialize` with the canonical proto3
//!   JSON mapping (lowerCamelCase keys, 64-bit integers as strings, enums by
//!   name, durations as `"1.500s"`, fields at their default omitted), the same
//!   JSON grpcurl prints;
//! - [`status`]: gRPC code names and error-chain text;
//! - [`FILE_DESCRIPTOR_SET`]: the descriptors gRPC reflection serves.

pub mod status;

/// Package `airouter.v1`: messages, enums, and the `Router` client and server.
// The proto comments are prose, not rustdoc: "[[endpoints]]" is a TOML table.
#[allow(clippy::all, missing_docs, rustdoc::broken_intra_doc_links)]
pub mod v1 {
    tonic::include_proto!("airouter.v1");
    include!(concat!(env!("OUT_DIR"), "/airouter.v1.serde.rs"));

    /// `google.protobuf.Duration` as the messages hold it, here so callers
    /// find every type a message holds in one module. It comes from
    /// `pbjson-types` rather than `prost-types` because it must serialise as
    /// proto3 JSON too; it converts from `std::time::Duration` with `From`.
    pub use pbjson_types::Duration;
}

/// Encoded `FileDescriptorSet` of the contract, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("airouter_descriptor");
