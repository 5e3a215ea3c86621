//! `Embed`: a batch of texts → one vector each, counted in Stats like any
//! call.

use std::time::Instant;

use ai_router_proto::v1 as pb;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use tracing::{Instrument, Span};

use super::convert::{backend, timing};
use super::deadline;
use super::outcome::{OutcomeRecorder, record_invalid};
use super::validate::validate_embed;
use crate::domain::EmbedJob;
use crate::engine::Engine;
use crate::error::RouterError;

/// Validates an embedding request; a rejection is counted in the stats.
/// Both doors take their requests through here.
pub(crate) fn accept(engine: &Engine, request: pb::EmbedRequest) -> Result<EmbedJob, RouterError> {
    validate_embed(request, &engine.config().limits).map_err(|e| {
        let e = RouterError::from(e);
        record_invalid(engine, &e);
        e
    })
}

/// The span of one embedding call, continuing the caller's trace.
pub(crate) fn span(name: &'static str, job: &EmbedJob, parent: &MetadataMap) -> Span {
    let span = tracing::info_span!(
        "embed",
        otel.name = name,
        gen_ai.operation.name = "embeddings",
        gen_ai.request.model = %job.model,
        inputs = job.inputs.len(),
    );
    crate::telemetry::extract_parent(&span, parent);
    span
}

pub async fn handle(
    engine: &Engine,
    request: Request<pb::EmbedRequest>,
) -> Result<Response<pb::EmbedResponse>, Status> {
    let arrived = Instant::now();
    let deadline = deadline::deadline(request.metadata(), arrived);
    let (metadata, _, message) = request.into_parts();
    let job = accept(engine, message)?;
    let span = span("embed", &job, &metadata);
    let recorder = OutcomeRecorder::new(engine, job.model.as_str());
    let result = engine.embed(&job, arrived, deadline).instrument(span).await;
    recorder.finish_embed(&result);
    let e = result?;
    Ok(Response::new(pb::EmbedResponse {
        embeddings: e
            .vectors
            .into_iter()
            .map(|values| pb::Embedding { values })
            .collect(),
        model: e.model,
        backend: backend(e.backend) as i32,
        prompt_tokens: e.prompt_tokens,
        timing: Some(timing(&e.timing)),
        client_request_id: job.client_request_id,
    }))
}
