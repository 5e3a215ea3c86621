//! `overload`: an endpoint with `max_concurrency = 4` and a per-route queue
//! of 8 (`executor.max_queue`) in front of an emulator that takes 20 ms per
//! request: capacity 4 / 20 ms = 200 req/s. Offered 2× that (400 req/s,
//! open loop, 10 s), the router must reject the excess at once with
//! RESOURCE_EXHAUSTED, keep the accepted requests' latency bounded by the
//! queue, and keep its memory flat. Baseline: the same endpoint at 0.5×
//! capacity (100 req/s), same run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ai_router_benches::load::{Hist, closed_loop, open_loop};
use ai_router_benches::report::{Table, dur, mib, pct, ratio, verdict};
use ai_router_benches::req::Ask;
use ai_router_proto::v1::StatsResponse;
use ai_router_testkit::emulator::EmulatorConfig;

use crate::common::{Client, EmuRouter, SharedHist, generate, stats};

const DELAY: Duration = Duration::from_millis(20);
const TOKENS: u32 = 4;
const SLOTS: u32 = 4;
const QUEUE: usize = 8;
const BASELINE_REQUESTS: usize = 500;
const OVERLOAD_REQUESTS: usize = 4_000;
const RSS_EVERY: Duration = Duration::from_millis(500);

fn capacity() -> f64 {
    f64::from(SLOTS) / DELAY.as_secs_f64()
}

/// What the client saw, by outcome.
#[derive(Clone)]
struct Outcomes {
    accepted: SharedHist,
    rejected: SharedHist,
    other: Arc<AtomicU64>,
}

impl Outcomes {
    fn new() -> anyhow::Result<Outcomes> {
        Ok(Outcomes {
            accepted: SharedHist::new()?,
            rejected: SharedHist::new()?,
            other: Arc::new(AtomicU64::new(0)),
        })
    }
}

struct Phase {
    accepted: Hist,
    rejected: Hist,
    other: u64,
    offered: f64,
    wall: Duration,
    before: StatsResponse,
    after: StatsResponse,
    /// (seconds since the phase started, RSS bytes).
    rss: Vec<(f64, u64)>,
}

