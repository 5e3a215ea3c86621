//! `Embed`: a batch of texts → one vector each, counted in Stats like any
//! call.

use std::time::Instant;

use ai_router_proto::v1 as pb;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use tracing::{Instrument, Span};

use std::sync::Arc;

use super::auth;
use super::convert::{backend, timing};
use super::deadline;
use super::outcome::{OutcomeRecorder, record_invalid};
use super::validate::validate_embed;
use crate::access::{Metered, Principal};
use crate::domain::EmbedJob;
use crate::engine::Engine;
use crate::error::RouterError;

/// Validates an embedding request and lets the caller's key in (model,
/// limits, budget); a rejection is counted in the stats. Both doors take
/// their requests through here.
pub(crate) fn accept(
    engine: &Engine,
    principal: &Arc<Principal>,
    request: pb::EmbedRequest,
) -> Result<(EmbedJob, Metered), RouterError> {
    let admitted = validate_embed(request, &engine.config().limits)
        .map_err(RouterError::from)
        .and_then(|mut job| {
            job.priority = principal.priority;
            let metered = auth::admit_embed(engine, principal, &job)?;
            Ok((job, metered))
        });
    admitted.inspect_err(|e| record_invalid(engine, e))
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
    let principal =
        auth::principal(engine, &metadata).inspect_err(|e| record_invalid(engine, e))?;
    let (job, metered) = accept(engine, &principal, message)?;
    let span = span("embed", &job, &metadata);
    let recorder = OutcomeRecorder::new(engine, job.model.as_str());
    let result = engine
        .embed(&job, arrived, deadline)
        .instrument(span.clone())
        .await;
    span.in_scope(|| recorder.finish_embed(&result));
    auth::settle_embed(metered, &result);
    let e = result.map_err(|e| auth::scrub(engine, &principal, e))?;
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
