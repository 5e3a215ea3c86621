//! `POST /v1/chat/completions`.

use serde::{Deserialize, Serialize};

use super::{OtherFields, Stop, StreamOptions, Usage};

/// The request body.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatRequest {
    /// Model id.
    pub model: String,
    /// The conversation.
    pub messages: Vec<RequestMessage>,
    /// Length cap (deprecated by OpenAI in favour of the next one).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Length cap.
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
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
    /// OpenRouter's convention: models to fall back to, in order.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Presence penalty, -2..=2.
    #[serde(default)]
    pub presence_penalty: Option<f32>,
    /// Frequency penalty, -2..=2.
    #[serde(default)]
    pub frequency_penalty: Option<f32>,
    /// `{"type": "text" | "json_object" | "json_schema", "json_schema": {...}}`.
    #[serde(default)]
    pub response_format: Option<ResponseFormatIn>,
    /// Function tools.
    #[serde(default)]
    pub tools: Option<Vec<ToolIn>>,
    /// `"auto"`, `"none"`, `"required"` or `{"type": "function", "function": {"name": ...}}`.
    #[serde(default)]
    pub tool_choice: Option<serde_json::Value>,
    /// Return per-token log-probabilities.
    #[serde(default)]
    pub logprobs: Option<bool>,
    /// With `logprobs`: alternatives per position, 0..=20.
    #[serde(default)]
    pub top_logprobs: Option<u32>,
    /// Everything else.
    #[serde(flatten)]
    pub other: OtherFields,
}

/// One message of the request.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// A string, a list of content parts, or null.
    #[serde(default)]
    pub content: Option<serde_json::Value>,
    /// Assistant messages: the calls the model made.
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCallOut>>,
    /// Tool messages: the call answered.
    #[serde(default)]
    pub tool_call_id: Option<String>,
    /// Everything else (`name`, `tool_calls`, ...).
    #[serde(flatten)]
    pub other: OtherFields,
}

/// `response_format`.
#[derive(Debug, Clone, Deserialize)]
pub struct ResponseFormatIn {
    /// `text`, `json_object` or `json_schema`.
    #[serde(rename = "type")]
    pub kind: String,
    /// With `json_schema`.
    #[serde(default)]
    pub json_schema: Option<JsonSchemaIn>,
}

/// `response_format.json_schema`.
#[derive(Debug, Clone, Deserialize)]
pub struct JsonSchemaIn {
    /// A name for it.
    #[serde(default)]
    pub name: Option<String>,
    /// The schema.
    #[serde(default)]
    pub schema: Option<serde_json::Value>,
    /// OpenAI's strict mode.
    #[serde(default)]
    pub strict: Option<bool>,
}

/// One entry of `tools`.
#[derive(Debug, Clone, Deserialize)]
pub struct ToolIn {
    /// Must be `function`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function.
    pub function: FunctionIn,
}

/// A function tool.
#[derive(Debug, Clone, Deserialize)]
pub struct FunctionIn {
    /// Name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// JSON Schema of its parameters.
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
}

/// A tool call, in a request's assistant message or in an answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolCallOut {
    /// The call's id.
    pub id: String,
    /// Always `"function"`.
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    /// Name and arguments.
    pub function: FunctionCall,
}

fn function_kind() -> String {
    "function".to_string()
}

/// A function call's name and arguments (JSON text).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Function name.
    pub name: String,
    /// Arguments, JSON text.
    pub arguments: String,
}

/// A streamed piece of a tool call.
#[derive(Debug, Clone, Serialize)]
pub struct ToolCallChunk {
    /// Which call.
    pub index: u32,
    /// Its id (first piece).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `"function"` (first piece).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// Name (first piece) and more arguments.
    pub function: FunctionChunk,
}

/// A piece of a function call.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionChunk {
    /// Name (first piece).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// More argument text.
    pub arguments: String,
}

/// A whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct ChatCompletion {
    /// `chatcmpl-...`.
    pub id: String,
    /// `"chat.completion"`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// Model id that answered.
    pub model: String,
    /// One choice.
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    pub usage: Usage,
}

/// The one choice of a whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct ChatChoice {
    /// Always 0.
    pub index: u32,
    /// The answer.
    pub message: AssistantMessage,
    /// Per-token log-probabilities, when asked for.
    pub logprobs: Option<ChoiceLogprobs>,
    /// `stop`, `length`, `content_filter` or `tool_calls`.
    pub finish_reason: &'static str,
}

/// The assistant's message.
#[derive(Debug, Clone, Serialize)]
pub struct AssistantMessage {
    /// Always `"assistant"`.
    pub role: &'static str,
    /// The text; null when the model only called tools.
    pub content: Option<String>,
    /// The model's reasoning, apart from the answer (llama-server's and
    /// DeepSeek's name for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// The calls the model made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallOut>>,
}

/// One streamed chunk (`object: "chat.completion.chunk"`).
#[derive(Debug, Clone, Serialize)]
pub struct ChatChunk {
    /// Same for every chunk of one answer.
    pub id: String,
    /// `"chat.completion.chunk"`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// Model id.
    pub model: String,
    /// One choice; empty in the usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// Only in the usage chunk (`stream_options.include_usage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// A streamed choice.
#[derive(Debug, Clone, Serialize)]
pub struct ChunkChoice {
    /// Always 0.
    pub index: u32,
    /// What is new.
    pub delta: Delta,
    /// Log-probabilities of the tokens in this chunk, when asked for.
    pub logprobs: Option<ChoiceLogprobs>,
    /// Set on the last content chunk.
    pub finish_reason: Option<&'static str>,
}

/// What a chunk adds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delta {
    /// `"assistant"` in the first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// New text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// New reasoning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Pieces of tool calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallChunk>>,
}

/// `choices[].logprobs`.
#[derive(Debug, Clone, Serialize)]
pub struct ChoiceLogprobs {
    /// One entry per token.
    pub content: Vec<LogprobOut>,
}

/// One token's log-probability.
#[derive(Debug, Clone, Serialize)]
pub struct LogprobOut {
    /// The token's text.
    pub token: String,
    /// Its natural-log probability.
    pub logprob: f64,
    /// The token's UTF-8 bytes.
    pub bytes: Vec<u8>,
    /// The most likely tokens at this position.
    pub top_logprobs: Vec<TopLogprobOut>,
}

/// One alternative.
#[derive(Debug, Clone, Serialize)]
pub struct TopLogprobOut {
    /// The token's text.
    pub token: String,
    /// Its natural-log probability.
    pub logprob: f64,
    /// The token's UTF-8 bytes.
    pub bytes: Vec<u8>,
}
