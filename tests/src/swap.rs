//! The model-swap workload: more local models than the pool may
//! keep loaded, called in a seeded, skewed mix by a few concurrent callers,
//! so models are loaded and evicted all the time.
//!
//! - [`SwapWorkload`]: models, weights (Zipf-like 1, 1/2, 1/3, ... or
//!   uniform), calls, callers, max_tokens, per-call deadline, seed; its
//!   [`SwapWorkload::picks`] is the same sequence of models for the same
//!   seed, whatever runs it.
//! - [`SwapTarget`]: where the calls go: ai-router over gRPC (unary
//!   `Generate`) or any OpenAI-compatible HTTP server (non-streaming
//!   `POST {base}/v1/chat/completions`, e.g. llama.cpp's own router mode).
//! - [`run_swap`]: `callers` workers pull calls from one shared queue, each
//!   call bounded by the deadline, the whole run bounded by
//!   [`SwapWorkload::time_limit`]; returns a [`SwapReport`].
//! - [`ProcSampler`]: a thread that counts the llama-server processes under
//!   a root pid every few milliseconds, zombies included, so a report can
//!   say how many model processes existed at once against the cap.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ai_router_proto::v1::router_client::RouterClient;
use ai_router_proto::v1::{GenerateRequest, GenerationParams, generate_request::Input};
use anyhow::{Context, bail, ensure};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tonic::transport::Channel;

pub use crate::procs::ProcScope;
use crate::procs::ScopeFilter;

/// How long past its deadline a gRPC call may take before the client gives
/// up on it itself (the server should have answered DEADLINE_EXCEEDED).
const CLIENT_GRACE: Duration = Duration::from_secs(1);

/// Distinct messages kept per failure code.
const MESSAGES_KEPT: usize = 3;

/// Longest message kept, in characters.
const MESSAGE_CHARS: usize = 300;

/// Default interval of the [`ProcSampler`].
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(5);

/// A seeded model-swap workload.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapWorkload {
    /// Model ids, in rank order (the first is the most popular with the
    /// Zipf-like weights).
    pub models: Vec<String>,
    /// Relative weight of each model (same length as `models`, each > 0).
    pub weights: Vec<f64>,
    /// Calls in the run.
    pub calls: usize,
    /// Concurrent callers.
    pub callers: usize,
    /// `max_tokens` of every call.
    pub max_tokens: u32,
    /// Deadline of every call.
    pub deadline: Duration,
    /// Seed of the sequence of picks.
    pub seed: u64,
    /// No call starts after this much of the run has passed; calls never
    /// started count as failed (`NOT_STARTED`). Bounds the run at about
    /// `time_limit + deadline`.
    pub time_limit: Duration,
}

impl SwapWorkload {
    /// Issue 17's workload: Zipf-like weights 1, 1/2, 1/3, ..., 150 calls,
    /// 4 callers, 8 tokens, 20 s deadline, seed 17, 120 s time limit.
    pub fn zipf(models: Vec<String>) -> SwapWorkload {
        SwapWorkload {
            weights: zipf_weights(models.len()),
            models,
            calls: 150,
            callers: 4,
            max_tokens: 8,
            deadline: Duration::from_secs(20),
            seed: 17,
            time_limit: Duration::from_secs(120),
        }
    }

    /// The same with every model equally likely.
    pub fn uniform(models: Vec<String>) -> SwapWorkload {
        SwapWorkload {
            weights: vec![1.0; models.len()],
            ..SwapWorkload::zipf(models)
        }
    }

    /// Checks the fields make a runnable workload.
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(!self.models.is_empty(), "a swap workload needs models");
        ensure!(
            self.weights.len() == self.models.len(),
            "{} weights for {} models",
            self.weights.len(),
            self.models.len()
        );
        ensure!(
            self.weights.iter().all(|w| w.is_finite() && *w > 0.0),
            "weights must be finite and positive: {:?}",
            self.weights
        );
        ensure!(
            self.callers > 0,
            "a swap workload needs at least one caller"
        );
        ensure!(self.max_tokens > 0, "max_tokens must be at least 1");
        Ok(())
    }

    /// The model index of every call, in order: the same for the same seed,
    /// models, weights and calls (rand's `StdRng`, fixed by Cargo.lock).
    pub fn picks(&self) -> anyhow::Result<Vec<usize>> {
        self.validate()?;
        let total: f64 = self.weights.iter().sum();
        let mut cumulative = Vec::with_capacity(self.weights.len());
        let mut acc = 0.0;
        for w in &self.weights {
            acc += w / total;
            cumulative.push(acc);
        }
        let last = self.models.len() - 1;
        let mut rng = StdRng::seed_from_u64(self.seed);
        Ok((0..self.calls)
            .map(|_| {
                let u: f64 = rng.random();
                cumulative.iter().position(|c| u < *c).unwrap_or(last)
            })
            .collect())
    }
}

