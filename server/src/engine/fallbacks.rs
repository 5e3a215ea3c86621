//! The primary model, then its fallbacks in order, while nothing has reached
//! the caller and the failure is about the model rather than the request.
//! Consecutive OpenRouter ids ride along in one request as OpenRouter's own
//! `models` array, which OpenRouter tries itself.

use std::time::Instant;

use super::Engine;
use super::one_call::{self, Failed};
use crate::domain::{Completion, DeltaSink, Job, ModelId};
use crate::error::RouterError;

pub(super) async fn run(
    engine: &Engine,
    job: &Job,
    sink: &mut DeltaSink,
    arrived: Instant,
    deadline: Option<Instant>,
) -> Result<Completion, RouterError> {
    let candidates: Vec<&ModelId> = std::iter::once(&job.model)
        .chain(job.fallbacks.iter())
        .collect();
    // The primary's routing error is the caller's answer.
    let mut route = engine.routes().resolve(&job.model)?;
    let mut next = 1;
    // Hosts the failed calls went to: a fallback served by the same pool
    // goes elsewhere while it can.
    let mut tried = Vec::new();
    loop {
        // OpenRouter falls back by itself within one request: the
        // OpenRouter ids that follow ride along.
        while let Some(other) = candidates
            .get(next)
            .and_then(|id| engine.routes().resolve(id).ok())
            .filter(|other| route.shares_openrouter_with(other))
        {
            route
                .provider_fallbacks
                .push(other.upstream_model().to_string());
            next += 1;
        }
        let error =
            match one_call::run(engine, &route, job, sink, arrived, deadline, &mut tried).await {
                Ok(done) => return Ok(done),
                Err(Failed { error, emitted }) if emitted || !error.allows_fallback() => {
                    return Err(error);
                }
                Err(Failed { error, .. }) => error,
            };
        tracing::info!(model = %route.model_id, error = error.label(), "model failed; trying the next fallback");
        // A fallback that does not route is skipped; if none is left, the
        // last model's failure is the answer.
        let mut failure = error;
        loop {
            let Some(id) = candidates.get(next) else {
                return Err(failure);
            };
            next += 1;
            match engine.routes().resolve(id) {
                Ok(r) => {
                    route = r;
                    break;
                }
                Err(e) => failure = e,
            }
        }
    }
}
