//! `hint`: the batch tuning hint (`Stats.routes[].best_concurrency` and
//! `best_throughput_rps`). The upstream is an emulator with S = 4 slots and
//! 25 ms per item; the endpoint admits 16 at once (`max_concurrency = 16`),
//! so beyond 4 the extra items only wait inside the upstream. Batches of
//! 120 items run with `max_concurrency` 1, 2, 4, 8 and 16:
//!
//! 1. each on a fresh router, reading the hint after the run;
//! 2. all five on one router, back to back, reading the hint after each;
//! 3. on that router, batches at the hinted concurrency (rounded), at 16
//!    and at 1, to see what following the hint buys;
//! 4. batches of 480 (3 s and more, several one-second windows) at 4 and at
//!    16, each on a fresh router: what the hint says about a single load.

use std::time::{Duration, Instant};

use ai_router_benches::load::hist_of;
use ai_router_benches::report::{Table, dur, pct, ratio, verdict};
use ai_router_benches::req::Ask;
use ai_router_proto::v1::{BatchGenerateRequest, batch_item_result::Outcome};
use ai_router_testkit::emulator::EmulatorConfig;

use crate::common::{Client, EmuRouter, pb_dur, stats};

const SLOTS: usize = 4;
const ITEM_DELAY: Duration = Duration::from_millis(25);
const ENDPOINT_LIMIT: u32 = 16;
const ITEMS: usize = 120;
const LONG_ITEMS: usize = 480;
const CONCURRENCIES: [u32; 5] = [1, 2, 4, 8, 16];

struct BatchRun {
    concurrency: u32,
    wall: Duration,
    ok: usize,
    errors: usize,
    /// Per item, server-side `Timing.total` (router queue + upstream).
    item: Vec<Duration>,
}

impl BatchRun {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.wall.as_secs_f64()
    }
}

async fn batch(
    client: &Client,
    concurrency: u32,
    items: usize,
    tag: &str,
) -> anyhow::Result<BatchRun> {
    let request = BatchGenerateRequest {
        items: (0..items)
            .map(|i| Ask::new("emu/m", format!("Run {tag}, item {i}."), 4).grpc())
            .collect(),
        max_concurrency: concurrency,
    };
    let started = Instant::now();
    let mut stream = client.clone().batch_generate(request).await?.into_inner();
    let mut run = BatchRun {
        concurrency,
        wall: Duration::ZERO,
        ok: 0,
        errors: 0,
        item: Vec::with_capacity(items),
    };
    while let Some(result) = stream.message().await? {
        match result.outcome {
            Some(Outcome::Response(r)) => {
                run.ok += 1;
                run.item.push(pb_dur(r.timing.and_then(|t| t.total)));
            }
            _ => run.errors += 1,
        }
    }
    run.wall = started.elapsed();
    Ok(run)
}

/// (best_concurrency, best_throughput_rps) of the `emu` route.
async fn hint(client: &Client) -> anyhow::Result<(f64, f64)> {
    let s = stats(client).await?;
    s.routes
        .iter()
        .find(|r| r.route == "emu")
        .map(|r| (r.best_concurrency, r.best_throughput_rps))
        .ok_or_else(|| anyhow::anyhow!("no route `emu` in Stats.routes: {:?}", s.routes))
}

fn emulator_config() -> EmulatorConfig {
    EmulatorConfig::default()
        .with_slots(SLOTS)
        .with_delay(ITEM_DELAY)
        .with_default_tokens(4)
}

fn cells(run: &BatchRun, hint: (f64, f64)) -> anyhow::Result<Vec<String>> {
    let h = hist_of(&run.item)?;
    Ok(vec![
        run.concurrency.to_string(),
        dur(run.wall),
        format!("{:.0} items/s", run.rps()),
        format!("{} / {}", dur(pct(&h, 0.5)), dur(pct(&h, 0.99))),
        format!("{} / {}", run.ok, run.errors),
        if hint.1 == 0.0 {
            "none yet (0 / 0)".into()
        } else {
            format!("{:.2} @ {:.0} req/s", hint.0, hint.1)
        },
    ])
}

const HEADERS: [&str; 6] = [
    "max_concurrency",
    "wall",
    "throughput",
    "item latency p50 / p99 (Timing.total)",
    "ok / errors",
    "hint after the run (best_concurrency @ best_throughput_rps)",
];

