//! The data path of DESIGN.md §1 for one job: route → admit → acquire
//! backend → upstream call → result with its timing. Fallback models are
//! tried in order while nothing has reached the client; a local child that
//! dies under a request is replaced and the request retried once.

use std::sync::Arc;

use std::time::{Duration, Instant};
use tracing::Instrument;

use crate::backend::{Acquired, local_target};
use crate::config::Config;
use crate::domain::{BackendKind, Completion, DeltaSink, Job, ModelId, RequestTiming};
use crate::error::RouterError;
use crate::executor::Executor;
use crate::pool::{Lease, Pool, PoolError};
use crate::routing::{Backend, Route, RouteTable};
use crate::stats::Recorder;
use crate::upstream::{
    CallFailure, ChatCall, ChatOutcome, RetryPolicy, UpstreamClient, UpstreamCounters,
    UpstreamError,
};

/// How long to wait for a child's exit to be observed after its connection
/// broke, to tell "the child died" from "a pooled connection was closed".
/// The first look is short (a killed child's exit is reaped within a few
/// milliseconds, and a stale connection should be retried at once); when
/// the retry fails too, the second look waits longer before answering.
const DEATH_QUICK_LOOK: Duration = Duration::from_millis(25);
const DEATH_CONFIRMATION: Duration = Duration::from_millis(500);

/// A failure and whether output had already reached the client.
struct Failed {
    error: RouterError,
    emitted: bool,
}

impl From<RouterError> for Failed {
    fn from(error: RouterError) -> Self {
        Failed {
            error,
            emitted: false,
        }
    }
}

/// Everything a request needs, shared by all RPCs.
pub struct Engine {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// Routing table.
    pub routes: RouteTable,
    /// Admission control.
    pub executor: Executor,
    /// Local model pool.
    pub pool: Pool,
    /// The one client used for all local children.
    pub local_client: UpstreamClient,
    /// Upstream counters (all clients).
    pub upstream_counters: Arc<UpstreamCounters>,
    /// Request statistics.
    pub stats: Recorder,
}

