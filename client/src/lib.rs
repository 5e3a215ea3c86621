//! Rust client for the ai-router gRPC service (`airouter.v1.Router`).
//!
//! The crate wraps the generated tonic stub so callers get one error type,
//! optional per-call deadlines and a request builder instead of filling in
//! nested protobuf options by hand. It holds no terminal code: the
//! `ai-router-cli` binary (its own module tree under `src/bin/`) owns
//! argument parsing, tables, progress and JSON output. The messages
//! themselves serialise with serde as canonical proto3 JSON (see
//! [`proto`]), so a program that wants JSON needs nothing from here.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ai_router_client::ClientError> {
//! use ai_router_client::{Client, GenerateRequestBuilder};
//!
//! let client = Client::connect("127.0.0.1:50051").await?;
//! let req = GenerateRequestBuilder::new("tiny").prompt("Hello").max_tokens(16).build();
//! let resp = client.generate(req).await?;
//! println!("{}", resp.text);
//! # Ok(())
//! # }
//! ```

mod admin;
mod balanced;
mod client;
mod error;
pub mod keys;
mod request;
mod tls;

/// gRPC code names and error-chain text, shared with the server.
pub use ai_router_proto::status::{code_name, error_chain};
/// The generated protobuf messages and stubs, re-exported so callers need not
/// depend on `ai-router-proto` themselves (and cannot pick a mismatched one).
pub use ai_router_proto::v1 as proto;

pub use balanced::{BalanceOptions, Resolver, parse_dns_target};
pub use client::{Client, DEFAULT_ADDR, DEFAULT_CONNECT_TIMEOUT};
pub use error::ClientError;
pub use request::GenerateRequestBuilder;
pub use tls::TlsOptions;
