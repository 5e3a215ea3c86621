//! The router's own numbers, read side and request recording: finished
//! requests by model and outcome, latency per phase, tokens, cost per
//! endpoint (all into the metrics registry's handles), plus what only `Stats`
//! shows (throughput over the last one and five minutes, the memory and GPU
//! monitors). `api::stats` assembles `Stats` from here and from the pool,
//! executor and upstream handles; `/metrics` encodes the same handles.

mod gauges;
pub mod gpu;
mod memory;
mod throughput;

use std::sync::Arc;

use arc_swap::ArcSwap;
use std::time::{Duration, Instant};

use opentelemetry::trace::TraceId;

use crate::domain::{Outcome, RequestTiming};
use crate::metrics::{EndpointCounters, Exposition, Handles, Metrics, RequestMetrics, Summary};
pub use gauges::ProcessGauges;
pub use memory::{MemoryMonitor, MemoryReport, process_rss_bytes};
use throughput::Throughput;

/// Request-level statistics.
pub struct Recorder {
    process_start: Instant,
    metrics: RequestMetrics,
    startup: prometheus_client::metrics::gauge::Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Recent throughput (`Stats` only: Prometheus derives rates itself).
    throughput: Throughput,
    /// Per remote endpoint, created at construction and for endpoints a
    /// config reload adds (kept after a reload drops one: counters do not
    /// go back).
    endpoints: ArcSwap<Vec<(String, EndpointCounters)>>,
    /// The memory monitor.
    pub memory: Arc<MemoryMonitor>,
    /// GPU figures (empty without a GPU).
    pub gpus: Arc<gpu::GpuMonitor>,
    exposition: Exposition,
}

impl Recorder {
    /// A recorder whose uptime counts from `process_start`, over the
    /// registry's handles (registration ends here: the memory and GPU
    /// gauges are the last collector) and the configured endpoint names.
    pub fn new<'a>(
        process_start: Instant,
        mut metrics: Metrics,
        endpoints: impl IntoIterator<Item = &'a str>,
    ) -> Recorder {
        let memory = Arc::new(MemoryMonitor::default());
        let gpus = Arc::new(gpu::GpuMonitor::default());
        metrics.register_collector(ProcessGauges {
            memory: memory.clone(),
            gpus: gpus.clone(),
        });
        let (exposition, Handles { requests, process }) = metrics.exposition();
        let endpoints = ArcSwap::from_pointee(
            endpoints
                .into_iter()
                .map(|name| (name.to_string(), requests.endpoint(name)))
                .collect(),
        );
        Recorder {
            process_start,
            metrics: requests,
            startup: process.startup,
            throughput: Throughput::new(process_start),
            endpoints,
            memory,
            gpus,
            exposition,
        }
    }

    /// The registry, for `/metrics`.
    pub fn exposition(&self) -> &Exposition {
        &self.exposition
    }

    /// Marks the moment the listener started serving (the first call counts).
    pub fn mark_serving(&self) {
        if self.startup.get() == 0.0 {
            self.startup
                .set(self.process_start.elapsed().as_secs_f64().max(1e-9));
        }
    }

    /// Process start to serving.
    pub fn startup_time(&self) -> Duration {
        Duration::try_from_secs_f64(self.startup.get()).unwrap_or_default()
    }

    /// Time since process start.
    pub fn uptime(&self) -> Duration {
        self.process_start.elapsed()
    }

    /// Records a finished request. `model` must be a validated id or a
    /// placeholder, never raw input. With `trace` (the request's sampled
    /// trace id) each latency becomes its bucket's exemplar.
    pub fn record(
        &self,
        model: &str,
        outcome: Outcome,
        timing: Option<&RequestTiming>,
        completion_tokens: u32,
        trace: Option<TraceId>,
    ) {
        let m = &self.metrics;
        m.requests.inc(model, outcome);
        m.completion_tokens.inc_by(u64::from(completion_tokens));
        self.throughput.record(completion_tokens);
        if let Some(t) = timing {
            m.duration.record_traced(t.total, trace);
            m.queue_wait.record_traced(t.queue_wait, trace);
            m.model_acquire.record_traced(t.model_acquire, trace);
            if let Some(ttft) = t.time_to_first_token {
                m.time_to_first_token.record_traced(ttft, trace);
                m.generation
                    .record_traced(t.total.saturating_sub(ttft), trace);
            }
        }
    }

    /// Counts endpoints a config reload added (names already known are
    /// kept as they are).
    pub fn add_endpoints<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let known = self.endpoints.load_full();
        let mut next = (*known).clone();
        for name in names {
            if !next.iter().any(|(n, _)| n == name) {
                next.push((name.to_string(), self.metrics.endpoint(name)));
            }
        }
        if next.len() != known.len() {
            self.endpoints.store(Arc::new(next));
        }
    }

    /// Records a completion through a remote endpoint and its reported cost.
    /// Names that were not configured are ignored (there are none).
    pub fn record_endpoint(&self, endpoint: &str, cost_usd: Option<f64>) {
        if let Some((_, c)) = self.endpoints.load().iter().find(|(n, _)| n == endpoint) {
            c.completions.inc();
            if let Some(cost) = cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
                c.cost_usd.inc_by(cost);
            }
        }
    }

    /// (cost in USD, completions) of an endpoint.
    pub fn endpoint_figures(&self, endpoint: &str) -> (f64, u64) {
        self.endpoints
            .load()
            .iter()
            .find(|(n, _)| n == endpoint)
            .map_or((0.0, 0), |(_, c)| (c.cost_usd.get(), c.completions.get()))
    }

    /// Cost reported by all endpoints, USD.
    pub fn total_cost(&self) -> f64 {
        self.endpoints
            .load()
            .iter()
            .map(|(_, c)| c.cost_usd.get())
            .sum()
    }

    /// (requests/s, tokens/s) over the last `seconds`.
    pub fn rates(&self, seconds: u64) -> (f64, f64) {
        self.throughput.rates(seconds)
    }

    /// Failed requests by outcome name, sorted.
    pub fn errors_by_code(&self) -> Vec<(&'static str, u64)> {
        let counts = self.request_counts();
        let mut out: Vec<(&'static str, u64)> = Outcome::ALL
            .iter()
            .filter(|o| **o != Outcome::Ok)
            .map(|o| {
                let n = counts.iter().filter(|c| c.1 == o.name()).map(|c| c.2).sum();
                (o.name(), n)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        out.sort();
        out
    }

    /// Requests by (model, outcome name), sorted.
    pub fn request_counts(&self) -> Vec<(String, &'static str, u64)> {
        self.metrics.requests.snapshot()
    }

    /// Requests finished.
    pub fn total(&self) -> u64 {
        self.request_counts().iter().map(|c| c.2).sum()
    }

    /// Completion tokens per second over the uptime.
    pub fn tokens_per_second(&self) -> f64 {
        let secs = self.uptime().as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        self.metrics.completion_tokens.get() as f64 / secs
    }

    /// End-to-end latency (successful requests).
    pub fn latency_summary(&self) -> Summary {
        self.metrics.duration.summary()
    }

    /// Queue wait.
    pub fn queue_wait_summary(&self) -> Summary {
        self.metrics.queue_wait.summary()
    }

    /// Model acquire.
    pub fn model_acquire_summary(&self) -> Summary {
        self.metrics.model_acquire.summary()
    }

    /// Time to first token.
    pub fn time_to_first_token_summary(&self) -> Summary {
        self.metrics.time_to_first_token.summary()
    }

    /// First token to completion.
    pub fn generation_summary(&self) -> Summary {
        self.metrics.generation.summary()
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