/// Zipf-like weights 1, 1/2, 1/3, ... for `n` models.
pub fn zipf_weights(n: usize) -> Vec<f64> {
    (1..=n).map(|k| 1.0 / k as f64).collect()
}

/// Where the calls of a workload go.
#[derive(Clone, Debug)]
pub enum SwapTarget {
    /// ai-router: unary `Generate` with the deadline as the gRPC timeout.
    Grpc(RouterClient<Channel>),
    /// An OpenAI-compatible server: non-streaming
    /// `POST {base}/v1/chat/completions`, the model chosen by the `model`
    /// field, the deadline as the HTTP client's timeout.
    OpenAi {
        /// Client (built by [`SwapTarget::openai`]: no proxy, a fresh
        /// connection per call).
        http: reqwest::Client,
        /// `http://host:port`, without `/v1`.
        base: String,
    },
}

impl SwapTarget {
    /// Connects a gRPC client to ai-router at `url` (`http://host:port`).
    pub async fn grpc(url: &str) -> anyhow::Result<SwapTarget> {
        let client = RouterClient::connect(url.to_string())
            .await
            .with_context(|| format!("connecting to ai-router at {url}"))?;
        Ok(SwapTarget::Grpc(client))
    }

    /// An OpenAI-compatible target at `base` (`http://host:port`). Idle
    /// connections are not kept: llama-server may close a connection after
    /// a response, and a call must not fail for a race with that close.
    pub fn openai(base: &str) -> anyhow::Result<SwapTarget> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()?;
        Ok(SwapTarget::OpenAi {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// One call; Err is the failure as (code, message).
    pub async fn call(
        &self,
        model: &str,
        prompt: &str,
        max_tokens: u32,
        deadline: Duration,
    ) -> Result<(), CallFailure> {
        match self {
            SwapTarget::Grpc(client) => {
                grpc_call(client, model, prompt, max_tokens, deadline).await
            }
            SwapTarget::OpenAi { http, base } => {
                openai_call(http, base, model, prompt, max_tokens, deadline).await
            }
        }
    }
}

async fn grpc_call(
    client: &RouterClient<Channel>,
    model: &str,
    prompt: &str,
    max_tokens: u32,
    deadline: Duration,
) -> Result<(), CallFailure> {
    let mut request = tonic::Request::new(GenerateRequest {
        model: model.to_string(),
        input: Some(Input::Prompt(prompt.to_string())),
        params: Some(GenerationParams {
            max_tokens: Some(max_tokens),
            ..Default::default()
        }),
        ..Default::default()
    });
    request.set_timeout(deadline);
    let mut client = client.clone();
    match tokio::time::timeout(deadline + CLIENT_GRACE, client.generate(request)).await {
        Ok(Ok(_)) => Ok(()),
        // tonic's channel enforces the request's grpc-timeout itself and
        // reports it as CANCELLED "Timeout expired": a deadline, client side.
        Ok(Err(status))
            if status.code() == tonic::Code::Cancelled
                && status.message() == tonic::TimeoutExpired(()).to_string() =>
        {
            Err(CallFailure::new(
                "DEADLINE_EXCEEDED",
                format!(
                    "no answer within the {deadline:?} deadline (client side: tonic's \
                     grpc-timeout, reported as CANCELLED \"{}\")",
                    status.message()
                ),
            ))
        }
        Ok(Err(status)) => Err(CallFailure::new(
            ai_router_proto::status::code_name(status.code()),
            status.message(),
        )),
        Err(_) => Err(CallFailure::new(
            "DEADLINE_EXCEEDED",
            format!("no answer within the {deadline:?} deadline + {CLIENT_GRACE:?} (client side)"),
        )),
    }
}

async fn openai_call(
    http: &reqwest::Client,
    base: &str,
    model: &str,
    prompt: &str,
    max_tokens: u32,
    deadline: Duration,
) -> Result<(), CallFailure> {
    let body = serde_json::json!({
        "model": model,
        "messages": [{ "role": "user", "content": prompt }],
        "max_tokens": max_tokens,
        "stream": false,
    });
    let transport = |e: reqwest::Error| {
        if e.is_timeout() {
            CallFailure::new(
                "DEADLINE_EXCEEDED",
                format!("no answer within the {deadline:?} deadline (client side)"),
            )
        } else if e.is_connect() {
            CallFailure::new("CONNECT", error_chain(&e))
        } else {
            CallFailure::new("TRANSPORT", error_chain(&e))
        }
    };
    let response = http
        .post(format!("{base}/v1/chat/completions"))
        .timeout(deadline)
        .json(&body)
        .send()
        .await
        .map_err(transport)?;
    let status = response.status();
    let text = response.text().await.map_err(transport)?;
    if !status.is_success() {
        // OpenAI-style errors: {"error":{"message":..}}; else the raw body.
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.pointer("/error/message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or(text);
        return Err(CallFailure::new(
            format!("HTTP {}", status.as_u16()),
            message,
        ));
    }
    let has_choice = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.pointer("/choices/0/message").map(|_| ()))
        .is_some();
    if has_choice {
        Ok(())
    } else {
        Err(CallFailure::new("BAD_BODY", text))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Why one call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    /// gRPC code name, `HTTP 503`, `DEADLINE_EXCEEDED` (also for an HTTP
    /// client timeout), `CONNECT`, `TRANSPORT`, `BAD_BODY`.
    pub code: String,
    /// The server's or the client's message, cut to a few hundred chars.
    pub message: String,
}

impl CallFailure {
    fn new(code: impl Into<String>, message: impl AsRef<str>) -> CallFailure {
        let message = message.as_ref().trim();
        let message = match message.char_indices().nth(MESSAGE_CHARS) {
            Some((cut, _)) => format!("{}…", &message[..cut]),
            None => message.to_string(),
        };
        CallFailure {
            code: code.into(),
            message,
        }
    }
}

/// Failures with one code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureGroup {
    /// How many calls failed with this code.
    pub count: usize,
    /// The first few distinct messages.
    pub messages: Vec<String>,
}

/// Calls and successes of one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelTally {
    /// Model id.
    pub model: String,
    /// Calls picked for it (started or not).
    pub calls: usize,
    /// Calls that succeeded.
    pub ok: usize,
}

/// The outcome of [`run_swap`].
#[derive(Debug, Clone)]
pub struct SwapReport {
    /// From the first call started to the last call finished.
    pub wall: Duration,
    /// Calls in the workload.
    pub calls: usize,
    /// Calls that succeeded.
    pub ok: usize,
    /// Calls that failed, including those never started.
    pub failed: usize,
    /// Calls never started because the time limit passed.
    pub not_started: usize,
    /// Failures by code (`NOT_STARTED` for calls never started).
    pub failures: BTreeMap<String, FailureGroup>,
    /// Latency of every call that ran, failed or not, sorted ascending.
    pub latencies: Vec<Duration>,
    /// Per model, in the workload's order.
    pub per_model: Vec<ModelTally>,
    /// What the process sampler saw, when the run had a root pid to watch.
    pub procs: Option<SamplerStats>,
}

impl SwapReport {
    /// Nearest-rank quantile of the call latencies (zero with no calls).
    pub fn latency(&self, q: f64) -> Duration {
        quantile(&self.latencies, q)
    }

