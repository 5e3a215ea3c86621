//! End-to-end load harness: the router served in-process on loopback,
//! measured against calling the same upstream directly, in the same run.
//!
//! ```sh
//! cargo run --release -p ai-router-benches --bin e2e -- all
//! cargo run --release -p ai-router-benches --bin e2e -- overhead warm
//! ```
//!
//! Scenarios: `overhead`, `http_door`, `warm`, `cold`, `hit_ratio`, `batch`, `memory`,
//! `stats_under_load`, `overload`, `hint`, `tracing`, or `all`. Each prints
//! a markdown table. Every scenario is bounded in request count and in time;
//! nothing here asserts on timings.
//!
//! `tracing` installs the process-wide tracing subscriber (with the OTLP
//! exporter), which cannot be removed again, so it always runs last,
//! whatever the order on the command line.
//!
//! Load generators here spawn their own short-lived tasks and await them
//! before a scenario ends, so the service's ban on bare `tokio::spawn`
//! (clippy.toml) does not apply.
#![allow(clippy::disallowed_methods)]

mod batch;
mod cold;
mod common;
mod hint;
mod hit_ratio;
mod http_door;
mod memory;
mod overhead;
mod overload;
mod stats_under_load;
mod tracing_export;
mod warm;

use std::time::{Duration, Instant};

use anyhow::bail;

const SCENARIOS: [&str; 11] = [
    "overhead",
    "http_door",
    "warm",
    "cold",
    "hit_ratio",
    "batch",
    "memory",
    "stats_under_load",
    "overload",
    "hint",
    "tracing",
];

/// A scenario that runs longer than this is abandoned with an error.
const SCENARIO_TIME_LIMIT: Duration = Duration::from_secs(240);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut chosen: Vec<&str> = Vec::new();
    for arg in &args {
        match arg.as_str() {
            "all" => chosen.extend(SCENARIOS),
            "-h" | "--help" => {
                println!("usage: e2e <all | {}>...", SCENARIOS.join(" | "));
                return Ok(());
            }
            s if SCENARIOS.contains(&s) => chosen.push(s),
            other => bail!(
                "unknown scenario `{other}`; choose from all, {}",
                SCENARIOS.join(", ")
            ),
        }
    }
    if chosen.is_empty() {
        bail!("name a scenario: all, {}", SCENARIOS.join(", "));
    }
    // `tracing` leaves its subscriber installed: run it once, after the rest.
    if chosen.contains(&"tracing") {
        chosen.retain(|s| *s != "tracing");
        chosen.push("tracing");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        common::print_machine()?;
        let started = Instant::now();
        for scenario in chosen {
            let t = Instant::now();
            let work = async {
                match scenario {
                    "overhead" => overhead::run().await,
                    "http_door" => http_door::run().await,
                    "warm" => warm::run().await,
                    "cold" => cold::run().await,
                    "hit_ratio" => hit_ratio::run().await,
                    "batch" => batch::run().await,
                    "memory" => memory::run().await,
                    "stats_under_load" => stats_under_load::run().await,
                    "overload" => overload::run().await,
                    "hint" => hint::run().await,
                    "tracing" => tracing_export::run().await,
                    _ => bail!("unknown scenario {scenario}"),
                }
            };
            match tokio::time::timeout(SCENARIO_TIME_LIMIT, work).await {
                Ok(result) => result?,
                Err(_) => bail!("scenario {scenario} ran over {SCENARIO_TIME_LIMIT:?}"),
            }
            eprintln!("[e2e] {scenario} took {:.1} s", t.elapsed().as_secs_f64());
        }
        eprintln!("[e2e] total {:.1} s", started.elapsed().as_secs_f64());
        Ok(())
    })
}
