//! OpenRouter-shaped error responses: `{"error":{"code":N,"message":"..."}}`.
//! OpenAI clients read `error.message`, OpenRouter clients also `error.code`,
//! so one shape serves both.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error decided before any waiting; small, unlike `Response`, so it
/// can travel in a `Result`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.status, &self.message)
    }
}

pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": {"code": status.as_u16(), "message": message}});
    (status, Json(body)).into_response()
}

/// Error with a `Retry-After: <secs>` header.
pub(crate) fn with_retry_after(mut resp: Response, secs: u64) -> Response {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// The message a real upstream would send for an emulated status code.
pub(crate) fn message_for(status: u16) -> &'static str {
    match status {
        400 => "Bad request",
        401 => "No auth credentials found",
        402 => "Insufficient credits",
        403 => "Input flagged by moderation",
        404 => "Not found",
        408 => "Request timed out",
        413 => "Request too large",
        429 => "Rate limit exceeded",
        500 => "Internal server error",
        502 => "Provider returned error",
        503 => "upstream overloaded",
        504 => "Gateway timeout",
        _ => "Emulated error",
    }
}
