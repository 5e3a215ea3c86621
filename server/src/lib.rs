//! ai-router: a gRPC service for fast, predictable LLM text generation.
//! `http` is its second door, the OpenAI-compatible HTTP API, over the same
//! engine.
//!
//! `domain` holds the vocabulary every layer speaks (no wire types, no
//! dependencies). The modules follow the data path (README "Architecture"):
//! `api` (gRPC, validation, status mapping) → `routing` (model id → route)
//! → `executor` (admission) → `backend` (`pool` for local llama-server
//! children, remote endpoints) → `upstream` (the one OpenAI-compatible
//! client) → `stats` / `telemetry`. `engine` drives one job along that path;
//! `server` wires it all together and owns the shutdown order.

pub mod access;
pub mod api;
pub mod backend;
pub mod config;
pub mod domain;
pub mod engine;
pub mod error;
pub mod exec_path;
pub mod executor;
pub mod http;
pub mod lifecycle;
pub mod metrics;
pub mod pool;
pub mod reload;
pub mod routing;
mod server;
pub mod stats;
pub mod telemetry;
pub mod tls;
pub mod upstream;

pub use server::{
    LIVENESS_SERVICE, Listeners, StartError, build_engine, build_reloadable_engine, run,
    run_reloadable, serve, serve_on,
};