    /// Median call latency.
    pub fn p50(&self) -> Duration {
        self.latency(0.50)
    }

    /// 99th percentile call latency.
    pub fn p99(&self) -> Duration {
        self.latency(0.99)
    }

    /// Slowest call.
    pub fn max_latency(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    /// Most llama-server processes seen at once, zombies included.
    pub fn max_live(&self) -> Option<usize> {
        self.procs.as_ref().map(|p| p.max_live)
    }

    /// llama-server processes started during the run (distinct pids).
    pub fn spawns(&self) -> Option<usize> {
        self.procs.as_ref().map(SamplerStats::spawned)
    }

    /// Failures as `CODE×n, CODE×n` (or `-`).
    pub fn failure_summary(&self) -> String {
        if self.failures.is_empty() {
            return "-".into();
        }
        self.failures
            .iter()
            .map(|(code, g)| format!("{code}×{}", g.count))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for SwapReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} calls in {:.2?}: {} ok, {} failed ({}); latency p50 {:.1?} p99 {:.1?} max {:.1?}",
            self.calls,
            self.wall,
            self.ok,
            self.failed,
            self.failure_summary(),
            self.p50(),
            self.p99(),
            self.max_latency()
        )?;
        if let Some(p) = &self.procs {
            write!(
                f,
                "; llama-server: {} started, at most {} live ({} running, {} unreaped), {} samples ({:.0?} reading /proc)",
                p.spawned(),
                p.max_live,
                p.max_running,
                p.max_zombies,
                p.samples,
                p.busy
            )?;
        }
        for (code, g) in &self.failures {
            for m in &g.messages {
                write!(f, "\n  {code}: {m}")?;
            }
        }
        Ok(())
    }
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One call as it happened.
struct CallRecord {
    model: usize,
    latency: Duration,
    result: Result<(), CallFailure>,
}

/// Runs `workload` against `target`: `callers` workers take the next call
/// from one shared queue until it is empty or the time limit has passed.
/// With `watch`, a [`ProcSampler`] counts the llama-server processes in
/// that scope for the duration of the run (for a router served in this
/// process, `std::process::id()` and its models directory; for a router in
/// its own process, its pid).
pub async fn run_swap(
    workload: &SwapWorkload,
    target: &SwapTarget,
    watch: Option<ProcScope>,
) -> anyhow::Result<SwapReport> {
    let picks = workload.picks()?;
    let sampler = match watch {
        Some(scope) => Some(ProcSampler::start(scope, SAMPLE_INTERVAL)?),
        None => None,
    };
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let stop_at = started + workload.time_limit;
    let worker = |w: usize| {
        let (picks, next) = (&picks, &next);
        async move {
            let mut records = Vec::new();
            while Instant::now() < stop_at {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&model) = picks.get(i) else { break };
                let prompt = format!("caller {w} call {i}: say hello");
                let t = Instant::now();
                let result = target
                    .call(
                        &workload.models[model],
                        &prompt,
                        workload.max_tokens,
                        workload.deadline,
                    )
                    .await;
                records.push(CallRecord {
                    model,
                    latency: t.elapsed(),
                    result,
                });
            }
            records
        }
    };
    // All workers are polled by this one task: the calls are I/O, and
    // nothing outlives the run.
    let records: Vec<CallRecord> = futures::future::join_all((0..workload.callers).map(worker))
        .await
        .into_iter()
        .flatten()
        .collect();
    let wall = started.elapsed();
    let procs = sampler.map(ProcSampler::finish).transpose()?;
    Ok(tally(workload, &picks, records, wall, procs))
}

