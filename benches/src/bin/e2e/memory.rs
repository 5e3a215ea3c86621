//! `memory`: RSS of the process over 2 × 10,000 requests through the router
//! (emulator upstream, 16 SSE tokens, concurrency 8) after a 1,000-request
//! warm-up. RSS comes from the `Stats` RPC (`rss_bytes`); the router runs
//! in-process, so the figure also holds the harness's and the emulator's own
//! allocations (both bounded: no per-request state is kept).

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_benches::load::closed_loop;
use ai_router_benches::report::{Table, mib, verdict};
use ai_router_benches::req::Ask;
use ai_router_testkit::emulator::{Emulator, EmulatorConfig};
use ai_router_testkit::router::{TestRouter, remote_config};

use crate::common::{Call, stats};

const WARM_UP: usize = 1_000;
const STEP: usize = 2_500;
const STEPS: usize = 8;
const CONCURRENCY: usize = 8;

pub async fn run() -> anyhow::Result<()> {
    let emulator = Emulator::start_with(EmulatorConfig::default().with_default_tokens(16)).await?;
    let mut config = remote_config()?;
    config.endpoints.push(EndpointConfig::new(
        "emu",
        EndpointKind::OpenAi,
        &emulator.openai_base(),
    ));
    let router = TestRouter::start(config).await?;
    let client = router.raw_client().await?;
    let call = Call::router(&client, &Ask::new("emu/m", "Write sixteen tokens.", 16));

    closed_loop(WARM_UP, CONCURRENCY, call.runner()).await?;
    let start = stats(&client).await?;
    let mut points = vec![(0usize, start.rss_bytes)];
    for step in 1..=STEPS {
        closed_loop(STEP, CONCURRENCY, call.runner()).await?;
        points.push((step * STEP, stats(&client).await?.rss_bytes));
    }
    let end = stats(&client).await?;
    let mut table = Table::new(
        format!(
            "memory: process RSS over {} requests after a {WARM_UP}-request warm-up (emulator upstream, 16 tokens, concurrency {CONCURRENCY})",
            STEP * STEPS
        ),
        &["requests after warm-up", "RSS", "growth since warm-up"],
    );
    for (n, rss) in &points {
        table.row(vec![
            n.to_string(),
            mib(*rss as i64),
            mib(*rss as i64 - start.rss_bytes as i64),
        ]);
    }
    let per_10k = |from: usize, to: usize| -> i64 {
        let a = points[from].1 as i64;
        let b = points[to].1 as i64;
        (b - a) * 10_000 / ((points[to].0 - points[from].0) as i64).max(1)
    };
    let half = STEPS / 2;
    let first = per_10k(0, half);
    let second = per_10k(half, STEPS);
    table.note(format!(
        "Growth per 10k requests: first 10k {}, second 10k {}. Budget ≤ 5 MB per 10k after warm-up: {} (first) / {} (second). Requests finished: {}; failed: {}.",
        mib(first),
        mib(second),
        verdict(first <= 5_000_000),
        verdict(second <= 5_000_000),
        end.total_requests,
        end.requests
            .iter()
            .filter(|r| r.status != "OK")
            .map(|r| r.count)
            .sum::<u64>(),
    ));
    table.print();
    router.stop().await?;
    emulator.shutdown().await;
    Ok(())
}
