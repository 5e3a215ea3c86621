//! Shared pieces of the benchmarks and of the `e2e` load harness: a direct
//! OpenAI-compatible streaming client (the baseline the router is compared
//! with), closed- and open-loop load runners that record into hdrhistogram,
//! process CPU time, a seeded PRNG, request builders and markdown tables;
//! and for the out-of-process `overhead` harness: server processes
//! ([`server_proc`]), another process's CPU and memory ([`procstat`]), a
//! thin HTTP client ([`thin_http`]) and the harness's arithmetic
//! ([`gateway_stats`]); the generated model of the heavier runs ([`models`]) and the sglang-router peer ([`sglang`]).

pub mod cpu;
pub mod direct;
pub mod floor_upstream;
pub mod gateway_stats;
pub mod load;
pub mod machine;
pub mod models;
pub mod procstat;
pub mod report;
pub mod req;
pub mod rng;
pub mod server_proc;
pub mod sglang;
pub mod thin_http;