fn tally(
    workload: &SwapWorkload,
    picks: &[usize],
    records: Vec<CallRecord>,
    wall: Duration,
    procs: Option<SamplerStats>,
) -> SwapReport {
    let mut per_model: Vec<ModelTally> = workload
        .models
        .iter()
        .map(|m| ModelTally {
            model: m.clone(),
            calls: 0,
            ok: 0,
        })
        .collect();
    for &p in picks {
        per_model[p].calls += 1;
    }
    let mut failures: BTreeMap<String, FailureGroup> = BTreeMap::new();
    let mut latencies = Vec::with_capacity(records.len());
    let mut ok = 0;
    for record in &records {
        latencies.push(record.latency);
        match &record.result {
            Ok(()) => {
                ok += 1;
                per_model[record.model].ok += 1;
            }
            Err(failure) => {
                let group = failures.entry(failure.code.clone()).or_default();
                group.count += 1;
                if group.messages.len() < MESSAGES_KEPT
                    && !group.messages.contains(&failure.message)
                {
                    group.messages.push(failure.message.clone());
                }
            }
        }
    }
    let not_started = picks.len() - records.len();
    if not_started > 0 {
        failures.insert(
            "NOT_STARTED".into(),
            FailureGroup {
                count: not_started,
                messages: vec![format!(
                    "the run's {:?} time limit passed first",
                    workload.time_limit
                )],
            },
        );
    }
    latencies.sort_unstable();
    SwapReport {
        wall,
        calls: picks.len(),
        ok,
        failed: picks.len() - ok,
        not_started,
        failures,
        latencies,
        per_model,
        procs,
    }
}

