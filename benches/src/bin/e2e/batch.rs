//! `batch`: 100 prompts through BatchGenerate against an upstream with S = 4
//! slots, against the ideal ⌈100 / S⌉ × item latency, against sending the
//! same prompts one at a time (the seed's way), and for the real
//! llama-server also against 4 direct HTTP workers on the very child the
//! pool runs (the best a client can do on its own), all in one run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_benches::direct::Direct;
use ai_router_benches::load::{closed_loop, median};
use ai_router_benches::report::{Table, dur, ratio, verdict};
use ai_router_benches::req::Ask;
use ai_router_proto::v1::{BatchGenerateRequest, batch_item_result::Outcome};
use ai_router_testkit::emulator::{Emulator, EmulatorConfig};
use ai_router_testkit::gguf::write_tiny_llama;
use ai_router_testkit::router::{TestRouter, local_config, remote_config};

use crate::common::{Client, bigger_spec, generate, pb_dur};

const ITEMS: usize = 100;
const SLOTS: usize = 4;
const ITEM_DELAY: Duration = Duration::from_millis(50);

struct BatchRun {
    wall: Duration,
    first_result: Duration,
    /// Client-seen time to the first result minus that item's own
    /// server-side total: dispatch + delivery of the first result.
    first_result_delivery: Duration,
    ok: usize,
    errors: usize,
    tokens: u64,
    /// Per item, server-side: total minus queue wait (acquire + upstream).
    service: Vec<Duration>,
}

async fn batch(client: &Client, asks: &[Ask]) -> anyhow::Result<BatchRun> {
    let request = BatchGenerateRequest {
        items: asks.iter().map(Ask::grpc).collect(),
        max_concurrency: 0,
    };
    let started = Instant::now();
    let mut stream = client.clone().batch_generate(request).await?.into_inner();
    let mut run = BatchRun {
        wall: Duration::ZERO,
        first_result: Duration::ZERO,
        first_result_delivery: Duration::ZERO,
        ok: 0,
        errors: 0,
        tokens: 0,
        service: Vec::with_capacity(asks.len()),
    };
    while let Some(item) = stream.message().await? {
        if run.ok + run.errors == 0 {
            run.first_result = started.elapsed();
            if let Some(Outcome::Response(r)) = &item.outcome {
                let own = pb_dur(r.timing.and_then(|t| t.total));
                run.first_result_delivery = run.first_result.saturating_sub(own);
            }
        }
        match item.outcome {
            Some(Outcome::Response(r)) => {
                run.ok += 1;
                if let Some(t) = r.timing {
                    run.service
                        .push(pb_dur(t.total).saturating_sub(pb_dur(t.queue_wait)));
                }
                run.tokens += u64::from(r.usage.map_or(0, |u| u.completion_tokens));
            }
            _ => run.errors += 1,
        }
    }
    run.wall = started.elapsed();
    Ok(run)
}

/// Sends the asks one at a time; returns the wall time, the median item
/// latency and the tokens generated.
async fn sequential(client: &Client, asks: &[Ask]) -> anyhow::Result<(Duration, Duration, u64)> {
    let started = Instant::now();
    let mut each = Vec::with_capacity(asks.len());
    let mut tokens = 0;
    for ask in asks {
        let t = Instant::now();
        let r = generate(client, ask).await?;
        each.push(t.elapsed());
        tokens += u64::from(r.usage.map_or(0, |u| u.completion_tokens));
    }
    Ok((started.elapsed(), median(&each), tokens))
}

pub async fn run() -> anyhow::Result<()> {
    emulator_batch().await?;
    llama_batch().await
}

