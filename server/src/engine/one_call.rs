//! One model, one call: admission by the route's limiter, a ready target
//! from its backend, the upstream call, and the completion with its timing.
//! Each phase has its span (`queue`, `model_acquire`, `upstream_call`).

use std::time::Instant;

use tracing::Instrument;

use super::Engine;
use super::second_chance::{SecondChance, Verdict};
use crate::backend::Acquired;
use crate::domain::{
    BackendKind, Completion, Delta, DeltaSink, Job, RequestTiming, ValidationError,
};
use crate::error::RouterError;
use crate::pool::PoolError;
use crate::routing::Route;
use crate::upstream::{CallFailure, ChatCall, ChatOutcome, HostKey};

/// A failure and whether output had already reached the caller.
pub(super) struct Failed {
    pub error: RouterError,
    pub emitted: bool,
}

impl From<RouterError> for Failed {
    fn from(error: RouterError) -> Self {
        Failed {
            error,
            emitted: false,
        }
    }
}

pub(super) async fn run(
    engine: &Engine,
    route: &Route,
    job: &Job,
    sink: &mut DeltaSink,
    arrived: Instant,
    deadline: Option<Instant>,
    tried: &mut Vec<HostKey>,
) -> Result<Completion, Failed> {
    // A feature this backend cannot do is the caller's to change, not
    // something to drop silently (nor a reason to try a fallback).
    if let Some(feature) = route.backend.unsupported(job) {
        return Err(RouterError::from(ValidationError::Unsupported {
            feature,
            backend: route.backend.name().to_string(),
        })
        .into());
    }
    let limiter = route.backend.limiter();
    let admission = engine
        .executor
        .admit(limiter, deadline, job.priority)
        .instrument(tracing::info_span!("queue", otel.name = "queue", route = %limiter.name()))
        .await?;
    let mut timing = RequestTiming {
        queue_wait: admission.queue_wait,
        ..RequestTiming::default()
    };
    let call = chat_call(route, job);
    let mut second_chance = SecondChance::default();
    loop {
        if let DeltaSink::Forward(tx) = sink
            && let Some(progress) = route.backend.load_progress()
        {
            // Best effort: nothing is queued before it but on a retry, and
            // a full channel means the caller has plenty to read already.
            let _ = tx.try_send(Delta::Loading(progress));
        }
        let acquire_started = Instant::now();
        let mut acquired = acquire_traced(route).await?;
        timing.model_acquire += acquire_started.elapsed();
        timing.cold_start |= acquired.cold;
        let result =
            call_upstream(route, &mut acquired, &call, sink, deadline, arrived, tried).await;
        let (error, emitted, attempts) = match result {
            Ok(outcome) => return Ok(completion(engine, route, outcome, timing, arrived)),
            Err(CallFailure::ClientGone) => return Err(RouterError::Cancelled.into()),
            Err(CallFailure::Upstream {
                error,
                emitted,
                attempts,
            }) => (error, emitted, attempts),
        };
        timing.attempts += attempts;
        match second_chance.judge(route, &acquired, &error, emitted).await {
            Verdict::Retry => continue,
            Verdict::ChildDied => {
                let error = RouterError::Pool(PoolError::ChildDied {
                    model: route.model_id.to_string(),
                });
                return Err(Failed { error, emitted });
            }
            Verdict::Unloaded => {
                let error = RouterError::Pool(PoolError::Unloaded {
                    model: route.model_id.to_string(),
                });
                return Err(Failed { error, emitted });
            }
            Verdict::GiveUp => {
                return Err(Failed {
                    error: error.into(),
                    emitted,
                });
            }
        }
    }
}