/// What a [`ProcSampler`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SamplerStats {
    /// Samples taken.
    pub samples: u64,
    /// Most llama-server processes at once, zombies (exited, not yet
    /// reaped) included.
    pub max_live: usize,
    /// Most at once not counting zombies.
    pub max_running: usize,
    /// Most zombies at once.
    pub max_zombies: usize,
    /// Samples by live count (zombies included): how long each count held.
    pub samples_by_live: BTreeMap<usize, u64>,
    /// Pids present at the first sample (taken before `start` returned).
    pub initial: BTreeSet<u32>,
    /// Every pid seen, the initial ones included.
    pub seen: BTreeSet<u32>,
    /// Time spent reading /proc (the sampler's own cost, on its thread).
    pub busy: Duration,
}

impl SamplerStats {
    /// Processes started while sampling (distinct pids not present at the
    /// start). A process that lived less than one interval may be missed.
    pub fn spawned(&self) -> usize {
        self.seen.difference(&self.initial).count()
    }

    /// Samples with more than `cap` live processes.
    pub fn samples_over(&self, cap: usize) -> u64 {
        self.samples_by_live.range(cap + 1..).map(|(_, n)| n).sum()
    }

    fn record(&mut self, procs: &[crate::procs::ProcInfo]) {
        let zombies = procs.iter().filter(|p| p.state == 'Z').count();
        self.samples += 1;
        self.max_live = self.max_live.max(procs.len());
        self.max_running = self.max_running.max(procs.len() - zombies);
        self.max_zombies = self.max_zombies.max(zombies);
        *self.samples_by_live.entry(procs.len()).or_default() += 1;
        self.seen.extend(procs.iter().map(|p| p.pid));
    }
}

/// A thread counting the llama-server processes under a root pid every
/// `interval` until [`ProcSampler::finish`] (or drop) stops and joins it.
pub struct ProcSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<(SamplerStats, ScopeFilter)>>,
}