async fn emulator_batch() -> anyhow::Result<()> {
    let emulator = Emulator::start_with(
        EmulatorConfig::default()
            .with_slots(SLOTS)
            .with_delay(ITEM_DELAY)
            .with_default_tokens(4),
    )
    .await?;
    let mut config = remote_config()?;
    let mut endpoint = EndpointConfig::new("emu", EndpointKind::OpenAi, &emulator.openai_base());
    endpoint.max_concurrency = SLOTS as u32;
    config.endpoints.push(endpoint);
    let router = TestRouter::start(config).await?;
    let client = router.raw_client().await?;
    let asks: Vec<Ask> = (0..ITEMS)
        .map(|i| Ask::new("emu/m", format!("Item {i}."), 4))
        .collect();
    generate(&client, &asks[0]).await?; // connection warm-up

    let b = batch(&client, &asks).await?;
    let (seq_wall, item_latency, _) = sequential(&client, &asks).await?;
    let rounds = ITEMS.div_ceil(SLOTS) as u32;
    let ideal = ITEM_DELAY * rounds;
    let ideal_measured = item_latency * rounds;
    let mut table = Table::new(
        format!(
            "batch of {ITEMS}: emulator with S = {SLOTS} slots and L = {} per item",
            dur(ITEM_DELAY)
        ),
        &[
            "run",
            "wall",
            "vs ideal ⌈100/S⌉·L",
            "vs ideal with measured L",
            "items ok / errors",
            "first result after",
        ],
    );
    table.row(vec![
        "BatchGenerate".into(),
        dur(b.wall),
        ratio(b.wall.as_secs_f64(), ideal.as_secs_f64()),
        ratio(b.wall.as_secs_f64(), ideal_measured.as_secs_f64()),
        format!("{} / {}", b.ok, b.errors),
        format!(
            "{} (delivery {} after the item finished)",
            dur(b.first_result),
            dur(b.first_result_delivery)
        ),
    ]);
    table.row(vec![
        "100 sequential Generate calls (seed's way)".into(),
        dur(seq_wall),
        ratio(seq_wall.as_secs_f64(), ideal.as_secs_f64()),
        ratio(seq_wall.as_secs_f64(), ideal_measured.as_secs_f64()),
        format!("{ITEMS} / 0"),
        dur(item_latency),
    ]);
    table.note(format!(
        "Ideal ⌈{ITEMS}/{SLOTS}⌉ × {} = {}; measured single-item latency through the router L = {} → {}. Budget wall ≤ 1.05 × ideal: {}. First result within 1 ms of the first item finishing: {} (\"delivery\" = client-seen time to the first result minus that item's own Timing.total, an upper bound that also holds the request's upload and one gRPC round trip). Speed-up over sequential: {}. Emulator saw at most {} requests at once; endpoint max_concurrency = {SLOTS}.",
        dur(ITEM_DELAY),
        dur(ideal),
        dur(item_latency),
        dur(ideal_measured),
        verdict(b.wall.as_secs_f64() <= 1.05 * ideal.as_secs_f64()),
        verdict(b.first_result_delivery <= Duration::from_millis(1)),
        ratio(seq_wall.as_secs_f64(), b.wall.as_secs_f64()),
        emulator.stats().max_in_flight,
    ));
    table.print();
    router.stop().await?;
    emulator.shutdown().await;
    Ok(())
}

