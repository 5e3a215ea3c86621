//! `POST /v1/completions` (the legacy text-completion API).

use serde::{Deserialize, Serialize};

use super::{OtherFields, Stop, StreamOptions, Usage};

/// The request body.
#[derive(Debug, Clone, Deserialize)]
pub struct CompletionRequest {
    /// Model id.
    pub model: String,
    /// A string, or a list holding one string.
    pub prompt: serde_json::Value,
    /// Length cap.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus mass.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Stop sequences.
    #[serde(default)]
    pub stop: Option<Stop>,
    /// Sampling seed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Stream as server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Streaming options.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Everything else.
    #[serde(flatten)]
    pub other: OtherFields,
}

/// A whole answer (`object: "text_completion"`); streamed chunks have the
/// same shape.
#[derive(Debug, Clone, Serialize)]
pub struct TextCompletion {
    /// `cmpl-...`.
    pub id: String,
    /// `"text_completion"`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// Model id that answered.
    pub model: String,
    /// One choice (none in the usage chunk).
    pub choices: Vec<TextChoice>,
    /// Token counts (whole answers and the usage chunk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One text choice.
#[derive(Debug, Clone, Serialize)]
pub struct TextChoice {
    /// Always 0.
    pub index: u32,
    /// The text (a delta when streamed).
    pub text: String,
    /// `null`: log-probabilities are not returned.
    pub logprobs: Option<()>,
    /// Why it stopped (last chunk only when streamed).
    pub finish_reason: Option<&'static str>,
}
