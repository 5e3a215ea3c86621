//! The OpenAI HTTP API's JSON, as far as the door speaks it: request bodies
//! (deserialised) and answers (serialised), with no behaviour. Field names
//! and shapes follow the OpenAI API reference; `#[serde(flatten)] other`
//! collects fields the door does not know, so a handler can name them in a
//! 400 instead of silently dropping them.

mod chat;
mod completions;
mod embeddings;
mod models;

use serde::{Deserialize, Serialize};

pub use chat::*;
pub use completions::*;
pub use embeddings::*;
pub use models::*;

/// Unknown request fields, by name.
pub type OtherFields = serde_json::Map<String, serde_json::Value>;

/// `stop`: one string or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One sequence.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Stop {
    /// As a list.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s],
            Stop::Many(v) => v,
        }
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with `usage` (and empty `choices`) before `[DONE]`.
    #[serde(default)]
    pub include_usage: bool,
}

/// `usage` in answers.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Generated tokens.
    pub completion_tokens: u32,
    /// Their sum.
    pub total_tokens: u32,
    /// Cost in USD, when the upstream reports it (OpenRouter's `usage.cost`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}

/// `{"error": {...}}`.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// OpenAI's error object.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorDetail {
    /// For a person.
    pub message: String,
    /// `invalid_request_error`, `rate_limit_error`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The request field at fault.
    pub param: Option<String>,
    /// A stable label.
    pub code: Option<&'static str>,
}