impl Engine {
    /// Runs a job to completion. `arrived` is when the RPC arrived (timing
    /// starts there); `deadline` is the caller's.
    pub async fn run(
        &self,
        job: &Job,
        mut sink: DeltaSink,
        arrived: Instant,
        deadline: Option<Instant>,
    ) -> Result<Completion, RouterError> {
        let work = self.run_candidates(job, &mut sink, arrived, deadline);
        match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), work)
                .await
                .unwrap_or(Err(RouterError::DeadlineExceeded("generating"))),
            None => work.await,
        }
    }

    /// Whether a model can serve without a start: a warm local model or a
    /// remote endpoint. Unknown ids count as ready (they fail at once).
    pub fn is_ready(&self, model: &str) -> bool {
        // Only a catalogued local model can be cold; a full `resolve` would
        // build a NOT_FOUND message for every unknown id just to say "ready".
        self.pool
            .model(model)
            .is_none_or(|entry| entry.warm_child().is_some())
    }

    async fn run_candidates(
        &self,
        job: &Job,
        sink: &mut DeltaSink,
        arrived: Instant,
        deadline: Option<Instant>,
    ) -> Result<Completion, RouterError> {
        let candidates: Vec<&ModelId> = std::iter::once(&job.model)
            .chain(job.fallbacks.iter())
            .collect();
        let mut last_error = None;
        let mut next = 0;
        while next < candidates.len() {
            let n = next;
            next += 1;
            let mut route = match self.routes.resolve(candidates[n]) {
                Ok(r) => r,
                // The primary's routing error is the caller's answer; a bad
                // fallback is skipped (its error is kept if nothing serves).
                Err(e) if n == 0 => return Err(e),
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            };
            // OpenRouter falls back by itself within one request (its
            // `models` array): the OpenRouter ids that follow ride along.
            while let Some(upstream) = candidates
                .get(next)
                .and_then(|id| self.same_openrouter_endpoint(&route, id))
            {
                route.provider_fallbacks.push(upstream);
                next += 1;
            }
            match self.run_route(&route, job, sink, arrived, deadline).await {
                Ok(done) => return Ok(done),
                Err(Failed { error, emitted }) => {
                    if emitted || !error.allows_fallback() {
                        return Err(error);
                    }
                    tracing::info!(model = %route.model_id, error = error.label(), "model failed; trying the next fallback");
                    last_error = Some(error);
                }
            }
        }
        // The primary always yields a result or an error, so this is set;
        // the fallback keeps the function total without a panic.
        Err(last_error.unwrap_or(RouterError::ModelNotFound {
            model: job.model.to_string(),
            known: String::new(),
        }))
    }

    /// The upstream model name of `id` if it routes to the same OpenRouter
    /// endpoint as `route`.
    fn same_openrouter_endpoint(&self, route: &Route, id: &ModelId) -> Option<String> {
        let Backend::Remote { endpoint, .. } = &route.backend else {
            return None;
        };
        if !endpoint.is_openrouter() {
            return None;
        }
        match self.routes.resolve(id).ok()?.backend {
            Backend::Remote {
                endpoint: other,
                upstream_model,
            } if Arc::ptr_eq(endpoint, &other) => Some(upstream_model),
            _ => None,
        }
    }

    async fn run_route(
        &self,
        route: &Route,
        job: &Job,
        sink: &mut DeltaSink,
        arrived: Instant,
        deadline: Option<Instant>,
    ) -> Result<Completion, Failed> {
        let admission = self
            .executor
            .admit(&route.limiter, deadline)
            .instrument(
                tracing::info_span!("queue", otel.name = "queue", route = %route.limiter.name()),
            )
            .await?;
        let mut timing = RequestTiming {
            queue_wait: admission.queue_wait,
            ..RequestTiming::default()
        };
        // One second chance per request on a local model, used only while
        // nothing has reached the client: a replacement child if the first
        // died, or a fresh connection if a pooled one broke under the send.
        let mut second_chance = true;
        loop {
            let acquire_started = Instant::now();
            let mut acquired = self.acquire_traced(route).await?;
            timing.model_acquire += acquire_started.elapsed();
            timing.cold_start |= acquired.lease.as_ref().is_some_and(|l| l.cold);
            let call = self.chat_call(route, job);
            let result = self
                .call_upstream(route, &mut acquired, &call, sink, deadline, arrived)
                .await;
            let (error, emitted, attempts) = match result {
                Ok(outcome) => return Ok(self.completion(route, outcome, timing, arrived)),
                Err(CallFailure::ClientGone) => return Err(RouterError::Cancelled.into()),
                Err(CallFailure::Upstream {
                    error,
                    emitted,
                    attempts,
                }) => (error, emitted, attempts),
            };
            timing.attempts += attempts;
            let Some(lease) = &acquired.lease else {
                return Err(Failed {
                    error: error.into(),
                    emitted,
                });
            };
            let look = if second_chance {
                DEATH_QUICK_LOOK
            } else {
                DEATH_CONFIRMATION
            };
            let failure = classify_local(lease, &error, look).await;
            if second_chance && !emitted && failure != LocalFailure::Other {
                second_chance = false;
                tracing::warn!(model = %route.model_id, ?failure, "local request failed before any output; retrying once");
                continue;
            }
            let error = match failure {
                LocalFailure::ChildDied => RouterError::Pool(PoolError::ChildDied {
                    model: route.model_id.to_string(),
                }),
                _ => error.into(),
            };
            return Err(Failed { error, emitted });
        }
    }

    /// `acquire` inside a `model_acquire` span recording warm or cold and the
    /// load time (a start it triggers appears as a child `model_load` span).
    async fn acquire_traced(&self, route: &Route) -> Result<Acquired, RouterError> {
        let span = tracing::info_span!(
            "acquire",
            otel.name = "model_acquire",
            model = %route.model_id,
            cold = tracing::field::Empty,
            load_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let acquired = self.acquire(route).instrument(span.clone()).await?;
        let cold = acquired.lease.as_ref().is_some_and(|l| l.cold);
        span.record("cold", cold);
        if cold {
            span.record("load_ms", started.elapsed().as_secs_f64() * 1e3);
        }
        Ok(acquired)
    }

    /// One upstream call inside an `upstream_call` span, whose context goes
    /// to the upstream as W3C `traceparent`.
    async fn call_upstream(
        &self,
        route: &Route,
        acquired: &mut Acquired,
        call: &ChatCall,
        sink: &mut DeltaSink,
        deadline: Option<Instant>,
        arrived: Instant,
    ) -> Result<ChatOutcome, CallFailure> {
        let span = tracing::info_span!(
            "upstream",
            otel.name = "upstream_call",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            server.endpoint = %acquired.target.endpoint,
            gen_ai.request.model = %call.model,
            attempts = tracing::field::Empty,
            time_to_first_token_ms = tracing::field::Empty,
        );
        let client = self.client_for(route);
        async {
            crate::telemetry::inject_current(&mut acquired.target.headers);
            let result = client
                .chat(&acquired.target, call, sink, acquired.retry, deadline)
                .await;
            let span = tracing::Span::current();
            match &result {
                Ok(outcome) => {
                    span.record("attempts", i64::from(outcome.attempts));
                    if let Some(first) = outcome.first_token_at {
                        let ttft = first.saturating_duration_since(arrived).as_secs_f64() * 1e3;
                        span.record("time_to_first_token_ms", ttft);
                        tracing::info!(ttft_ms = ttft, "first token");
                    }
                }
                Err(CallFailure::Upstream {
                    attempts, error, ..
                }) => {
                    span.record("attempts", i64::from(*attempts));
                    span.record("otel.status_code", "ERROR");
                    tracing::info!(error = error.label(), "upstream failed");
                }
                Err(CallFailure::ClientGone) => {}
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn acquire(&self, route: &Route) -> Result<Acquired, RouterError> {
        match &route.backend {
            Backend::Local(entry) => {
                let lease = self.pool.acquire(entry).await?;
                Ok(Acquired {
                    target: local_target(&lease, &self.config.local),
                    retry: RetryPolicy::none(),
                    lease: Some(lease),
                })
            }
            Backend::Remote { endpoint, .. } => Ok(Acquired {
                target: endpoint.target(),
                retry: endpoint.retry(),
                lease: None,
            }),
        }
    }

    fn client_for<'a>(&'a self, route: &'a Route) -> &'a UpstreamClient {
        match &route.backend {
            Backend::Local(_) => &self.local_client,
            Backend::Remote { endpoint, .. } => &endpoint.client,
        }
    }

    fn chat_call(&self, route: &Route, job: &Job) -> ChatCall {
        let model = match &route.backend {
            Backend::Local(entry) => entry.spec.id.clone(),
            Backend::Remote { upstream_model, .. } => upstream_model.clone(),
        };
        let provider_fallbacks = if route.provider_fallbacks.is_empty() {
            Vec::new()
        } else {
            std::iter::once(model.clone())
                .chain(route.provider_fallbacks.iter().cloned())
                .collect()
        };
        ChatCall {
            model,
            provider_fallbacks,
            messages: job.messages.clone(),
            max_tokens: Some(job.params.max_tokens),
            temperature: job.params.temperature,
            top_p: job.params.top_p,
            stop: job.params.stop.clone(),
            seed: job.params.seed,
        }
    }

    fn completion(
        &self,
        route: &Route,
        outcome: ChatOutcome,
        mut timing: RequestTiming,
        arrived: Instant,
    ) -> Completion {
        timing.attempts += outcome.attempts;
        timing.time_to_first_token = outcome
            .first_token_at
            .map(|t| t.saturating_duration_since(arrived));
        timing.total = arrived.elapsed();
        if let Backend::Remote { endpoint, .. } = &route.backend {
            self.stats
                .record_endpoint(&endpoint.config.name, outcome.usage.cost);
        }
        let backend = match &route.backend {
            Backend::Local(_) => BackendKind::Local,
            Backend::Remote { endpoint, .. } => endpoint.backend_kind(),
        };
        // With OpenRouter's own fallbacks, the answer says which model served.
        let model = match (&route.backend, &outcome.upstream_model) {
            (Backend::Remote { endpoint, .. }, Some(served))
                if !route.provider_fallbacks.is_empty() =>
            {
                format!("{}/{served}", endpoint.config.name)
            }
            _ => route.model_id.to_string(),
        };
        Completion {
            text: outcome.text,
            model,
            backend,
            finish_reason: outcome.finish_reason,
            prompt_tokens: outcome.usage.prompt_tokens,
            completion_tokens: outcome.usage.completion_tokens,
            cost_usd: outcome.usage.cost,
            upstream_id: outcome.upstream_id,
            timing,
        }
    }
}

/// What went wrong with a local child, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocalFailure {
    /// The process exited: the pool replaces it on the next acquire.
    ChildDied,
    /// The process is alive but the connection broke (llama-server closed a
    /// pooled keep-alive connection as the request was sent): a new
    /// connection to the same child is safe, nothing was generated for us.
    BrokenConnection,
    /// Anything else (timeouts, HTTP errors): no retry.
    Other,
}

/// Classifies a local failure. A hung child (timeouts) is killed here so
/// the next request gets a fresh one.
async fn classify_local(lease: &Lease, error: &UpstreamError, look: Duration) -> LocalFailure {
    match error {
        UpstreamError::FirstTokenTimeout { .. } | UpstreamError::TokenGapTimeout { .. } => {
            lease.report_hung();
            LocalFailure::Other
        }
        UpstreamError::Connect { .. } | UpstreamError::Disconnected { .. } => {
            if lease.child_exited_within(look).await {
                LocalFailure::ChildDied
            } else {
                LocalFailure::BrokenConnection
            }
        }
        _ => LocalFailure::Other,
    }
}
