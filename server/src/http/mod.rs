//! The OpenAI-compatible HTTP door: a second thin front end over the same
//! engine as the gRPC API, so every OpenAI SDK and agent framework works
//! against the router unchanged.
//!
//! A request goes the gRPC door's way: the OpenAI JSON becomes the same
//! `GenerateRequest` the proto defines ([`request`]), the one validator
//! turns it into a domain `Job`, and the engine runs it with the same
//! routing, executor, limits, fallbacks, deadline, span and stats; only the
//! rendering of the answer ([`response`], [`stream`]) and of errors
//! ([`status`]) is HTTP's own. Per-request headers (credentials, deadline,
//! trace context, client request id) are read in one place, [`caller`].
//!
//! Files: [`chat`] and [`completions`] (the two generation routes),
//! [`embeddings`],
//! [`models`] (`/v1/models`, `/health`), [`unary`] and [`stream`] (running
//! a job for a whole answer or as server-sent events), [`body`] (the JSON
//! body extractor), [`wire`] (the OpenAI JSON types).

pub mod body;
pub mod caller;
mod chat;
mod completions;
mod embeddings;
mod models;
pub mod request;
mod response;
pub mod status;
mod stream;
mod unary;
pub mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use status::HttpError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The engine both doors drive.
    pub engine: Arc<Engine>,
    /// Cancelled when the shutdown grace runs out: streamed work stops.
    pub hard_stop: CancellationToken,
}

/// The door's routes. Bodies over `limits.max_message_bytes` are refused
/// with 413 before they are read whole.
pub fn router(state: AppState) -> Router {
    let body_limit = state.engine.config().limits.max_message_bytes;
    Router::new()
        .route("/v1/chat/completions", post(chat::handle))
        .route("/v1/completions", post(completions::handle))
        .route("/v1/embeddings", post(embeddings::handle))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{*id}", get(models::one))
        .route("/health", get(models::health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves `app` on `listener` until `stop` is cancelled; in-flight requests
/// finish first (axum's graceful shutdown), idle connections are closed.
pub async fn serve(listener: TcpListener, app: Router, stop: CancellationToken) {
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await;
    if let Err(e) = served {
        tracing::warn!("HTTP door stopped: {e}");
    }
}

async fn not_found(method: Method, uri: Uri) -> HttpError {
    HttpError::not_found(format!(
        "no route for {method} {}; this router serves POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings, GET /v1/models and GET /health",
        uri.path()
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> HttpError {
    HttpError::method_not_allowed(format!("{method} is not allowed on {}", uri.path()))
}
