//! The JSON body extractor: axum's `Json` (content type check, body limit,
//! serde with the path of the field at fault), its rejections turned into
//! OpenAI-shaped errors: 415 for a body that is not `application/json`, 413
//! over the size limit, 400 naming the field for JSON that does not fit.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::AppState;
use super::status::HttpError;

/// A request body parsed as `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, HttpError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(rejected(
                rejection,
                state.engine.config().limits.max_message_bytes,
            )),
        }
    }
}

fn rejected(rejection: JsonRejection, limit: usize) -> HttpError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => HttpError::not_json(),
        JsonRejection::JsonSyntaxError(e) => HttpError::bad_body(format!(
            "the body is not valid JSON: {}",
            strip_prefix(&e.body_text())
        )),
        JsonRejection::JsonDataError(e) => HttpError::bad_body(format!(
            "the body does not match the API: {}",
            strip_prefix(&e.body_text())
        )),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => HttpError::too_large(limit),
        other => HttpError {
            status: other.status(),
            message: other.body_text(),
            code: Some("unreadable_body"),
            param: None,
            retry_after: None,
        },
    }
}

/// axum's texts start with a generic sentence; the detail after it is what
/// a person needs (`messages[0]: missing field `role` at line 1 column 9`).
fn strip_prefix(text: &str) -> &str {
    text.split_once(": ").map_or(text, |(_, detail)| detail)
}
