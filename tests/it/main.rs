//! The integration tests: one binary, one module per behaviour, each
//! starting the real router in-process on `127.0.0.1:0` (with real
//! llama-server children or the fault-injecting emulator behind it) and
//! calling it through the published `ai_router_client::Client`.
//!
//! One binary links the whole stack once instead of once per behaviour.
//! Its tests run in parallel in one process, so nothing here may count
//! process-wide state: checks on llama-server children are scoped to the
//! test's own router ([`ai_router_testkit::procs::ChildWatch`]), and the
//! two tests that install the global tracing subscriber re-run themselves
//! in a process of their own ([`common::in_own_process`]).
//!
//! One module: `cargo test -p ai-router-testkit --test it pool_eviction::`.

// Helpers outside #[test] fns panic on broken set-up, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Tasks a test spawns end with the test; the spawn ban is for the service.
#![allow(clippy::disallowed_methods)]

mod common;
mod keyed;

mod access_budget;
mod access_http;
mod access_keys;
mod access_priority;
mod access_rate_limit;
mod access_tls;
mod admin;
mod admin_reload;
mod bad_input;
mod batch;
mod batch_backpressure;
mod batch_scheduling;
mod client_balancing;
mod clients;
mod dashboard_metrics;
mod embeddings;
mod emulator_bin;
mod envoy_roll;
mod executor;
mod generate_local;
mod generation_features;
mod health_reflection;
mod hosts;
mod http_door;
mod http_openai_sdk;
mod http_readme;
mod http_tracing;
mod metrics_exemplars;
mod openai_endpoint;
mod openrouter;
mod pool_eviction;
mod pool_failures;
mod pool_hang;
mod pool_preload_budget;
mod pool_races;
mod pool_single_flight;
mod pool_swap_stress;
mod shutdown;
mod stats_metrics;
mod tracing_collector_down;
mod tracing_otlp;
mod upstream_faults;
mod upstream_proxy;
mod upstream_resilience;
