//! ai-router: a gRPC service for fast, predictable LLM text generation.
//!
//! `domain` holds the vocabulary every layer speaks (no wire types, no
//! dependencies). The modules follow the data path (README "Architecture"):
//! `api` (gRPC, validation, status mapping) → `routing` (model id → route)
//! → `executor` (admission) → `backend` (`pool` for local llama-server
//! children, remote endpoints) → `upstream` (the one OpenAI-compatible
//! client) → `stats` / `telemetry`. `engine` drives one job along that path;
//! `server` wires it all together and owns the shutdown order.

pub mod api;
pub mod backend;
pub mod config;
pub mod domain;
pub mod engine;
pub mod error;
pub mod exec_path;
pub mod executor;
pub mod lifecycle;
pub mod metrics;
pub mod pool;
pub mod routing;
mod server;
pub mod stats;
pub mod telemetry;
pub mod upstream;

pub use server::{LIVENESS_SERVICE, StartError, build_engine, run, serve};
