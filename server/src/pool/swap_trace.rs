//! The swap bench's workload replayed against the real pool under tokio's
//! paused clock: a seeded sequence of calls over more models than the cap,
//! pulled in order from one shared queue by a few concurrent callers, each
//! call a lease held for the generation time. Simulated processes take a
//! fixed time to load and to exit, so one seed always gives the same run
//! and the number of loads is a property of the pool's policy alone.
//! The tests compare the default policy with its hold turned off.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::catalogue::LocalModelSpec;
use super::launcher::Launcher;
use super::process::ChildProcess;
use super::simulation::{Census, catalogue};
use super::slots::SlotPermit;
use super::{Pool, PoolError, PoolInner};
use crate::config::LocalConfig;

/// The workload and the simulated costs.
#[derive(Clone, Debug)]
pub(super) struct Trace {
    /// Relative weight of each model.
    pub weights: Vec<f64>,
    pub callers: usize,
    pub calls: usize,
    pub cap: usize,
    pub seed: u64,
    /// Spawn to ready.
    pub load: Duration,
    /// A lease's hold (the generation).
    pub call: Duration,
    /// Stop to reaped.
    pub exit: Duration,
    /// A caller's pause between one call's end and its next call.
    pub gap: Duration,
}

impl Trace {
    /// The swap bench's Zipf mix: weights 1, 1/2, 1/3, 1/4, 4 callers.
    pub fn zipf(seed: u64) -> Trace {
        Trace {
            weights: (1..=4).map(|k| 1.0 / k as f64).collect(),
            callers: 4,
            calls: 150,
            cap: 2,
            seed,
            load: Duration::from_millis(25),
            call: Duration::from_millis(8),
            exit: Duration::from_millis(8),
            gap: Duration::from_millis(1),
        }
    }

    /// The swap bench's uniform mix: 6 callers.
    pub fn uniform(seed: u64) -> Trace {
        Trace {
            weights: vec![1.0; 4],
            callers: 6,
            ..Trace::zipf(seed)
        }
    }

    /// One caller with long pauses: nothing is busy when a load queues.
    pub fn quiet(seed: u64) -> Trace {
        Trace {
            callers: 1,
            calls: 60,
            gap: Duration::from_millis(300),
            ..Trace::zipf(seed)
        }
    }

    fn picks(&self) -> Vec<usize> {
        let total: f64 = self.weights.iter().sum();
        let mut rng = StdRng::seed_from_u64(self.seed);
        (0..self.calls)
            .map(|_| {
                let mut x = rng.random_range(0.0..total);
                for (i, w) in self.weights.iter().enumerate() {
                    x -= w;
                    if x < 0.0 {
                        return i;
                    }
                }
                self.weights.len() - 1
            })
            .collect()
    }
}

/// What one replay measured.
#[derive(Clone, Debug, Default)]
pub(super) struct Replay {
    /// Processes started.
    pub loads: u32,
    /// First call to last.
    pub wall: Duration,
    /// 99th percentile call latency.
    pub p99: Duration,
    /// Mean call latency.
    pub mean: Duration,
    /// Most processes alive at once (counted by the launcher).
    pub most_live: usize,
}

/// Brings a simulated process up after exactly `load`.
struct FixedLauncher {
    trace: Trace,
    census: Arc<Census>,
}

impl Launcher for FixedLauncher {
    fn launch<'a>(
        &'a self,
        pool: &'a PoolInner,
        spec: &'a LocalModelSpec,
        slot: &'a Arc<SlotPermit>,
    ) -> BoxFuture<'a, Result<Arc<ChildProcess>, PoolError>> {
        Box::pin(async move {
            let (child, _) = self.census.spawn(pool, spec, slot, self.trace.exit);
            tokio::time::sleep(self.trace.load).await;
            Ok(child)
        })
    }
}

