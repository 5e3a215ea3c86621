//! `Generate`: one whole completion.

use ai_router_proto::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::accept::{Accepted, accept};
use super::outcome::OutcomeRecorder;
use super::{auth, convert, trace};
use crate::domain::DeltaSink;
use crate::engine::Engine;

pub async fn handle(
    engine: &Engine,
    request: Request<pb::GenerateRequest>,
) -> Result<Response<pb::GenerateResponse>, Status> {
    let Accepted {
        arrived,
        deadline,
        metadata,
        job,
        principal,
        metered,
    } = accept(engine, request)?;
    let span = trace::generation_span("generate", &job, Some(&metadata));
    let recorder = OutcomeRecorder::new(engine, job.model.as_str());
    let result = engine
        .run(&job, DeltaSink::Collect, arrived, deadline)
        .instrument(span.clone())
        .await;
    span.in_scope(|| recorder.finish(&result));
    auth::settle(metered, &result);
    trace::record_outcome(&span, &result);
    let completion = result.map_err(|e| auth::scrub(engine, &principal, e))?;
    let trace_id = crate::telemetry::trace_id_of(&span);
    Ok(Response::new(convert::response(
        completion,
        job.client_request_id,
        trace_id,
    )))
}
