//! The one place where errors become HTTP answers, next to the gRPC
//! mapping in `api::status`: a status code per [`Outcome`] (the same
//! outcomes the gRPC codes come from), the body in OpenAI's error shape
//! (`{"error": {"message", "type", "param", "code"}}`), and `Retry-After`
//! (plus `retry-after-ms`, which the OpenAI SDKs read first) whenever the
//! failure carries a hint.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::wire::{ErrorBody, ErrorDetail};
use crate::domain::{Outcome, ValidationError};
use crate::error::RouterError;

/// An HTTP error answer. Messages are the same person-facing text the gRPC
/// door sends; they never contain prompt text or secrets.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// The status code.
    pub status: StatusCode,
    /// What went wrong and what to change.
    pub message: String,
    /// OpenAI's `code`: a stable label (`model_not_found`, `queue_full`...).
    pub code: Option<&'static str>,
    /// OpenAI's `param`: the request field at fault, when one is.
    pub param: Option<String>,
    /// When to try again.
    pub retry_after: Option<Duration>,
}

/// The status code for an outcome (google.rpc's HTTP mapping of the same
/// gRPC code, with 499 for a caller that left).
pub fn status_for(outcome: Outcome) -> StatusCode {
    match outcome {
        Outcome::Ok => StatusCode::OK,
        Outcome::InvalidArgument | Outcome::FailedPrecondition => StatusCode::BAD_REQUEST,
        Outcome::Unauthenticated => StatusCode::UNAUTHORIZED,
        Outcome::PermissionDenied => StatusCode::FORBIDDEN,
        Outcome::NotFound => StatusCode::NOT_FOUND,
        Outcome::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Outcome::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Outcome::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        // nginx's "client closed request": nobody is left to read it.
        Outcome::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
    }
}

impl From<RouterError> for HttpError {
    fn from(error: RouterError) -> HttpError {
        HttpError {
            status: status_for(error.outcome()),
            code: Some(error.label()),
            param: None,
            retry_after: error.retry_after(),
            message: error.to_string(),
        }
    }
}

impl From<ValidationError> for HttpError {
    fn from(error: ValidationError) -> HttpError {
        HttpError::from(RouterError::from(error))
    }
}

impl HttpError {
    fn new(status: StatusCode, code: &'static str, message: String) -> HttpError {
        HttpError {
            status,
            message,
            code: Some(code),
            param: None,
            retry_after: None,
        }
    }

    /// 400 for a request field the door cannot accept; names the field.
    pub fn invalid_field(param: &str, message: impl Into<String>) -> HttpError {
        HttpError {
            param: Some(param.to_string()),
            ..HttpError::new(
                StatusCode::BAD_REQUEST,
                "invalid_argument",
                format!("{param}: {}", message.into()),
            )
        }
    }

    /// 400 for a feature the router does not offer (never silently dropped).
    pub fn unsupported(param: &str, why: &str) -> HttpError {
        HttpError {
            param: Some(param.to_string()),
            ..HttpError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_parameter",
                format!("{param} is not supported: {why}"),
            )
        }
    }

    /// 400 for a body that is not the JSON the route takes.
    pub fn bad_body(message: String) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }

    /// 413 for a body over `limits.max_message_bytes`.
    pub fn too_large(limit: usize) -> HttpError {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is larger than this router's limit of {limit} bytes (limits.max_message_bytes)"
            ),
        )
    }

    /// 415 for a body that is not `application/json`.
    pub fn not_json() -> HttpError {
        HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the request body must be JSON with the header Content-Type: application/json".into(),
        )
    }

    /// 404 for a path no route serves.
    pub fn not_found(message: String) -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, "unknown_url", message)
    }

    /// 405 for a known path with the wrong method.
    pub fn method_not_allowed(message: String) -> HttpError {
        HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    /// OpenAI's `type` for the status.
    pub fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            504 => "timeout_error",
            500..=599 => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// The JSON body, also sent as the last event of a stream that fails
    /// after it started.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                message: self.message.clone(),
                kind: self.kind(),
                param: self.param.clone(),
                code: self.code,
            },
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(after) = self.retry_after {
            let headers = response.headers_mut();
            // Retry-After counts whole seconds: round up, so a client never
            // comes back early.
            let secs = after.as_millis().div_ceil(1000).max(1);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs as u64));
            headers.insert(
                HeaderName::from_static("retry-after-ms"),
                HeaderValue::from(after.as_millis() as u64),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_the_status_its_grpc_code_maps_to() {
        let expected = [
            (Outcome::Ok, 200),
            (Outcome::Cancelled, 499),
            (Outcome::InvalidArgument, 400),
            (Outcome::DeadlineExceeded, 504),
            (Outcome::NotFound, 404),
            (Outcome::PermissionDenied, 403),
            (Outcome::ResourceExhausted, 429),
            (Outcome::FailedPrecondition, 400),
            (Outcome::Unavailable, 503),
            (Outcome::Unauthenticated, 401),
        ];
        assert_eq!(expected.len(), Outcome::ALL.len());
        for (outcome, status) in expected {
            assert_eq!(status_for(outcome).as_u16(), status, "{outcome:?}");
        }
    }

    #[test]
    fn a_queue_full_error_carries_retry_after_in_seconds_and_ms() {
        let e = HttpError::from(RouterError::ResourceExhausted {
            message: "queue full".into(),
            retry_after: Some(Duration::from_millis(1500)),
        });
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert_eq!(r.headers()["retry-after-ms"], "1500");
    }
}
