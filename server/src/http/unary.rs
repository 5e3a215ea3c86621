//! Running one job: validation (the gRPC door's validator, its rejections
//! counted the same way), then a whole answer inside the same span and
//! outcome recording as `Generate`. The handler's future owns the engine
//! call, so a caller that disconnects drops it, which aborts the upstream
//! request.

use ai_router_proto::v1 as pb;
use tracing::Instrument;

use super::AppState;
use super::caller::Caller;
use super::status::HttpError;
use crate::access::Metered;
use crate::api::outcome::{OutcomeRecorder, record_invalid};
use crate::api::{auth, trace};
use crate::domain::{Completion, DeltaSink, Job};
use crate::engine::Engine;
use crate::error::RouterError;

/// Validates a request into a job (a rejection is counted like the gRPC
/// door's), then lets the caller's key in: its models, limits and budget,
/// judged as on the gRPC door. The guard records the call in the usage
/// ledger however it ends.
pub fn accept(
    engine: &Engine,
    caller: &Caller,
    request: pb::GenerateRequest,
) -> Result<(Job, Metered), HttpError> {
    let mut job = crate::api::validate(request, &engine.config().limits).map_err(|e| {
        let e = RouterError::from(e);
        record_invalid(engine, &e);
        HttpError::from(e)
    })?;
    job.priority = caller.principal.priority;
    let metered = auth::admit(engine, &caller.principal, &job).map_err(|e| {
        record_invalid(engine, &e);
        HttpError::from(e)
    })?;
    Ok((job, metered))
}

/// Runs `job` to a whole completion. `name` names the span.
pub async fn run(
    state: &AppState,
    caller: &Caller,
    job: &Job,
    metered: Metered,
    name: &'static str,
) -> Result<Completion, HttpError> {
    let engine = &state.engine;
    let span = trace::generation_span(name, job, Some(&caller.trace_context));
    let recorder = OutcomeRecorder::new(engine, job.model.as_str());
    let result = engine
        .run(job, DeltaSink::Collect, caller.arrived, caller.deadline)
        .instrument(span.clone())
        .await;
    span.in_scope(|| recorder.finish(&result));
    auth::settle(metered, &result);
    trace::record_outcome(&span, &result);
    Ok(result.map_err(|e| auth::scrub(engine, &caller.principal, e))?)
}