impl ProcSampler {
    /// Takes the first sample now, then samples on a thread.
    pub fn start(scope: impl Into<ProcScope>, interval: Duration) -> anyhow::Result<ProcSampler> {
        let mut filter = ScopeFilter::new(scope.into());
        let mut stats = SamplerStats::default();
        let first = filter.sample();
        stats.initial = first.iter().map(|p| p.pid).collect();
        stats.record(&first);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("swap-proc-sampler".into())
            .spawn(move || {
                loop {
                    // Woken early by finish(); a spurious wake-up only
                    // means one extra sample.
                    std::thread::park_timeout(interval);
                    if flag.load(Ordering::Acquire) {
                        return (stats, filter);
                    }
                    let t = Instant::now();
                    let procs = filter.sample();
                    stats.busy += t.elapsed();
                    stats.record(&procs);
                }
            })
            .context("starting the process sampler thread")?;
        Ok(ProcSampler {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops and joins the thread, takes one last sample, and returns what
    /// was seen.
    pub fn finish(mut self) -> anyhow::Result<SamplerStats> {
        match self.stop_and_join() {
            Some(Ok((mut stats, mut filter))) => {
                stats.record(&filter.sample());
                Ok(stats)
            }
            Some(Err(_)) => bail!("the process sampler thread panicked"),
            None => bail!("the process sampler was already stopped"),
        }
    }

    fn stop_and_join(&mut self) -> Option<std::thread::Result<(SamplerStats, ScopeFilter)>> {
        let thread = self.thread.take()?;
        self.stop.store(true, Ordering::Release);
        thread.thread().unpark();
        Some(thread.join())
    }
}

impl Drop for ProcSampler {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn four() -> Vec<String> {
        (0..4).map(|i| format!("m{i}")).collect()
    }

    #[test]
    fn picks_are_deterministic_per_seed() {
        let w = SwapWorkload::zipf(four());
        assert_eq!(w.picks().unwrap(), w.picks().unwrap());
        assert_eq!(w.picks().unwrap().len(), 150);
        let other = SwapWorkload {
            seed: 18,
            ..w.clone()
        };
        assert_ne!(w.picks().unwrap(), other.picks().unwrap());
    }

    #[test]
    fn zipf_picks_follow_the_weights() {
        let w = SwapWorkload {
            calls: 20_000,
            ..SwapWorkload::zipf(four())
        };
        let mut counts = [0usize; 4];
        for p in w.picks().unwrap() {
            counts[p] += 1;
        }
        // Expected shares: 1, 1/2, 1/3, 1/4 over 25/12 = 48%, 24%, 16%, 12%.
        let expected = [0.48, 0.24, 0.16, 0.12];
        for (c, e) in counts.iter().zip(expected) {
            let share = *c as f64 / 20_000.0;
            assert!((share - e).abs() < 0.02, "{counts:?}");
        }
        // The 150-call default still ranks them, most popular first.
        let mut small = [0usize; 4];
        for p in SwapWorkload::zipf(four()).picks().unwrap() {
            small[p] += 1;
        }
        assert!(small[0] > small[1] && small[1] > small[3], "{small:?}");
    }

    #[test]
    fn uniform_picks_are_even() {
        let w = SwapWorkload {
            calls: 20_000,
            ..SwapWorkload::uniform(four())
        };
        let mut counts = [0usize; 4];
        for p in w.picks().unwrap() {
            counts[p] += 1;
        }
        for c in counts {
            assert!((c as f64 / 20_000.0 - 0.25).abs() < 0.02, "{counts:?}");
        }
    }

    #[test]
    fn invalid_workloads_are_refused() {
        assert!(SwapWorkload::zipf(Vec::new()).picks().is_err());
        let mut w = SwapWorkload::zipf(four());
        w.weights.pop();
        assert!(w.picks().is_err());
        let w = SwapWorkload {
            callers: 0,
            ..SwapWorkload::zipf(four())
        };
        assert!(w.validate().is_err());
        let mut w = SwapWorkload::uniform(four());
        w.weights[2] = f64::NAN;
        assert!(w.validate().is_err());
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&d, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&d, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&d, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&d, 0.0), Duration::from_millis(1));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn tally_groups_failures_and_counts_calls_never_started() {
        let w = SwapWorkload {
            calls: 5,
            ..SwapWorkload::uniform(vec!["a".into(), "b".into()])
        };
        let picks = vec![0, 1, 0, 1, 0];
        let fail = |code: &str, msg: &str| Err(CallFailure::new(code, msg));
        let records = vec![
            CallRecord {
                model: 0,
                latency: Duration::from_millis(3),
                result: Ok(()),
            },
            CallRecord {
                model: 1,
                latency: Duration::from_millis(9),
                result: fail("UNAVAILABLE", "x"),
            },
            CallRecord {
                model: 0,
                latency: Duration::from_millis(1),
                result: fail("UNAVAILABLE", "x"),
            },
            CallRecord {
                model: 1,
                latency: Duration::from_millis(5),
                result: fail("UNAVAILABLE", "y"),
            },
        ];
        let r = tally(&w, &picks, records, Duration::from_secs(1), None);
        assert_eq!((r.calls, r.ok, r.failed, r.not_started), (5, 1, 4, 1));
        assert_eq!(r.failures["UNAVAILABLE"].count, 3);
        assert_eq!(r.failures["UNAVAILABLE"].messages, vec!["x", "y"]);
        assert_eq!(r.failures["NOT_STARTED"].count, 1);
        assert_eq!(r.max_latency(), Duration::from_millis(9));
        assert_eq!(
            r.per_model[0],
            ModelTally {
                model: "a".into(),
                calls: 3,
                ok: 1
            }
        );
        assert_eq!(r.failure_summary(), "NOT_STARTED×1, UNAVAILABLE×3");
    }

    #[test]
    fn long_messages_are_cut() {
        let f = CallFailure::new("X", "é".repeat(1000));
        assert_eq!(f.message.chars().count(), MESSAGE_CHARS + 1);
    }

    #[test]
    fn sampler_sees_a_llama_named_child_and_stops() {
        // A child named llama-server: `sleep` through a symlink of that name
        // (a copy could fail to exec with ETXTBSY while another test forks).
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("llama-server");
        std::os::unix::fs::symlink("/bin/sleep", &fake).unwrap();
        let sampler = ProcSampler::start(std::process::id(), Duration::from_millis(1)).unwrap();
        // spawn() returns after the exec, so the name is already set, and
        // finish() takes a last sample after stopping the thread.
        let mut child = std::process::Command::new(&fake).arg("30").spawn().unwrap();
        let stats = sampler.finish();
        child.kill().unwrap();
        child.wait().unwrap();
        let stats = stats.unwrap();
        assert!(stats.seen.contains(&child.id()), "{stats:?}");
        assert!(!stats.initial.contains(&child.id()), "{stats:?}");
        assert!(stats.max_live >= 1 && stats.spawned() >= 1, "{stats:?}");
        assert!(stats.samples >= 2);
        assert!(
            !crate::procs::llama_descendants(std::process::id())
                .iter()
                .any(|p| p.pid == child.id())
        );
    }
}
