//! HTTP routes, and validation of a chat-completions request; what to
//! answer is decided in `respond.rs`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::behaviour::Behaviour;
use super::conn::ConnHandle;
use super::errors::{ApiError, error_response, message_for};
use super::request::ChatRequest;
use super::respond::respond;
use super::state::AppState;
use super::stats::RequestGuard;

/// Large enough for benchmark prompts; axum's 2 MB default is not.
const BODY_LIMIT: usize = 64 << 20;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/api/v1/chat/completions", post(chat))
        .route("/v1/embeddings", post(embeddings))
        .route("/api/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/api/v1/models", get(models))
        .route("/health", get(health))
        .route("/slots", get(slots))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /slots` as llama-server answers it (`id`, `is_processing`), one
/// entry per slot, the busy ones first; with unlimited slots, the error
/// llama-server gives under `--no-slots`; with an API key, 401 without it
/// (llama-server's `--api-key` guards `/slots` too).
async fn slots(State(st): State<AppState>, headers: HeaderMap) -> Response {
    // Counted first, whatever the answer: a reader that waits for a count
    // knows the snapshot behind it was taken after.
    st.shared.slots_read();
    if !authorised(&st, &headers) {
        return error_response(StatusCode::UNAUTHORIZED, message_for(401));
    }
    let (Some(sem), Some(total)) = (&st.slots, st.config.slots) else {
        return error_response(
            StatusCode::NOT_IMPLEMENTED,
            "This server does not support slots endpoint.",
        );
    };
    let busy = total.saturating_sub(sem.available_permits());
    let list: Vec<Value> = (0..total)
        .map(|id| json!({"id": id, "is_processing": id < busy}))
        .collect();
    Json(Value::Array(list)).into_response()
}

/// `GET /metrics`: llama-server's two queue gauges (its `--metrics`),
/// requests generating and requests waiting for a slot.
async fn metrics(State(st): State<AppState>) -> String {
    let stats = st.shared.snapshot();
    let waiting = stats.queued;
    let processing = stats.in_flight.saturating_sub(waiting);
    format!(
        "# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing {processing}\n\
         # TYPE llamacpp:requests_deferred gauge\nllamacpp:requests_deferred {waiting}\n"
    )
}

async fn models(State(st): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = st
        .config
        .models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "emulator"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// `POST /v1/embeddings`: a deterministic 4-dimensional vector per input
/// (characters, words, first and last byte), usage counting words. Counted
/// and recorded like a chat request.
async fn embeddings(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let body = body.ok().map(|Json(b)| b);
    st.shared.record_request(&headers, body.clone());
    let mut guard = RequestGuard::new(st.shared.clone());
    guard.finish();
    let inputs: Option<Vec<String>> = match body.as_ref().and_then(|b| b.get("input")) {
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => None,
    };
    let (Some(inputs), Some(model)) = (inputs, body.as_ref().and_then(|b| b.get("model"))) else {
        return ApiError::bad_request("model and input (a string or strings) are required")
            .into_response();
    };
    let words: usize = inputs.iter().map(|t| t.split_whitespace().count()).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, t)| {
            let bytes = t.as_bytes();
            let vector = [
                t.chars().count() as f32,
                t.split_whitespace().count() as f32,
                f32::from(bytes.first().copied().unwrap_or(0)),
                f32::from(bytes.last().copied().unwrap_or(0)),
            ];
            json!({"object": "embedding", "index": index, "embedding": vector})
        })
        .collect();
    Json(json!({
        "object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": words, "total_tokens": words},
    }))
    .into_response()
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("no route for {method} {uri}"),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method {method} not allowed for {uri}"),
    )
}

/// A validated request and the behaviour it asked for.
pub(crate) struct Prepared {
    pub req: ChatRequest,
    pub behaviour: Behaviour,
    /// Key for the `flaky`/`rate_limit` counters: the exact model string
    /// (plus the behaviour header, if any).
    pub key: String,
}

async fn chat(
    State(st): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let parsed = match body {
        Err(rej) => Err(ApiError {
            status: rej.status(),
            message: rej.body_text(),
        }),
        Ok(b) => serde_json::from_slice::<Value>(&b)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}"))),
    };
    // Record before counting, so a test that sees `requests == n` also sees
    // request n's headers.
    st.shared
        .record_request(&headers, parsed.as_ref().ok().cloned());
    let mut guard = RequestGuard::new(st.shared.clone());
    match prepare(&st, &headers, parsed) {
        Ok(p) => respond(st, conn, p, guard).await,
        Err(e) => {
            guard.finish();
            e.into_response()
        }
    }
}

/// Whether the request carries the emulator's API key (always, without one).
fn authorised(st: &AppState, headers: &HeaderMap) -> bool {
    let Some(key) = &st.config.api_key else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    given == Some(key.as_str())
}

fn prepare(
    st: &AppState,
    headers: &HeaderMap,
    parsed: Result<Value, ApiError>,
) -> Result<Prepared, ApiError> {
    if !authorised(st, headers) {
        return Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: message_for(401).to_owned(),
        });
    }
    let req = ChatRequest::parse(&parsed?).map_err(ApiError::bad_request)?;
    let header = match headers
        .get("x-emulator-behaviour")
        .or_else(|| headers.get("x-emulator-behavior"))
    {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    ApiError::bad_request("x-emulator-behaviour header is not valid UTF-8")
                })?
                .to_owned(),
        ),
    };
    let from_header = match &header {
        Some(h) => Behaviour::from_header(h).map_err(ApiError::bad_request)?,
        None => Behaviour::default(),
    };
    let from_header = Behaviour::clone(&st.behaviour).overlay(from_header);
    let (_, from_model) = Behaviour::from_model(&req.model).map_err(ApiError::bad_request)?;
    let key = match &header {
        Some(h) => format!("{}\n{h}", req.model),
        None => req.model.clone(),
    };
    Ok(Prepared {
        req,
        behaviour: from_header.overlay(from_model),
        key,
    })
}
