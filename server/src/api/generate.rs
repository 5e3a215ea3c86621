//! `Generate`: one whole completion.

use std::time::Instant;

use ai_router_proto::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::outcome::{INVALID_MODEL, OutcomeRecorder};
use super::status::code_of;
use super::{convert, deadline, trace, validate};
use crate::engine::Engine;
use crate::upstream::DeltaSink;

pub async fn handle(
    engine: &Engine,
    request: Request<pb::GenerateRequest>,
) -> Result<Response<pb::GenerateResponse>, Status> {
    let arrived = Instant::now();
    let deadline = deadline::deadline(request.metadata(), arrived);
    let (metadata, _, message) = request.into_parts();
    let job = match validate(message, &engine.config.limits) {
        Ok(job) => job,
        Err(e) => {
            engine.stats.record(INVALID_MODEL, code_of(&e), None, 0);
            return Err(e.into());
        }
    };
    let span = trace::generation_span("generate", &job, Some(&metadata));
    let recorder = OutcomeRecorder::new(engine, &job.model);
    let result = engine
        .run(&job, DeltaSink::Collect, arrived, deadline)
        .instrument(span.clone())
        .await;
    recorder.finish(&result);
    trace::record_outcome(&span, &result);
    let completion = result?;
    let trace_id = crate::telemetry::trace_id_of(&span);
    Ok(Response::new(convert::response(
        completion,
        job.client_request_id,
        trace_id,
    )))
}
