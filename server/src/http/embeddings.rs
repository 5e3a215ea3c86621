//! `POST /v1/embeddings`: the gRPC `Embed` behind OpenAI's JSON, floats or
//! base64 as the caller asks.

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tracing::Instrument;

use super::AppState;
use super::body::JsonBody;
use super::caller::Caller;
use super::status::HttpError;
use super::wire::{EmbeddingItem, EmbeddingList, EmbeddingUsage, EmbeddingsRequest, Vector};
use crate::api::outcome::OutcomeRecorder;
use crate::api::{auth, embed};
use ai_router_proto::v1 as pb;

pub async fn handle(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<EmbeddingsRequest>,
) -> Result<Json<EmbeddingList>, HttpError> {
    let engine = &state.engine;
    if let Some(name) = body.other.keys().find(|k| k.as_str() != "user") {
        return Err(HttpError::unsupported(
            name,
            "this router takes model, input, encoding_format and user",
        ));
    }
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => {
            return Err(HttpError::invalid_field(
                "encoding_format",
                "must be float or base64",
            ));
        }
    };
    let inputs = match body.input {
        Value::String(s) => vec![s],
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => {
            return Err(HttpError::unsupported(
                "input",
                "send a string or a list of strings (token-id lists are not taken)",
            ));
        }
    };
    let request = pb::EmbedRequest {
        model: body.model,
        inputs,
        client_request_id: caller.client_request_id.clone(),
    };
    let (job, metered) = embed::accept(engine, &caller.principal, request)?;
    let span = embed::span("embeddings", &job, &caller.trace_context);
    let recorder = OutcomeRecorder::new(engine, job.model.as_str());
    let result = engine
        .embed(&job, caller.arrived, caller.deadline)
        .instrument(span.clone())
        .await;
    span.in_scope(|| recorder.finish_embed(&result));
    auth::settle_embed(metered, &result);
    let e = result.map_err(|e| auth::scrub(engine, &caller.principal, e))?;
    let data = e
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, values)| EmbeddingItem {
            object: "embedding",
            index: index as u32,
            embedding: if base64 {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                Vector::Base64(STANDARD.encode(bytes))
            } else {
                Vector::Float(values)
            },
        })
        .collect();
    Ok(Json(EmbeddingList {
        object: "list",
        data,
        model: e.model,
        usage: EmbeddingUsage {
            prompt_tokens: e.prompt_tokens,
            total_tokens: e.prompt_tokens,
        },
    }))
}