async fn phase(
    client: &Client,
    monitor: &Client,
    ask: &Ask,
    n: usize,
    rate: f64,
) -> anyhow::Result<Phase> {
    let outcomes = Outcomes::new()?;
    let request = ask.grpc();
    let runner = {
        let client = client.clone();
        let outcomes = outcomes.clone();
        move |_| {
            let mut client = client.clone();
            let request = request.clone();
            let outcomes = outcomes.clone();
            async move {
                let t = Instant::now();
                let result = client.generate(request).await;
                let took = t.elapsed();
                match result {
                    Ok(_) => outcomes.accepted.record(took)?,
                    Err(s) if s.code() == tonic::Code::ResourceExhausted => {
                        outcomes.rejected.record(took)?
                    }
                    Err(_) => {
                        outcomes.other.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(())
            }
        }
    };
    let before = stats(monitor).await?;
    let started = Instant::now();
    let load = tokio::spawn(async move {
        let (h, offered) = open_loop(n, rate, runner).await?;
        Ok::<_, anyhow::Error>((h, offered, started.elapsed()))
    });
    let mut rss = vec![(0.0, before.rss_bytes)];
    let mut tick = tokio::time::interval(RSS_EVERY);
    tick.tick().await;
    while !load.is_finished() {
        tick.tick().await;
        rss.push((
            started.elapsed().as_secs_f64(),
            stats(monitor).await?.rss_bytes,
        ));
    }
    // The wall time of the load itself (the sampler wakes up later).
    let (_, offered, wall) = load.await??;
    let after = stats(monitor).await?;
    rss.push((wall.as_secs_f64(), after.rss_bytes));
    Ok(Phase {
        accepted: outcomes.accepted.snapshot()?,
        rejected: outcomes.rejected.snapshot()?,
        other: outcomes.other.load(Ordering::Relaxed),
        offered,
        wall,
        before,
        after,
        rss,
    })
}

fn errors_with(stats: &StatsResponse, code: &str) -> u64 {
    stats
        .errors
        .iter()
        .filter(|e| e.code == code)
        .map(|e| e.count)
        .sum()
}

fn p50_p99(h: &Hist) -> String {
    if h.is_empty() {
        return "—".into();
    }
    format!("{} / {}", dur(pct(h, 0.5)), dur(pct(h, 0.99)))
}

pub async fn run() -> anyhow::Result<()> {
    let setup = EmuRouter::start(
        EmulatorConfig::default()
            .with_delay(DELAY)
            .with_default_tokens(u64::from(TOKENS)),
        SLOTS,
        |c| c.executor.max_queue = QUEUE,
    )
    .await?;
    let monitor = setup.router.raw_client().await?;
    let ask = Ask::new("emu/m", "Say something short.", TOKENS);
    generate(&setup.client, &ask).await?;
    // Warm-up below capacity: connections to the emulator, allocator pools.
    closed_loop(
        200,
        SLOTS as usize,
        crate::common::Call::router(&setup.client, &ask).runner(),
    )
    .await?;

    let cap = capacity();
    let base = phase(&setup.client, &monitor, &ask, BASELINE_REQUESTS, cap * 0.5).await?;
    let over = phase(&setup.client, &monitor, &ask, OVERLOAD_REQUESTS, cap * 2.0).await?;

    let mut table = Table::new(
        format!(
            "overload: endpoint max_concurrency = {SLOTS}, queue {QUEUE}, emulator {} per request (capacity {cap:.0} req/s)",
            dur(DELAY)
        ),
        &[
            "offered load",
            "requests",
            "accepted",
            "rejected (RESOURCE_EXHAUSTED)",
            "other errors",
            "accepted p50 / p99",
            "accepted max",
            "rejection p50 / p99",
            "rejection max",
            "accepted throughput",
            "Stats.rejected (delta)",
        ],
    );
    for (label, p, n) in [
        ("0.5× capacity (baseline)", &base, BASELINE_REQUESTS),
        ("2× capacity", &over, OVERLOAD_REQUESTS),
    ] {
        table.row(vec![
            format!("{label}: {:.0} req/s", p.offered),
            n.to_string(),
            p.accepted.len().to_string(),
            p.rejected.len().to_string(),
            p.other.to_string(),
            p50_p99(&p.accepted),
            dur(Duration::from_nanos(p.accepted.max())),
            p50_p99(&p.rejected),
            if p.rejected.is_empty() {
                "—".into()
            } else {
                dur(Duration::from_nanos(p.rejected.max()))
            },
            format!(
                "{:.0} req/s",
                p.accepted.len() as f64 / p.wall.as_secs_f64()
            ),
            (p.after.rejected - p.before.rejected).to_string(),
        ]);
    }
    let over_rss = |q: f64| -> u64 {
        // The sample nearest to fraction q of the phase.
        let target = q * over.wall.as_secs_f64();
        over.rss
            .iter()
            .min_by(|a, b| (a.0 - target).abs().total_cmp(&(b.0 - target).abs()))
            .map_or(0, |s| s.1)
    };
    let (start, middle, end) = (over_rss(0.0), over_rss(0.5), over_rss(1.0));
    let peak = over.rss.iter().map(|s| s.1).max().unwrap_or(0);
    let mut rss_table = Table::new(
        "overload: process RSS during the 2× phase (Stats.rss_bytes)",
        &["point", "RSS", "vs start"],
    );
    for (label, v) in [
        ("start", start),
        ("middle", middle),
        ("end", end),
        ("peak of samples", peak),
    ] {
        rss_table.row(vec![
            label.into(),
            mib(v as i64),
            mib(v as i64 - start as i64),
        ]);
    }
    let rej99 = pct(&over.rejected, 0.99);
    let base99 = pct(&base.accepted, 0.99);
    let over99 = pct(&over.accepted, 0.99);
    // Accepted latency is bounded by the queue: at most QUEUE waiters ahead
    // of SLOTS running, each DELAY long.
    let bound = DELAY * (QUEUE as u32 / SLOTS + 1);
    table.note(format!(
        "Budget: rejection p99 ≤ 10 ms: {} ({}). Accepted p99 at 2× is {} of the 0.5× baseline ({} vs {}); the queue bounds it near (queue / slots + 1) × {} = {} plus overhead. Stats.rejected counted {} rejections against {} RESOURCE_EXHAUSTED seen by the client; Stats.errors RESOURCE_EXHAUSTED went up by {}. No request failed with another code: {}.",
        verdict(!over.rejected.is_empty() && rej99 <= Duration::from_millis(10)),
        dur(rej99),
        ratio(over99.as_secs_f64(), base99.as_secs_f64()),
        dur(over99),
        dur(base99),
        dur(DELAY),
        dur(bound),
        over.after.rejected - over.before.rejected,
        over.rejected.len(),
        errors_with(&over.after, "RESOURCE_EXHAUSTED")
            - errors_with(&over.before, "RESOURCE_EXHAUSTED"),
        verdict(base.other + over.other == 0),
    ));
    rss_table.note(format!(
        "Budget: RSS flat under overload: {} (end − start {}, peak − start {}; {} samples every {}). RSS is the whole process (router, emulator, load generator).",
        verdict(end.saturating_sub(start) <= 1024 * 1024 && peak.saturating_sub(start) <= 2 * 1024 * 1024),
        mib(end as i64 - start as i64),
        mib(peak as i64 - start as i64),
        over.rss.len(),
        dur(RSS_EVERY),
    ));
    table.print();
    rss_table.print();
    setup.stop().await?;
    Ok(())
}