/// Replays `trace` against a pool built from `config` (its cap is the
/// trace's). Every call must succeed.
pub(super) fn replay(trace: &Trace, config: LocalConfig) -> Replay {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let census = Arc::new(Census::default());
        let life = crate::lifecycle::Lifecycle::new();
        let config = LocalConfig {
            max_loaded_models: trace.cap,
            idle_ttl: None,
            health_interval: Duration::from_secs(24 * 3600),
            ..config
        };
        let pool = Pool::start_with(
            config,
            catalogue(trace.weights.len()),
            Arc::new(FixedLauncher {
                trace: trace.clone(),
                census: census.clone(),
            }),
            crate::metrics::PoolMetrics::default(),
            &life,
        )
        .unwrap();
        let picks = Arc::new(trace.picks());
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..trace.callers {
            let (pool, picks, next, trace) =
                (pool.clone(), picks.clone(), next.clone(), trace.clone());
            callers.spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&model) = picks.get(i) else {
                        return latencies;
                    };
                    let entry = pool.model(&format!("m{model}")).unwrap();
                    let t = Instant::now();
                    let lease = pool.acquire(&entry).await.unwrap();
                    tokio::time::sleep(trace.call).await;
                    drop(lease);
                    latencies.push(t.elapsed());
                    tokio::time::sleep(trace.gap).await;
                }
            });
        }
        let mut latencies: Vec<Duration> =
            tokio::time::timeout(Duration::from_secs(3600), callers.join_all())
                .await
                .expect("the replay hung")
                .into_iter()
                .flatten()
                .collect();
        let wall = started.elapsed();
        let mean = latencies.iter().sum::<Duration>() / latencies.len() as u32;
        latencies.sort_unstable();
        let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
        pool.shutdown().await;
        life.finish().await;
        Replay {
            loads: census.spawned.load(Ordering::SeqCst),
            wall,
            p99,
            mean,
            most_live: census.most_live.load(Ordering::SeqCst),
        }
    })
}

/// Sums of `replay` over seeds `0..seeds`.
pub(super) fn replay_seeds(make: fn(u64) -> Trace, seeds: u64, config: &LocalConfig) -> Replay {
    let mut total = Replay::default();
    for seed in 0..seeds {
        let r = replay(&make(seed), config.clone());
        total.loads += r.loads;
        total.wall += r.wall;
        total.p99 = total.p99.max(r.p99);
        total.mean += r.mean / seeds as u32;
        total.most_live = total.most_live.max(r.most_live);
    }
    total
}

/// The pool as configured by default, and with the hold turned off.
fn held_and_immediate() -> (LocalConfig, LocalConfig) {
    let held = LocalConfig::default();
    let immediate = LocalConfig {
        swap_hold: Duration::ZERO,
        ..LocalConfig::default()
    };
    (held, immediate)
}

const SEEDS: u64 = 20;

/// Both policies over the same seeds; checks the cap, reports the figures.
fn compare(name: &str, make: fn(u64) -> Trace) -> (Replay, Replay) {
    let (held, immediate) = held_and_immediate();
    let with_hold = replay_seeds(make, SEEDS, &held);
    let without = replay_seeds(make, SEEDS, &immediate);
    eprintln!("{name}, {SEEDS} seeds: with the hold {with_hold:?}; without {without:?}");
    let cap = make(0).cap;
    assert!(with_hold.most_live <= cap && without.most_live <= cap);
    (with_hold, without)
}

/// At least a fifth fewer loads with the hold (about 30% on both mixes;
/// deterministic: paused clock, fixed seeds).
fn assert_fewer_loads(name: &str, make: fn(u64) -> Trace) {
    let (with_hold, without) = compare(name, make);
    assert!(
        with_hold.loads * 10 <= without.loads * 8,
        "{name}: {} loads with the hold, {} without",
        with_hold.loads,
        without.loads
    );
}

#[test]
fn holding_back_a_queued_load_cuts_loads_on_the_zipf_trace() {
    assert_fewer_loads("zipf", Trace::zipf);
}

#[test]
fn holding_back_a_queued_load_cuts_loads_on_the_uniform_trace() {
    assert_fewer_loads("uniform", Trace::uniform);
}

#[test]
fn a_quiet_pool_loads_exactly_as_without_the_hold() {
    // Loaded models idle longer than a hold are not held on to: a lone
    // caller's cold call never waits for the sake of a popular model.
    let (with_hold, without) = compare("quiet", Trace::quiet);
    assert_eq!(with_hold.loads, without.loads);
    assert_eq!(with_hold.wall, without.wall);
    assert_eq!(with_hold.mean, without.mean);
    assert_eq!(with_hold.p99, without.p99);
}