/// `acquire` inside a `model_acquire` span recording warm or cold and the
/// load time (a start it triggers appears as a child `model_load` span).
async fn acquire_traced(route: &Route) -> Result<Acquired, RouterError> {
    let span = tracing::info_span!(
        "acquire",
        otel.name = "model_acquire",
        model = %route.model_id,
        cold = tracing::field::Empty,
        load_ms = tracing::field::Empty,
    );
    let started = Instant::now();
    let acquired = route.backend.acquire().instrument(span.clone()).await?;
    span.record("cold", acquired.cold);
    if acquired.cold {
        span.record("load_ms", started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(acquired)
}

/// One upstream call inside an `upstream_call` span, whose context goes to
/// the upstream as W3C `traceparent`.
async fn call_upstream(
    route: &Route,
    acquired: &mut Acquired,
    call: &ChatCall,
    sink: &mut DeltaSink,
    deadline: Option<Instant>,
    arrived: Instant,
    tried: &mut Vec<HostKey>,
) -> Result<ChatOutcome, CallFailure> {
    let span = tracing::info_span!(
        "upstream",
        otel.name = "upstream_call",
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        server.endpoint = %acquired.target.endpoint,
        // A pooled endpoint's pick (the last attempt's host).
        server.address = tracing::field::Empty,
        server.port = tracing::field::Empty,
        pick.reason = tracing::field::Empty,
        pick.candidates = tracing::field::Empty,
        pick.matched_blocks = tracing::field::Empty,
        gen_ai.usage.cached_tokens = tracing::field::Empty,
        gen_ai.request.model = %call.model,
        attempts = tracing::field::Empty,
        time_to_first_token_ms = tracing::field::Empty,
        // llama-server's own view (absent for other upstreams).
        llama.prompt_n = tracing::field::Empty,
        llama.cache_n = tracing::field::Empty,
        llama.prompt_ms = tracing::field::Empty,
        llama.predicted_ms = tracing::field::Empty,
    );
    let client = route.backend.client();
    async {
        crate::telemetry::inject_current(&mut acquired.target.headers);
        let result = client
            .chat(&acquired.target, call, sink, acquired.retry, deadline, tried)
            .await;
        let span = tracing::Span::current();
        match &result {
            Ok(outcome) => {
                span.record("attempts", i64::from(outcome.attempts));
                if let Some(cached) = outcome.cached_tokens {
                    span.record("gen_ai.usage.cached_tokens", i64::from(cached));
                }
                if let Some(t) = outcome.timings {
                    record_host_timings(&span, t);
                }
                if let Some(first) = outcome.first_token_at {
                    let ttft = first.saturating_duration_since(arrived).as_secs_f64() * 1e3;
                    span.record("time_to_first_token_ms", ttft);
                    tracing::info!(target: crate::telemetry::SPAN_EVENT, ttft_ms = ttft, "first token");
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

/// llama-server's timings as `upstream_call` attributes. Counts go as i64:
/// OpenTelemetry has no unsigned integer, and a u64 would be exported as a
/// string.
fn record_host_timings(span: &tracing::Span, t: crate::upstream::types::WireTimings) {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    if let Some(n) = t.prompt_n {
        span.record("llama.prompt_n", count(n));
    }
    if let Some(n) = t.cache_n {
        span.record("llama.cache_n", count(n));
    }
    if let Some(ms) = t.prompt_ms {
        span.record("llama.prompt_ms", ms);
    }
    if let Some(ms) = t.predicted_ms {
        span.record("llama.predicted_ms", ms);
    }
}

fn chat_call(route: &Route, job: &Job) -> ChatCall {
    let model = route.upstream_model().to_string();
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
        params: job.params.clone(),
    }
}

fn completion(
    engine: &Engine,
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
    let backend = route.backend.kind();
    if backend != BackendKind::Local {
        engine
            .stats
            .record_endpoint(route.backend.name(), outcome.usage.cost);
    }
    // With OpenRouter's own fallbacks, the answer says which model served.
    let model = match &outcome.upstream_model {
        Some(served) if !route.provider_fallbacks.is_empty() => {
            format!("{}/{served}", route.backend.name())
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
        tool_calls: outcome.tool_calls,
        reasoning: outcome.reasoning,
        logprobs: outcome.logprobs,
    }
}
