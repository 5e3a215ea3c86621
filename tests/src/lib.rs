//! Test kit for ai-router: everything the integration tests and benchmarks
//! need to exercise the real service on loopback.
//!
//! - [`gguf`]: tiny random-weight llama GGUF models a real llama-server loads in milliseconds.
//! - [`emulator`]: a fault-injecting OpenAI / OpenRouter upstream.
//! - [`llama`]: finds the llama-server binary.
//! - [`router`]: starts the router in-process on 127.0.0.1:0, connects the
//!   published client to it, and stops it.
//! - [`python`]: runs the official `openai` Python package against the HTTP door.
//! - [`procs`]: reads /proc to count child processes and zombies, scoped to
//!   one router's children ([`procs::ChildWatch`]) so tests sharing a process
//!   do not count each other's.
//! - [`models`]: temporary model directories.
//! - [`netns`], [`netns_host`]: network namespaces joined by veth pairs, and
//!   upstream hosts (the `emulator` binary, llama-server) running in them.
//! - [`prometheus`]: a real Prometheus with exemplar storage scraping a router.
//! - [`swap`]: the seeded model-swap workload (more models than the pool keeps
//!   loaded), its runner and a sampler of live llama-server processes.
//!
//! The service bans bare `tokio::spawn` (clippy.toml): its tasks must belong
//! to a tracker so shutdown can wait for them. Test servers here are owned
//! by the test that starts them and end with it (each keeps its handle or
//! shutdown signal), so the kit is exempt.
#![allow(clippy::disallowed_methods)]

pub mod certs;
pub mod emulator;
pub mod envoy;
pub mod external;
pub mod gguf;
pub mod llama;
pub mod models;
pub mod netns;
pub mod netns_host;
pub mod otlp;
pub mod procs;
pub mod prometheus;
pub mod python;
pub mod router;
pub mod router_process;
pub mod swap;
