//! `stats_under_load`: latency of the `Stats` RPC while the router serves
//! ~1,000 Generate requests per second (open loop, emulator upstream with a
//! 5 ms delay and 8 SSE tokens), against the same calls with the router
//! idle just before and just after. Stats is called from its own task on
//! its own connection (as a monitoring client would), at a fixed cadence,
//! alternating with a `Generate` for an unknown model (answered NOT_FOUND
//! without upstream I/O: the floor of any gRPC call under the same
//! conditions), so "Stats − floor" is what building the snapshot costs.

use std::time::{Duration, Instant};

use ai_router_benches::load::{Hist, closed_loop, hist_of, new_hist, open_loop, record};
use ai_router_benches::report::{Table, diff, dur, pct, verdict};
use ai_router_benches::req::Ask;
use ai_router_testkit::emulator::EmulatorConfig;

use crate::common::{Call, Client, EmuRouter, generate, stats};

const DELAY: Duration = Duration::from_millis(5);
const TOKENS: u32 = 8;
const RATE: f64 = 1_000.0;
/// Generate requests of the load: 11 s at `RATE`.
const LOAD_REQUESTS: usize = 11_000;
/// One Stats call (and one floor call) per this period.
const STATS_EVERY: Duration = Duration::from_millis(20);
const STATS_UNDER_LOAD: usize = 500;
const STATS_IDLE: usize = 125;
const BACK_TO_BACK: usize = 300;

struct Probe {
    stats: Hist,
    floor: Hist,
}

/// `count` Stats calls and `count` floor calls, alternating, one call every
/// `every / 2` (or back to back when `every` is zero). A call that runs late
/// delays the next one rather than bunching up. Runs as a task of the
/// runtime: from `block_on`'s own thread every await would be a cross-thread
/// wake-up (the floor triples).
async fn probe(client: &Client, every: Duration, count: usize) -> anyhow::Result<Probe> {
    let client = client.clone();
    tokio::spawn(async move { probe_here(&client, every, count).await }).await?
}

