//! `warm`: a warm request through the router against the same request sent
//! straight to a llama-server, at concurrency 1, on the tiny test model
//! (greedy, so every path generates the same tokens):
//!
//! - local pool: router Generate on a local model vs direct HTTP to the very
//!   child the pool runs (its URL taken from a pool lease), and vs a separate
//!   `LlamaProcess` on the same GGUF file with the same settings;
//! - remote endpoint: router Generate on `lab/<model>` (an endpoint pointing
//!   at that `LlamaProcess`) vs direct HTTP to it.

use std::time::Duration;

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_benches::direct::Direct;
use ai_router_benches::load::{Hist, closed_loop, new_hist};
use ai_router_benches::report::{Table, diff, dur, pct, ratio, verdict};
use ai_router_benches::req::Ask;
use ai_router_testkit::llama::LlamaProcess;
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::router::{TestRouter, local_config};

use crate::common::{Call, generate, stats};

const REQUESTS_PER_PATH: usize = 400;
const ROUNDS: usize = 4;
const SLOTS: u32 = 2;

pub async fn run() -> anyhow::Result<()> {
    let models = ModelDir::with_models(&["w"])?;
    let file = models.file("w.gguf");
    let process = LlamaProcess::start(&file, SLOTS).await?;
    let mut config = local_config(models.path())?;
    // The same llama-server settings LlamaProcess uses.
    config.local.defaults.ctx_size = 4096;
    config.local.defaults.slots = SLOTS;
    config.local.defaults.threads = Some(1);
    config.endpoints.push(EndpointConfig::new(
        "lab",
        EndpointKind::OpenAi,
        &process.openai_base(),
    ));
    let router = TestRouter::start(config).await?;
    let client = router.raw_client().await?;

    let ask = Ask::new("w", "Tell me about the sea.", 8).greedy();
    // Start the local child, then find its URL through a pool lease.
    generate(&client, &ask).await?;
    let entry = router
        .engine
        .pool()
        .model("w")
        .ok_or_else(|| anyhow::anyhow!("model w not catalogued"))?;
    let child_base = {
        let lease = router.engine.pool().acquire(&entry).await?;
        lease.base_url().to_string()
    };
    let to_child = Direct::without_pool(&child_base)?;
    let to_process = Direct::without_pool(&process.openai_base())?;
    let remote = ask.with_model("lab/w");

    // Same tokens on every path.
    let a = generate(&client, &ask).await?;
    let b = generate(&client, &remote).await?;
    let c = to_child.chat(&ask.openai_body()).await?;
    let d = to_process.chat(&ask.openai_body()).await?;
    anyhow::ensure!(
        a.text == c.text && b.text == d.text && c.text == d.text,
        "paths generated different text: {:?} {:?} {:?} {:?}",
        a.text,
        b.text,
        c.text,
        d.text
    );
    let tokens = d.completion_tokens;

    let paths = [
        ("direct → the pool's child", Call::direct(&to_child, &ask)),
        ("direct → LlamaProcess", Call::direct(&to_process, &ask)),
        ("router, local model", Call::router(&client, &ask)),
        ("router, `lab/w`", Call::router(&client, &remote)),
    ];
    let mut hists: Vec<Hist> = Vec::new();
    for (_, call) in &paths {
        closed_loop(50, 1, call.runner()).await?; // warm-up
        hists.push(new_hist()?);
    }
    let before = stats(&client).await?;
    let per_round = REQUESTS_PER_PATH / ROUNDS;
    for round in 0..ROUNDS {
        for k in 0..paths.len() {
            let i = (k + round) % paths.len();
            let h = closed_loop(per_round, 1, paths[i].1.runner()).await?;
            hists[i].add(h)?;
        }
    }
    let after = stats(&client).await?;
    let p = |i: usize, q: f64| pct(&hists[i], q);
    let mut table = Table::new(
        format!(
            "warm: router vs direct to llama-server, tiny model, {tokens} tokens greedy, concurrency 1, {REQUESTS_PER_PATH} requests per path"
        ),
        &[
            "comparison",
            "router p50 / p99",
            "baseline",
            "baseline p50 / p99",
            "added p50",
            "added p99",
            "router / baseline p50",
        ],
    );
    for (name, router_i, base_i) in [
        ("local pool, same child", 2, 0),
        (
            "local pool vs a separate llama-server on the same file",
            2,
            1,
        ),
        ("remote endpoint `lab/w` → LlamaProcess", 3, 1),
    ] {
        table.row(vec![
            name.to_string(),
            format!("{} / {}", dur(p(router_i, 0.5)), dur(p(router_i, 0.99))),
            paths[base_i].0.to_string(),
            format!("{} / {}", dur(p(base_i, 0.5)), dur(p(base_i, 0.99))),
            diff(p(router_i, 0.5), p(base_i, 0.5)),
            diff(p(router_i, 0.99), p(base_i, 0.99)),
            ratio(p(router_i, 0.5).as_secs_f64(), p(base_i, 0.5).as_secs_f64()),
        ]);
    }
    let added50 = p(2, 0.5).saturating_sub(p(0, 0.5));
    let added99 = p(2, 0.99).saturating_sub(p(0, 0.99));
    let remote50 = p(3, 0.5).saturating_sub(p(1, 0.5));
    let remote99 = p(3, 0.99).saturating_sub(p(1, 0.99));
    table.note(format!(
        "Budget, local pool (same child): added p50 ≤ 150 µs {}, added p99 ≤ 1 ms {}. Remote endpoint: added p50 ≤ 150 µs {}, added p99 ≤ 1 ms {}. The four paths ran in {ROUNDS} rotating rounds after 50 warm-up requests each.",
        verdict(added50 <= Duration::from_micros(150)),
        verdict(added99 <= Duration::from_millis(1)),
        verdict(remote50 <= Duration::from_micros(150)),
        verdict(remote99 <= Duration::from_millis(1)),
    ));
    table.note(format!(
        "Connections: llama-server closes the connection after every streamed response, so both sides pay one loopback TCP connect per request: the router opened {} upstream connections for {} upstream requests; the direct clients open a fresh connection per request (re-sends on a dead connection: {} of {}).",
        after.upstream_connections_opened - before.upstream_connections_opened,
        after.upstream_requests_sent - before.upstream_requests_sent,
        to_child.resends() + to_process.resends(),
        2 * REQUESTS_PER_PATH,
    ));
    table.print();
    router.stop().await?;
    drop(process);
    Ok(())
}
