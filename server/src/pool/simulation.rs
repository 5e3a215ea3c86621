//! Model check of the pool's slot and lease state machine: a deterministic
//! simulation under tokio's paused clock, with a simulated launcher in place
//! of llama-server. Each seed drives callers that acquire random models in a
//! skewed mix with random hold times, deadlines and cancellations, while
//! simulated processes take random times to load, fail to start, crash while
//! warm, take random times to exit after SIGTERM, and get unloaded or
//! expire by idle TTL. Different seeds give different interleavings; one
//! seed always gives the same run, so a failure names the seed that
//! reproduces it.
//!
//! Checked in every run: the number of live simulated processes (counted by
//! the launcher itself, independently of the pool's bookkeeping) never
//! exceeds the cap; no call waits past its deadline or hangs; no call fails
//! for lack of room; without injected start failures every call without a
//! deadline succeeds; and once the callers are gone, every held slot
//! belongs to a live process, no load is stuck, and shutdown reaps all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::catalogue::LocalModelSpec;
use super::entry::Phase;
use super::launcher::Launcher;
use super::process::{ChildControl, ChildProcess, model_argument};
use super::slots::SlotPermit;
use super::{Pool, PoolError, PoolInner};
use crate::config::{LlamaSettings, LocalConfig};

/// What a run injects.
#[derive(Clone, Copy, Debug)]
struct Chaos {
    models: usize,
    cap: usize,
    callers: usize,
    calls_per_caller: usize,
    /// Chance that a start fails (the process exits during start-up).
    start_failure: f64,
    /// Chance that a warm process crashes while a caller holds it.
    crash: f64,
    /// Chance that a call has a short deadline.
    deadline: f64,
    /// Chance that a caller gives up (drops the call) at a random moment.
    cancel: f64,
    /// Idle TTL, if any.
    idle_ttl: Option<Duration>,
    /// Memory budget in units of one model file, if any.
    budget_files: Option<u64>,
}

const CALM: Chaos = Chaos {
    models: 4,
    cap: 2,
    callers: 4,
    calls_per_caller: 25,
    start_failure: 0.0,
    crash: 0.0,
    deadline: 0.0,
    cancel: 0.0,
    idle_ttl: None,
    budget_files: None,
};

const FILE_BYTES: u64 = 1 << 20;

/// The launcher's own count of live processes, independent of the slots.
#[derive(Default)]
pub(super) struct Census {
    live: AtomicUsize,
    pub(super) most_live: AtomicUsize,
    pub(super) spawned: AtomicU32,
    violations: Mutex<Vec<String>>,
}

impl Census {
    /// Counts a new simulated process in and starts it: it runs until it is
    /// stopped (then exits after `exit_grace`) or killed. Returns it and the
    /// number now live.
    pub(super) fn spawn(
        self: &Arc<Census>,
        pool: &PoolInner,
        spec: &LocalModelSpec,
        slot: &Arc<SlotPermit>,
        exit_grace: Duration,
    ) -> (Arc<ChildProcess>, usize) {
        let live = self.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_live.fetch_max(live, Ordering::SeqCst);
        let n = self.spawned.fetch_add(1, Ordering::SeqCst);
        // Above the kernel's pid_max: no real process is ever looked at.
        let (child, control) =
            ChildProcess::new(&spec.id, &model_argument(spec), 5_000_000 + n, 0, slot);
        pool.tasks
            .spawn(simulated_process(control, self.clone(), exit_grace));
        (child, live)
    }
}

struct SimLauncher {
    rng: Mutex<StdRng>,
    chaos: Chaos,
    census: Arc<Census>,
}

impl SimLauncher {
    fn roll(&self, p: f64) -> bool {
        p > 0.0 && self.rng.lock().unwrap().random_bool(p)
    }

    fn millis(&self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.rng.lock().unwrap().random_range(lo..=hi))
    }
}

impl Launcher for SimLauncher {
    fn launch<'a>(
        &'a self,
        pool: &'a PoolInner,
        spec: &'a LocalModelSpec,
        slot: &'a Arc<SlotPermit>,
    ) -> BoxFuture<'a, Result<Arc<ChildProcess>, PoolError>> {
        Box::pin(async move {
            let census = &self.census;
            let (child, live) = census.spawn(pool, spec, slot, self.millis(0, 40));
            // Each simulated process reserves one file's worth of memory.
            let cap = self
                .chaos
                .budget_files
                .map_or(self.chaos.cap, |n| self.chaos.cap.min(n as usize));
            if live > cap {
                census
                    .violations
                    .lock()
                    .unwrap()
                    .push(format!("{live} live processes under a cap of {cap}"));
            }
            tokio::time::sleep(self.millis(1, 120)).await;
            if self.roll(self.chaos.start_failure) {
                child.kill();
                child.exited().await;
                return Err(PoolError::ExitedDuringStartup {
                    model: spec.id.clone(),
                    status: "exit code 1".into(),
                    stderr_tail: "simulated start failure".into(),
                });
            }
            Ok(child)
        })
    }
}