async fn probe_here(client: &Client, every: Duration, count: usize) -> anyhow::Result<Probe> {
    let unknown = Ask::new("nope/none", "x", 1).grpc();
    let mut out = Probe {
        stats: new_hist()?,
        floor: new_hist()?,
    };
    let mut tick = tokio::time::interval((every / 2).max(Duration::from_micros(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for _ in 0..count {
        if !every.is_zero() {
            tick.tick().await;
        }
        let t = Instant::now();
        stats(client).await?;
        record(&mut out.stats, t.elapsed())?;
        if !every.is_zero() {
            tick.tick().await;
        }
        let t = Instant::now();
        match client.clone().generate(unknown.clone()).await {
            Err(status) if status.code() == tonic::Code::NotFound => {}
            other => anyhow::bail!("expected NOT_FOUND, got {other:?}"),
        }
        record(&mut out.floor, t.elapsed())?;
    }
    Ok(out)
}

fn row(label: &str, p: &Probe) -> Vec<String> {
    let (s50, f50) = (pct(&p.stats, 0.5), pct(&p.floor, 0.5));
    vec![
        label.to_string(),
        p.stats.len().to_string(),
        format!("{} / {}", dur(s50), dur(pct(&p.stats, 0.99))),
        dur(Duration::from_nanos(p.stats.max())),
        format!("{} / {}", dur(f50), dur(pct(&p.floor, 0.99))),
        diff(s50, f50),
    ]
}

fn merge(a: &Probe, b: &Probe) -> anyhow::Result<Probe> {
    let mut stats = a.stats.clone();
    stats.add(&b.stats)?;
    let mut floor = a.floor.clone();
    floor.add(&b.floor)?;
    Ok(Probe { stats, floor })
}

/// Finished requests with status `status` (e.g. "OK", "NOT_FOUND").
fn count(s: &ai_router_proto::v1::StatsResponse, status: &str) -> u64 {
    s.requests
        .iter()
        .filter(|r| r.status == status)
        .map(|r| r.count)
        .sum()
}

pub async fn run() -> anyhow::Result<()> {
    let setup = EmuRouter::start(
        EmulatorConfig::default()
            .with_delay(DELAY)
            .with_default_tokens(u64::from(TOKENS)),
        256,
        |_| {},
    )
    .await?;
    let ask = Ask::new("emu/m", "Say something short.", TOKENS);
    generate(&setup.client, &ask).await?;
    let call = Call::router(&setup.client, &ask);
    closed_loop(1_000, 8, call.runner()).await?;
    let monitor = setup.router.raw_client().await?;
    probe(&monitor, Duration::ZERO, 50).await?;

    let back_to_back = probe(&monitor, Duration::ZERO, BACK_TO_BACK).await?;
    let idle_before = probe(&monitor, STATS_EVERY, STATS_IDLE).await?;

    let before = stats(&monitor).await?;
    let runner = call.runner();
    let load = tokio::spawn(async move { open_loop(LOAD_REQUESTS, RATE, runner).await });
    // Let the load reach its rate before sampling.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sampled_from = Instant::now();
    let under_load = probe(&monitor, STATS_EVERY, STATS_UNDER_LOAD).await?;
    let sampled_for = sampled_from.elapsed();
    let (generate_hist, achieved) = load.await??;
    let after = stats(&monitor).await?;

    let idle_after = probe(&monitor, STATS_EVERY, STATS_IDLE).await?;
    let idle = merge(&idle_before, &idle_after)?;

    // The one /proc read every Stats call makes for the router's RSS.
    let mut rss_read = Vec::with_capacity(200);
    for _ in 0..200 {
        let t = Instant::now();
        std::hint::black_box(ai_router::stats::process_rss_bytes());
        rss_read.push(t.elapsed());
    }
    let rss_read = hist_of(&rss_read)?;

    let every = dur(STATS_EVERY);
    let mut table = Table::new(
        format!(
            "stats_under_load: Stats RPC latency, idle vs {RATE:.0} req/s of Generate (open loop, emulator delay {} + {TOKENS} tokens)",
            dur(DELAY)
        ),
        &[
            "router",
            "Stats calls",
            "Stats p50 / p99",
            "Stats max",
            "gRPC floor p50 / p99 (NOT_FOUND, same cadence)",
            "Stats − floor p50",
        ],
    );
    table.row(row(
        &format!("idle, one call every {every}, before the load"),
        &idle_before,
    ));
    table.row(row(
        &format!("idle, one call every {every}, after the load"),
        &idle_after,
    ));
    table.row(row(
        &format!("idle, one call every {every}, both (baseline)"),
        &idle,
    ));
    table.row(row(
        &format!("serving {achieved:.0} req/s of Generate, one call every {every}"),
        &under_load,
    ));
    table.row(row("idle, back to back", &back_to_back));
    let (i50, i99, l50, l99) = (
        pct(&idle.stats, 0.5),
        pct(&idle.stats, 0.99),
        pct(&under_load.stats, 0.5),
        pct(&under_load.stats, 0.99),
    );
    table.note(format!(
        "Budget: Stats p99 ≤ 1 ms while serving ~1,000 req/s: {} ({}; idle baseline {}). Under load − idle: p50 {}, p99 {}. Stats called every {every} from its own task on its own gRPC connection, each call followed {} later by the floor call: {STATS_IDLE} of each idle before and after, {STATS_UNDER_LOAD} under load over {:.1} s.",
        verdict(l99 <= Duration::from_millis(1)),
        dur(l99),
        dur(i99),
        diff(l50, i50),
        diff(l99, i99),
        dur(STATS_EVERY / 2),
        sampled_for.as_secs_f64(),
    ));
    table.note(format!(
        "The Generate load: {LOAD_REQUESTS} requests at {achieved:.0} req/s achieved, p50 {} / p99 {}; meanwhile the router finished {} requests OK, {} NOT_FOUND (the floor calls) and {} otherwise. `ai_router::stats::process_rss_bytes()` (sysinfo with a fresh `System`, made by every Stats call) called directly 200 times: p50 {} / p99 {}.",
        dur(pct(&generate_hist, 0.5)),
        dur(pct(&generate_hist, 0.99)),
        count(&after, "OK") - count(&before, "OK"),
        count(&after, "NOT_FOUND") - count(&before, "NOT_FOUND"),
        (after.total_requests - before.total_requests)
            - (count(&after, "OK") - count(&before, "OK"))
            - (count(&after, "NOT_FOUND") - count(&before, "NOT_FOUND")),
        dur(pct(&rss_read, 0.5)),
        dur(pct(&rss_read, 0.99)),
    ));
    table.print();
    setup.stop().await?;
    Ok(())
}
