//! The router's own numbers: request counts by model and outcome, latency
//! percentiles overall and per phase, tokens generated. The pool, executor
//! and upstream keep their own counters; `api::stats` assembles them all.

pub mod gpu;
pub mod histogram;
mod memory;
mod throughput;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ai_router_proto::status::code_name;
use histogram::{LatencyHistogram, Summary};
pub use memory::{MemoryMonitor, MemoryReport, process_rss_bytes};
use throughput::Throughput;

/// Where one request's time went.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestTiming {
    /// Waiting for permits.
    pub queue_wait: Duration,
    /// Getting a ready upstream.
    pub model_acquire: Duration,
    /// Whether a process start was waited for.
    pub cold_start: bool,
    /// Arrival to first token.
    pub time_to_first_token: Option<Duration>,
    /// Arrival to completion.
    pub total: Duration,
    /// Upstream attempts.
    pub attempts: u32,
}

/// Most distinct (model, status) pairs tracked; later ones are folded into
/// "<other>" so a caller sending random model ids cannot grow memory.
const MAX_REQUEST_KEYS: usize = 1024;

/// Request-level statistics.
pub struct Recorder {
    process_start: Instant,
    serving_at: Mutex<Option<Instant>>,
    requests: Mutex<HashMap<(String, &'static str), u64>>,
    /// End-to-end latency.
    pub latency: LatencyHistogram,
    /// Queue wait.
    pub queue_wait: LatencyHistogram,
    /// Model acquire.
    pub model_acquire: LatencyHistogram,
    /// Time to first token.
    pub time_to_first_token: LatencyHistogram,
    /// First token to completion.
    pub generation: LatencyHistogram,
    /// Recent throughput.
    throughput: Throughput,
    /// Cost and completions per remote endpoint.
    endpoints: Mutex<HashMap<String, (f64, u64)>>,
    /// The memory monitor.
    pub memory: MemoryMonitor,
    /// GPU figures (empty without a GPU).
    pub gpus: gpu::GpuMonitor,
    total: AtomicU64,
    completion_tokens: AtomicU64,
}

impl Recorder {
    /// A recorder whose uptime counts from `process_start`.
    pub fn new(process_start: Instant) -> Recorder {
        Recorder {
            process_start,
            serving_at: Mutex::new(None),
            requests: Mutex::new(HashMap::new()),
            latency: LatencyHistogram::new(),
            queue_wait: LatencyHistogram::new(),
            model_acquire: LatencyHistogram::new(),
            time_to_first_token: LatencyHistogram::new(),
            generation: LatencyHistogram::new(),
            throughput: Throughput::new(process_start),
            endpoints: Mutex::new(HashMap::new()),
            memory: MemoryMonitor::default(),
            gpus: gpu::GpuMonitor::default(),
            total: AtomicU64::new(0),
            completion_tokens: AtomicU64::new(0),
        }
    }

    /// Marks the moment the listener started serving.
    pub fn mark_serving(&self) {
        if let Ok(mut s) = self.serving_at.lock() {
            s.get_or_insert_with(Instant::now);
        }
    }

    /// Process start to serving.
    pub fn startup_time(&self) -> Duration {
        self.serving_at
            .lock()
            .ok()
            .and_then(|s| *s)
            .map(|s| s.duration_since(self.process_start))
            .unwrap_or_default()
    }

    /// Time since process start.
    pub fn uptime(&self) -> Duration {
        self.process_start.elapsed()
    }

    /// Records a finished request. `model` must be a validated id or a
    /// placeholder, never raw input.
    pub fn record(
        &self,
        model: &str,
        status: tonic::Code,
        timing: Option<&RequestTiming>,
        completion_tokens: u32,
    ) {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.completion_tokens
            .fetch_add(u64::from(completion_tokens), Ordering::Relaxed);
        self.throughput.record(completion_tokens);
        if let Ok(mut map) = self.requests.lock() {
            let name = code_name(status);
            let key =
                if map.len() < MAX_REQUEST_KEYS || map.contains_key(&(model.to_string(), name)) {
                    (model.to_string(), name)
                } else {
                    ("<other>".to_string(), name)
                };
            *map.entry(key).or_default() += 1;
        }
        if let Some(t) = timing {
            self.latency.record(t.total);
            self.queue_wait.record(t.queue_wait);
            self.model_acquire.record(t.model_acquire);
            if let Some(ttft) = t.time_to_first_token {
                self.time_to_first_token.record(ttft);
                self.generation.record(t.total.saturating_sub(ttft));
            }
        }
    }

    /// Records a completion through a remote endpoint and its reported cost.
    pub fn record_endpoint(&self, endpoint: &str, cost_usd: Option<f64>) {
        if let Ok(mut map) = self.endpoints.lock() {
            let e = map.entry(endpoint.to_string()).or_default();
            e.0 += cost_usd.unwrap_or(0.0);
            e.1 += 1;
        }
    }

    /// (cost in USD, completions) of an endpoint.
    pub fn endpoint_figures(&self, endpoint: &str) -> (f64, u64) {
        self.endpoints
            .lock()
            .ok()
            .and_then(|m| m.get(endpoint).copied())
            .unwrap_or_default()
    }

    /// Cost reported by all endpoints, USD.
    pub fn total_cost(&self) -> f64 {
        self.endpoints
            .lock()
            .map(|m| m.values().map(|e| e.0).sum())
            .unwrap_or(0.0)
    }

    /// (requests/s, tokens/s) over the last `seconds`.
    pub fn rates(&self, seconds: u64) -> (f64, f64) {
        self.throughput.rates(seconds)
    }

    /// Failed requests by status name, sorted.
    pub fn errors_by_code(&self) -> Vec<(&'static str, u64)> {
        let mut by_code: HashMap<&'static str, u64> = HashMap::new();
        for (_, status, count) in self.request_counts() {
            if status != "OK" {
                *by_code.entry(status).or_default() += count;
            }
        }
        let mut out: Vec<_> = by_code.into_iter().collect();
        out.sort();
        out
    }

    /// Requests by (model, status), sorted.
    pub fn request_counts(&self) -> Vec<(String, &'static str, u64)> {
        let mut out: Vec<_> = match self.requests.lock() {
            Ok(map) => map.iter().map(|((m, s), c)| (m.clone(), *s, *c)).collect(),
            Err(_) => Vec::new(),
        };
        out.sort();
        out
    }

    /// Requests finished.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Completion tokens per second over the uptime.
    pub fn tokens_per_second(&self) -> f64 {
        let secs = self.uptime().as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        self.completion_tokens.load(Ordering::Relaxed) as f64 / secs
    }

    /// End-to-end latency summary.
    pub fn latency_summary(&self) -> Summary {
        self.latency.summary()
    }
}

/// Samples memory (every second) and GPUs (every five seconds) until `stop`.
pub async fn run_monitors(recorder: &Recorder, stop: tokio_util::sync::CancellationToken) {
    let gpus = async {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            recorder.gpus.sample().await;
        }
    };
    tokio::select! {
        _ = recorder.memory.run(recorder, stop.clone()) => {}
        _ = gpus => {}
        _ = stop.cancelled() => {}
    }
}