/// A process: runs until stopped (exits after `exit_grace`, as after a
/// SIGTERM) or killed (at once); counts itself out, then frees its slot,
/// then reports the exit, in the order the real supervisor does.
async fn simulated_process(control: ChildControl, census: Arc<Census>, exit_grace: Duration) {
    let ChildControl {
        exit,
        stop,
        kill,
        slot,
    } = control;
    tokio::select! {
        _ = kill.cancelled() => {}
        _ = stop.cancelled() => {
            tokio::select! {
                _ = tokio::time::sleep(exit_grace) => {}
                _ = kill.cancelled() => {}
            }
        }
    }
    census.live.fetch_sub(1, Ordering::SeqCst);
    drop(slot);
    let _ = exit.send(Some("exited".into()));
}

fn config(chaos: &Chaos) -> LocalConfig {
    LocalConfig {
        models_dirs: Vec::new(),
        max_loaded_models: chaos.cap,
        memory_budget_bytes: chaos.budget_files.map(|n| n * FILE_BYTES),
        idle_ttl: chaos.idle_ttl,
        // Far beyond any run: a call never fails for lack of room.
        slot_wait_timeout: Duration::from_secs(3600),
        startup_timeout: Duration::from_secs(60),
        // No HTTP probes of simulated processes.
        health_interval: Duration::from_secs(24 * 3600),
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_millis(500),
        ..LocalConfig::default()
    }
}

pub(super) fn catalogue(models: usize) -> BTreeMap<String, LocalModelSpec> {
    (0..models)
        .map(|i| {
            let id = format!("m{i}");
            let spec = LocalModelSpec {
                id: id.clone(),
                path: PathBuf::from(format!("/nonexistent/{id}.gguf")),
                settings: LlamaSettings::default(),
                file_bytes: FILE_BYTES,
            };
            (id, spec)
        })
        .collect()
}

/// Zipf-like pick: weights 1, 1/2, 1/3, ...
fn pick(rng: &mut StdRng, models: usize) -> usize {
    let total: f64 = (1..=models).map(|k| 1.0 / k as f64).sum();
    let mut x = rng.random_range(0.0..total);
    for k in 1..=models {
        x -= 1.0 / k as f64;
        if x < 0.0 {
            return k - 1;
        }
    }
    models - 1
}

#[derive(Default, Debug)]
struct Tally {
    ok: usize,
    deadline: usize,
    cancelled: usize,
    start_failures: usize,
    unexpected: Vec<String>,
}

async fn caller(pool: Pool, chaos: Chaos, seed: u64, index: usize) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9));
    let mut tally = Tally::default();
    for _ in 0..chaos.calls_per_caller {
        let model = format!("m{}", pick(&mut rng, chaos.models));
        let entry = pool.model(&model).unwrap();
        let deadline = rng
            .random_bool(chaos.deadline)
            .then(|| Duration::from_millis(rng.random_range(1..300)));
        let cancel_after = rng
            .random_bool(chaos.cancel)
            .then(|| Duration::from_millis(rng.random_range(0..200)));
        let hold = Duration::from_millis(rng.random_range(1..80));
        let crash = chaos.crash > 0.0 && rng.random_bool(chaos.crash);
        let call = async {
            let lease = pool.acquire(&entry).await?;
            if crash {
                lease.report_hung();
            }
            tokio::time::sleep(hold).await;
            Ok::<_, PoolError>(())
        };
        let bound = deadline.or(cancel_after);
        let result = match bound {
            Some(after) => tokio::time::timeout(after, call).await.ok(),
            None => Some(call.await),
        };
        match (result, deadline.is_some()) {
            (Some(Ok(())), _) => tally.ok += 1,
            (None, true) => tally.deadline += 1,
            (None, false) => tally.cancelled += 1,
            (
                Some(Err(PoolError::ExitedDuringStartup { .. } | PoolError::BackingOff { .. })),
                _,
            ) if chaos.start_failure > 0.0 => tally.start_failures += 1,
            (Some(Err(e)), _) => tally.unexpected.push(format!("{model}: {e}")),
        }
        // Think time between calls, sometimes none.
        if rng.random_bool(0.5) {
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..30))).await;
        }
    }
    tally
}

