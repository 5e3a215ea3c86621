//! The OpenAI chat-completions wire format, as far as the router uses it.
//! Unknown fields are ignored so provider extensions (llama-server's
//! `timings`, OpenRouter's `provider`) never break parsing.

use serde::{Deserialize, Serialize};

use crate::domain::ChatMessage;

/// One chat message on the wire, borrowed from the domain message.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct WireMessage<'a> {
    /// Author role.
    pub role: &'static str,
    /// Text.
    pub content: &'a str,
}

impl<'a> From<&'a ChatMessage> for WireMessage<'a> {
    fn from(m: &'a ChatMessage) -> Self {
        WireMessage {
            role: m.role.as_str(),
            content: &m.content,
        }
    }
}

/// `stream_options` (OpenAI): ask for a final usage chunk.
#[derive(Debug, Clone, Serialize)]
pub struct StreamOptions {
    /// Whether the final chunk carries `usage`.
    pub include_usage: bool,
}

/// Request body of `POST {base}/chat/completions`.
#[derive(Debug, Clone, Serialize)]
pub struct ChatCompletionRequest<'a> {
    /// Upstream model name.
    pub model: &'a str,
    /// OpenRouter's own fallback list, tried by OpenRouter in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<&'a [String]>,
    /// Conversation.
    pub messages: Vec<WireMessage<'a>>,
    /// Length cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus mass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    /// Sampling seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// SSE streaming.
    pub stream: bool,
    /// Only with `stream`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

/// Token usage as reported by the upstream.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
pub struct WireUsage {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: u32,
    /// Completion tokens.
    #[serde(default)]
    pub completion_tokens: u32,
    /// OpenRouter's cost in credits (USD).
    #[serde(default)]
    pub cost: Option<f64>,
}

/// `{"error": {...}}` as OpenAI and OpenRouter send it, in a body or an SSE event.
#[derive(Debug, Clone, Deserialize)]
pub struct WireError {
    /// Numeric or string code; kept only for the message.
    #[serde(default)]
    pub code: Option<serde_json::Value>,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
}

/// A non-streaming choice's message.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChoiceMessage {
    /// Generated text (null when the model called a tool).
    #[serde(default)]
    pub content: Option<String>,
}

/// A streamed choice's delta.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChoiceDelta {
    /// New text.
    #[serde(default)]
    pub content: Option<String>,
}

/// One choice, streamed or whole.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireChoice {
    /// Whole message (non-streaming).
    #[serde(default)]
    pub message: Option<ChoiceMessage>,
    /// Delta (streaming).
    #[serde(default)]
    pub delta: Option<ChoiceDelta>,
    /// Why generation stopped; set on the last chunk.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A non-streaming response, or one SSE chunk: same shape, different fields set.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatCompletionBody {
    /// Upstream's id for the generation.
    #[serde(default)]
    pub id: Option<String>,
    /// Model that answered (OpenRouter names the real one).
    #[serde(default)]
    pub model: Option<String>,
    /// Choices; the router asks for one.
    #[serde(default)]
    pub choices: Vec<WireChoice>,
    /// Usage (last chunk when streaming with include_usage).
    #[serde(default)]
    pub usage: Option<WireUsage>,
    /// An error reported with HTTP 200 (in-stream or in-body).
    #[serde(default)]
    pub error: Option<WireError>,
    /// llama-server's own timings (non-standard; absent elsewhere).
    #[serde(default)]
    pub timings: Option<WireTimings>,
}

/// The part of llama-server's `timings` the router uses: the model host's
/// own view of the call, recorded on the `upstream_call` span so a trace
/// shows the prompt cache at work and where the host spent its time.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
pub struct WireTimings {
    /// Prompt tokens evaluated (those not taken from the cache).
    #[serde(default)]
    pub prompt_n: Option<u64>,
    /// Prompt tokens reused from the host's KV cache.
    #[serde(default)]
    pub cache_n: Option<u64>,
    /// Time spent evaluating the prompt, in milliseconds.
    #[serde(default)]
    pub prompt_ms: Option<f64>,
    /// Time spent generating tokens after the first, in milliseconds.
    #[serde(default)]
    pub predicted_ms: Option<f64>,
}