pub async fn run() -> anyhow::Result<()> {
    let ideal_rps = SLOTS as f64 / ITEM_DELAY.as_secs_f64();

    // 1. A fresh router (and emulator) per run.
    let mut fresh = Table::new(
        format!(
            "hint, fresh router per run: batches of {ITEMS}, emulator S = {SLOTS} slots × {} per item, endpoint max_concurrency = {ENDPOINT_LIMIT}",
            dur(ITEM_DELAY)
        ),
        &HEADERS,
    );
    for c in CONCURRENCIES {
        let (run, after) = fresh_run(c, ITEMS).await?;
        fresh.row(cells(&run, after)?);
    }
    fresh.note(format!(
        "Upstream capacity S / L = {ideal_rps:.0} items/s; the ideal wall for {ITEMS} items at concurrency ≥ {SLOTS} is {}.",
        dur(ITEM_DELAY * ITEMS.div_ceil(SLOTS) as u32),
    ));
    fresh.print();

    // 2. One router, all runs back to back.
    let setup = EmuRouter::start(emulator_config(), ENDPOINT_LIMIT, |_| {}).await?;
    let mut shared = Table::new(
        "hint, one router for all runs (back to back, same upstream and batch size), then following the hint",
        &HEADERS,
    );
    let mut runs = Vec::new();
    for c in CONCURRENCIES {
        let run = batch(&setup.client, c, ITEMS, &format!("shared-{c}")).await?;
        shared.row(cells(&run, hint(&setup.client).await?)?);
        runs.push(run);
    }
    let (best_c, best_rps) = hint(&setup.client).await?;
    let hinted = (best_c.round() as u32).clamp(1, ENDPOINT_LIMIT);

    // 3. Following the hint, against 16 and 1.
    let mut follow = Vec::new();
    for (label, c) in [("hinted", hinted), ("16", 16), ("1", 1)] {
        let run = batch(&setup.client, c, ITEMS, &format!("follow-{label}")).await?;
        let mut row = cells(&run, hint(&setup.client).await?)?;
        row[0] = format!("{c} ({label})");
        shared.row(row);
        follow.push(run);
    }
    let best_seen = runs.iter().map(BatchRun::rps).fold(0.0_f64, f64::max);
    let median_item =
        |r: &BatchRun| -> anyhow::Result<Duration> { Ok(pct(&hist_of(&r.item)?, 0.5)) };
    let (at_hint, at_16, at_1) = (&follow[0], &follow[1], &follow[2]);
    shared.note(format!(
        "Hint after the five runs: best_concurrency {best_c:.2} (rounded: {hinted}), best_throughput_rps {best_rps:.1}; the upstream's real parallelism is S = {SLOTS}, its capacity {ideal_rps:.0} items/s. Expected effect: hint within ±1 of S: {}; throughput at the hint ≥ 0.95 × the best run: {}; median item latency at the hint below the one at 16: {}.",
        verdict((best_c - SLOTS as f64).abs() <= 1.0),
        verdict(at_hint.rps() >= 0.95 * best_seen),
        verdict(median_item(at_hint)? < median_item(at_16)?),
    ));
    shared.note(format!(
        "At the hint ({hinted}): wall {} = {} of the wall at 16 ({}) and {} of the wall at 1 ({}); throughput {:.0} items/s = {} of the best of the five runs ({best_seen:.0}); median item latency {} vs {} at 16 ({}) and {} at 1.",
        dur(at_hint.wall),
        ratio(at_hint.wall.as_secs_f64(), at_16.wall.as_secs_f64()),
        dur(at_16.wall),
        ratio(at_hint.wall.as_secs_f64(), at_1.wall.as_secs_f64()),
        dur(at_1.wall),
        at_hint.rps(),
        ratio(at_hint.rps(), best_seen),
        dur(median_item(at_hint)?),
        dur(median_item(at_16)?),
        ratio(
            median_item(at_hint)?.as_secs_f64(),
            median_item(at_16)?.as_secs_f64()
        ),
        dur(median_item(at_1)?),
    ));
    shared.print();
    setup.stop().await?;

    // 4. Long batches, one load per fresh router.
    let mut long = Table::new(
        format!(
            "hint, fresh router per run, batches of {LONG_ITEMS} (several one-second windows per run)"
        ),
        &HEADERS,
    );
    for c in [SLOTS as u32, ENDPOINT_LIMIT] {
        let (run, after) = fresh_run(c, LONG_ITEMS).await?;
        long.row(cells(&run, after)?);
    }
    long.print();
    Ok(())
}

/// One batch on a fresh emulator and router; the run and the hint after it.
async fn fresh_run(concurrency: u32, items: usize) -> anyhow::Result<(BatchRun, (f64, f64))> {
    let setup = EmuRouter::start(emulator_config(), ENDPOINT_LIMIT, |_| {}).await?;
    let run = batch(
        &setup.client,
        concurrency,
        items,
        &format!("fresh-{concurrency}-{items}"),
    )
    .await?;
    let after = hint(&setup.client).await?;
    setup.stop().await?;
    Ok((run, after))
}
