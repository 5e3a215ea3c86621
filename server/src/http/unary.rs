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
use crate::api::outcome::{OutcomeRecorder, record_invalid};
use crate::api::trace;
use crate::domain::{Completion, DeltaSink, Job};
use crate::engine::Engine;
use crate::error::RouterError;

/// Validates a request into a job; a rejection is counted like the gRPC
/// door's.
pub fn accept(engine: &Engine, request: pb::GenerateRequest) -> Result<Job, HttpError> {
    crate::api::validate(request, &engine.config().limits).map_err(|e| {
        let e = RouterError::from(e);
        record_invalid(engine, &e);
        HttpError::from(e)
    })
}

/// Runs `job` to a whole completion. `name` names the span.
pub async fn run(
    state: &AppState,
    caller: &Caller,
    job: &Job,
    name: &'static str,
) -> Result<Completion, HttpError> {
    let engine = &state.engine;
    let span = trace::generation_span(name, job, Some(&caller.trace_context));
    let recorder = OutcomeRecorder::new(engine, job.model.as_str());
    let result = engine
        .run(job, DeltaSink::Collect, caller.arrived, caller.deadline)
        .instrument(span.clone())
        .await;
    recorder.finish(&result);
    trace::record_outcome(&span, &result);
    Ok(result?)
}
