//! The RPC-level span: OpenTelemetry GenAI semantic-convention attributes,
//! the caller's trace continued from the metadata, and the outcome recorded
//! when the call ends. Prompt and completion text are never attributes.

use tonic::metadata::MetadataMap;
use tracing::Span;
use tracing::field::Empty;

use crate::domain::{BackendKind, Completion, Job};
use crate::error::RouterError;
use crate::telemetry::extract_parent;

use super::status::code_of;

/// The span for one generation (an RPC, or one batch item).
pub fn generation_span(name: &'static str, job: &Job, metadata: Option<&MetadataMap>) -> Span {
    let span = tracing::info_span!(
        "generation",
        otel.name = name,
        otel.status_code = Empty,
        gen_ai.operation.name = "chat",
        gen_ai.request.model = %job.model,
        gen_ai.request.max_tokens = i64::from(job.params.max_tokens),
        gen_ai.response.model = Empty,
        gen_ai.response.id = Empty,
        gen_ai.provider.name = Empty,
        gen_ai.response.finish_reasons = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        rpc.grpc.status_code = Empty,
        error.type = Empty,
        client_request_id = Empty,
        batch.index = Empty,
    );
    if !job.client_request_id.is_empty() {
        span.record("client_request_id", job.client_request_id.as_str());
    }
    if let Some(metadata) = metadata {
        extract_parent(&span, metadata);
    }
    span
}

/// Records how the call ended.
pub fn record_outcome(span: &Span, result: &Result<Completion, RouterError>) {
    match result {
        Ok(c) => {
            span.record("gen_ai.response.model", c.model.as_str());
            if let Some(id) = &c.upstream_id {
                span.record("gen_ai.response.id", id.as_str());
            }
            span.record("gen_ai.provider.name", provider(c.backend));
            if let Some(reason) = &c.finish_reason {
                span.record("gen_ai.response.finish_reasons", reason.as_str());
            }
            span.record("gen_ai.usage.input_tokens", i64::from(c.prompt_tokens));
            span.record("gen_ai.usage.output_tokens", i64::from(c.completion_tokens));
            span.record("rpc.grpc.status_code", 0);
        }
        Err(e) => {
            span.record("otel.status_code", "ERROR");
            span.record("error.type", e.label());
            span.record("rpc.grpc.status_code", code_of(e) as i32);
        }
    }
}

fn provider(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Local => "llama.cpp",
        BackendKind::OpenAi => "openai_compatible",
        BackendKind::OpenRouter => "openrouter",
    }
}
