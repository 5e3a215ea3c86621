//! `Generate`: one whole completion.

use std::time::Instant;

use ai_router_proto::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::outcome::{INVALID_MODEL, OutcomeRecorder};
use super::status::code_of;
use super::{convert, deadline, validate};
use crate::engine::Engine;
use crate::upstream::DeltaSink;

pub async fn handle(
    engine: &Engine,
    request: Request<pb::GenerateRequest>,
) -> Result<Response<pb::GenerateResponse>, Status> {
    let arrived = Instant::now();
    let deadline = deadline::deadline(request.metadata(), arrived);
    let job = match validate(request.into_inner(), &engine.config.limits) {
        Ok(job) => job,
        Err(e) => {
            engine.stats.record(INVALID_MODEL, code_of(&e), None, 0);
            return Err(e.into());
        }
    };
    let span = tracing::info_span!("generate", model = %job.model);
    let recorder = OutcomeRecorder::new(engine, &job.model);
    let result = engine
        .run(&job, DeltaSink::Collect, arrived, deadline)
        .instrument(span)
        .await;
    recorder.finish(&result);
    let completion = result?;
    Ok(Response::new(convert::response(
        completion,
        job.client_request_id,
        String::new(),
    )))
}