/// Random unloads while the callers run.
async fn unloader(pool: Pool, chaos: Chaos, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xA5A5);
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        let id = format!("m{}", rng.random_range(0..chaos.models));
        pool.unload(&id).await;
    }
}

fn run(seed: u64, chaos: Chaos) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let census = Arc::new(Census::default());
        let launcher = Arc::new(SimLauncher {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            chaos,
            census: census.clone(),
        });
        let life = crate::lifecycle::Lifecycle::new();
        let pool = Pool::start_with(
            config(&chaos),
            catalogue(chaos.models),
            launcher,
            crate::metrics::PoolMetrics::default(),
            &life,
        )
        .unwrap();
        let mut callers = tokio::task::JoinSet::new();
        for i in 0..chaos.callers {
            callers.spawn(caller(pool.clone(), chaos, seed, i));
        }
        let mut unload = tokio::task::JoinSet::new();
        unload.spawn(unloader(pool.clone(), chaos, seed));
        // A hang shows up as the paused clock running far past any sane
        // run: every call is short, and room is made the moment it exists.
        let tallies = tokio::time::timeout(Duration::from_secs(600), callers.join_all())
            .await
            .unwrap_or_else(|_| {
                panic!("seed {seed}: callers still waiting after 600 s ({chaos:?})")
            });
        unload.join_all().await;
        let mut total = Tally::default();
        for t in tallies {
            total.ok += t.ok;
            total.deadline += t.deadline;
            total.cancelled += t.cancelled;
            total.start_failures += t.start_failures;
            total.unexpected.extend(t.unexpected);
        }
        assert!(
            total.unexpected.is_empty(),
            "seed {seed}: unexpected failures {:?} ({chaos:?})",
            total.unexpected
        );
        if chaos.start_failure == 0.0 && chaos.crash == 0.0 {
            assert_eq!(
                total.ok + total.deadline + total.cancelled,
                chaos.callers * chaos.calls_per_caller,
                "seed {seed}: {total:?}"
            );
        }
        assert!(total.ok > 0, "seed {seed}: nothing succeeded: {total:?}");

        // Quiescence: loads that were granted finish, exits complete.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let inner = &pool.inner;
        assert_eq!(
            inner.slots.waiting(),
            0,
            "seed {seed}: a load is still queued"
        );
        let warm = inner
            .entries
            .load()
            .values()
            .filter(|e| {
                let phase = e.phase();
                assert!(
                    !matches!(&*phase, Phase::Loading(_)),
                    "seed {seed}: {} is stuck loading",
                    e.spec.id
                );
                matches!(&*phase, Phase::Warm(c) if c.is_alive())
            })
            .count();
        let live = census.live.load(Ordering::SeqCst);
        assert_eq!(
            inner.slots.held(),
            live,
            "seed {seed}: slots held by no process"
        );
        assert_eq!(live, warm, "seed {seed}: a live process that is not warm");
        assert!(
            census.violations.lock().unwrap().is_empty(),
            "seed {seed}: {:?}",
            census.violations.lock().unwrap()
        );
        pool.shutdown().await;
        assert_eq!(census.live.load(Ordering::SeqCst), 0, "seed {seed}");
        assert_eq!(inner.slots.held(), 0, "seed {seed}");
        life.finish().await;
    });
}

fn seeds() -> std::ops::Range<u64> {
    let n = std::env::var("POOL_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    0..n
}

#[test]
fn swapping_four_models_over_two_slots_never_stalls_or_overshoots() {
    for seed in seeds() {
        run(seed, CALM);
    }
}

#[test]
fn one_slot_many_callers_uniform_pressure() {
    for seed in seeds() {
        run(
            seed,
            Chaos {
                models: 3,
                cap: 1,
                callers: 6,
                ..CALM
            },
        );
    }
}

#[test]
fn deadlines_and_cancellations_leave_no_slot_taken() {
    for seed in seeds() {
        run(
            seed,
            Chaos {
                deadline: 0.25,
                cancel: 0.15,
                callers: 6,
                ..CALM
            },
        );
    }
}

#[test]
fn start_failures_crashes_and_ttl_keep_the_books_straight() {
    for seed in seeds() {
        run(
            seed,
            Chaos {
                start_failure: 0.1,
                crash: 0.05,
                deadline: 0.1,
                cancel: 0.1,
                idle_ttl: Some(Duration::from_millis(150)),
                ..CALM
            },
        );
    }
}

#[test]
fn a_memory_budget_bounds_reservations_like_the_count() {
    for seed in seeds() {
        run(
            seed,
            Chaos {
                cap: 4,
                budget_files: Some(2),
                deadline: 0.1,
                ..CALM
            },
        );
    }
}
