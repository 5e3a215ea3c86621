//! `hit_ratio`: a skewed (Zipf s = 1, seeded) sequence of requests over more
//! models than `max_loaded_models` allows, sent one at a time. The pool's
//! hits and evictions (from `Stats`) are compared with an LRU cache
//! simulated over the same sequence (the policy the pool implements) and
//! with Belady's clairvoyant optimum (the bound for any policy).

use std::time::Instant;

use ai_router_benches::load::{hist_of, median};
use ai_router_benches::report::{Table, dur, pct};
use ai_router_benches::req::Ask;
use ai_router_benches::rng::{lru_hits, optimal_hits, zipf_sequence};
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::router::{TestRouter, local_config};

use crate::common::{generate, stats};

const MODELS: usize = 6;
const MAX_LOADED: usize = 3;
const REQUESTS: usize = 300;
const SEED: u64 = 42;
const ZIPF_S: f64 = 1.0;

pub async fn run() -> anyhow::Result<()> {
    let ids: Vec<String> = (0..MODELS).map(|i| format!("h{i}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let models = ModelDir::with_models(&id_refs)?;
    let mut config = local_config(models.path())?;
    config.local.max_loaded_models = MAX_LOADED;
    let router = TestRouter::start(config).await?;
    let client = router.raw_client().await?;

    let sequence = zipf_sequence(MODELS, ZIPF_S, REQUESTS, SEED);
    let mut counts = [0usize; MODELS];
    for &m in &sequence {
        counts[m] += 1;
    }

    let before = stats(&client).await?;
    let (mut warm, mut cold) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for (i, &m) in sequence.iter().enumerate() {
        let ask = Ask::new(ids[m].clone(), format!("Request {i}."), 4);
        let t = Instant::now();
        let reply = generate(&client, &ask).await?;
        let took = t.elapsed();
        if reply.timing.is_some_and(|t| t.cold_start) {
            cold.push(took);
        } else {
            warm.push(took);
        }
    }
    let wall = started.elapsed();
    let after = stats(&client).await?;
    let pool = |s: &ai_router_proto::v1::StatsResponse| s.pool.unwrap_or_default();
    let (p0, p1) = (pool(&before), pool(&after));
    let hits = p1.hits - p0.hits;
    let colds = p1.cold_starts - p0.cold_starts;
    let evictions = p1.evictions - p0.evictions;
    let (lru, lru_evictions) = lru_hits(&sequence, MAX_LOADED);
    let optimal = optimal_hits(&sequence, MAX_LOADED);

    let mut table = Table::new(
        format!(
            "hit ratio: {REQUESTS} sequential requests, Zipf(s = {ZIPF_S}) over {MODELS} tiny models, max_loaded_models = {MAX_LOADED}, seed {SEED}"
        ),
        &[
            "policy",
            "hits",
            "misses (cold starts)",
            "hit ratio",
            "evictions",
        ],
    );
    table.row(vec![
        "router pool (Stats)".into(),
        hits.to_string(),
        colds.to_string(),
        format!("{:.3}", hits as f64 / (hits + colds).max(1) as f64),
        evictions.to_string(),
    ]);
    table.row(vec![
        "LRU simulated on the same sequence".into(),
        lru.to_string(),
        (REQUESTS - lru).to_string(),
        format!("{:.3}", lru as f64 / REQUESTS as f64),
        lru_evictions.to_string(),
    ]);
    table.row(vec![
        "Belady optimum (clairvoyant bound)".into(),
        optimal.to_string(),
        (REQUESTS - optimal).to_string(),
        format!("{:.3}", optimal as f64 / REQUESTS as f64),
        (REQUESTS - optimal).saturating_sub(MAX_LOADED).to_string(),
    ]);
    let warm_h = hist_of(&warm)?;
    let cold_h = hist_of(&cold)?;
    table.note(format!(
        "Requests per model: {counts:?}. Warm requests: {} (p50 {}, p99 {}); cold requests: {} (median {}, p99 {}); wall {} in total. Pool load_time p50 {} µs.",
        warm.len(),
        dur(pct(&warm_h, 0.5)),
        dur(pct(&warm_h, 0.99)),
        cold.len(),
        dur(median(&cold)),
        dur(pct(&cold_h, 0.99)),
        dur(wall),
        p1.load_time.map_or(0, |l| l.p50_us),
    ));
    table.print();
    router.stop().await?;
    Ok(())
}