async fn llama_batch() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("ai-router-bench-")
        .tempdir()?;
    let file = dir.path().join("big.gguf");
    write_tiny_llama(&file, &bigger_spec(7, "big"))?;
    let mut config = local_config(dir.path())?;
    config.local.defaults.slots = SLOTS as u32;
    config.local.defaults.ctx_size = 4096;
    config.local.defaults.threads = Some(1);
    let router = TestRouter::start(config).await?;
    let client = router.raw_client().await?;

    // Distinct prompts for every run: llama-server caches prompts, so a
    // repeated prompt would make a later run cheaper than an earlier one.
    let asks = |tag: &str| -> Vec<Ask> {
        (0..ITEMS)
            .map(|i| {
                Ask::new(
                    "big",
                    format!("Run {tag}, item {i}: describe the number {i}."),
                    32,
                )
                .greedy()
            })
            .collect()
    };
    let warm_up = asks("warm-up");
    generate(&client, &warm_up[0]).await?; // starts the child
    // The direct baseline talks to the very child the pool runs.
    let entry = router
        .engine
        .pool()
        .model("big")
        .ok_or_else(|| anyhow::anyhow!("model big not catalogued"))?;
    let child_base = {
        let lease = router.engine.pool().acquire(&entry).await?;
        lease.base_url().to_string()
    };
    let direct = Direct::without_pool(&child_base)?;
    direct.chat(&warm_up[1].openai_body()).await?;

    let direct_run = |asks: Vec<Ask>| {
        let direct = direct.clone();
        let bodies = Arc::new(asks.iter().map(Ask::openai_body).collect::<Vec<_>>());
        async move {
            let started = Instant::now();
            let h = closed_loop(ITEMS, SLOTS, move |i| {
                let direct = direct.clone();
                let bodies = bodies.clone();
                async move { direct.chat(&bodies[i]).await.map(|_| ()) }
            })
            .await?;
            Ok::<_, anyhow::Error>((started.elapsed(), h))
        }
    };
    // Order d b b d d b, so drift and llama-server's own warm-up hit both.
    let mut directs = Vec::new();
    let mut batches = Vec::new();
    for (k, step) in ["d", "b", "b", "d", "d", "b"].iter().enumerate() {
        let tag = format!("{step}{k}");
        if *step == "d" {
            directs.push(direct_run(asks(&tag)).await?);
        } else {
            batches.push(batch(&client, &asks(&tag)).await?);
        }
    }
    let (seq_wall, item_alone, seq_tokens) = sequential(&client, &asks("s")).await?;
    let mean = |v: Vec<Duration>| v.iter().sum::<Duration>() / v.len().max(1) as u32;
    let direct_wall = mean(directs.iter().map(|d| d.0).collect());
    let batch_wall = mean(batches.iter().map(|b| b.wall).collect());
    let in_batch_latency = mean(
        directs
            .iter()
            .map(|d| Duration::from_nanos(d.1.value_at_quantile(0.5)))
            .collect(),
    );
    let rounds = ITEMS.div_ceil(SLOTS) as u32;
    let ideal_alone = item_alone * rounds;
    let ideal_loaded = in_batch_latency * rounds;

    let mut table = Table::new(
        format!(
            "batch of {ITEMS}: real llama-server, --parallel {SLOTS}, 256-wide 4-layer model, 32 tokens greedy per item"
        ),
        &[
            "run",
            "wall",
            "vs 4 direct workers (mean of 3)",
            "vs ideal ⌈100/S⌉·L_loaded",
            "items ok / errors",
            "tokens",
            "first result after",
        ],
    );
    for (k, b) in batches.iter().enumerate() {
        table.row(vec![
            format!("BatchGenerate, run {}", k + 1),
            dur(b.wall),
            ratio(b.wall.as_secs_f64(), direct_wall.as_secs_f64()),
            ratio(b.wall.as_secs_f64(), ideal_loaded.as_secs_f64()),
            format!("{} / {}", b.ok, b.errors),
            b.tokens.to_string(),
            format!(
                "{} (delivery {})",
                dur(b.first_result),
                dur(b.first_result_delivery)
            ),
        ]);
    }
    for (k, (d, _)) in directs.iter().enumerate() {
        table.row(vec![
            format!("4 direct HTTP workers → the same child, run {}", k + 1),
            dur(*d),
            ratio(d.as_secs_f64(), direct_wall.as_secs_f64()),
            ratio(d.as_secs_f64(), ideal_loaded.as_secs_f64()),
            format!("{ITEMS} / 0"),
            String::new(),
            String::new(),
        ]);
    }
    table.row(vec![
        "100 sequential Generate calls (seed's way)".into(),
        dur(seq_wall),
        ratio(seq_wall.as_secs_f64(), direct_wall.as_secs_f64()),
        ratio(seq_wall.as_secs_f64(), ideal_loaded.as_secs_f64()),
        format!("{ITEMS} / 0"),
        seq_tokens.to_string(),
        dur(item_alone),
    ]);
    let service = mean(batches.iter().map(|b| median(&b.service)).collect());
    table.note(format!(
        "Item service time with 4 in flight (median): through the router {} (server-side Timing.total − queue_wait), direct {}.",
        dur(service),
        dur(in_batch_latency),
    ));
    table.note(format!(
        "L_alone (one item at a time, through the router) = {} → ⌈100/S⌉·L_alone = {} (unreachable: 4 slots share one compute thread); L_loaded (median direct item latency with 4 in flight) = {} → {}. Budget wall ≤ 1.05 × the same-run direct baseline (means of 3 runs each, order d b b d d b, distinct prompts per run): {} ({}). Speed-up over sequential: {}. The child runs with --threads 1, so its 4 slots share one compute thread.",
        dur(item_alone),
        dur(ideal_alone),
        dur(in_batch_latency),
        dur(ideal_loaded),
        verdict(batch_wall.as_secs_f64() <= 1.05 * direct_wall.as_secs_f64()),
        ratio(batch_wall.as_secs_f64(), direct_wall.as_secs_f64()),
        ratio(seq_wall.as_secs_f64(), batch_wall.as_secs_f64()),
    ));
    table.print();
    router.stop().await?;
    Ok(())
}
