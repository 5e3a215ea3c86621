//! The OpenAI chat-completions wire format, as far as the router uses it.
//! Unknown fields are ignored so provider extensions (llama-server's
//! `timings`, OpenRouter's `provider`) never break parsing.

use serde::{Deserialize, Serialize};

use serde_json::{Value, json};

use crate::domain::{ChatMessage, ResponseFormat, Tool, ToolCall, ToolChoice};

/// One chat message on the wire, borrowed from the domain message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WireMessage<'a> {
    /// Author role.
    pub role: &'static str,
    /// Text; null in an assistant message that only calls tools.
    pub content: Option<&'a str>,
    /// The calls an assistant message made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall<'a>>,
    /// The call a tool message answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
}

impl<'a> From<&'a ChatMessage> for WireMessage<'a> {
    fn from(m: &'a ChatMessage) -> Self {
        let calls_only = m.content.is_empty() && !m.tool_calls.is_empty();
        WireMessage {
            role: m.role.as_str(),
            content: (!calls_only).then_some(m.content.as_str()),
            tool_calls: m.tool_calls.iter().map(WireToolCall::from).collect(),
            tool_call_id: m.tool_call_id.as_deref(),
        }
    }
}

/// A tool call in a request's assistant message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WireToolCall<'a> {
    /// The call's id.
    pub id: &'a str,
    /// Always `"function"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Name and arguments.
    pub function: WireFunctionCall<'a>,
}

/// A function call's name and arguments.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WireFunctionCall<'a> {
    /// Function name.
    pub name: &'a str,
    /// Arguments, JSON text.
    pub arguments: &'a str,
}

impl<'a> From<&'a ToolCall> for WireToolCall<'a> {
    fn from(c: &'a ToolCall) -> Self {
        WireToolCall {
            id: &c.id,
            kind: "function",
            function: WireFunctionCall {
                name: &c.name,
                arguments: &c.arguments,
            },
        }
    }
}

/// `tools`: function tools in OpenAI's shape, which llama-server (with its
/// jinja chat templates) and OpenRouter both take.
pub fn tools(tools: &[Tool]) -> Option<Vec<Value>> {
    if tools.is_empty() {
        return None;
    }
    Some(
        tools
            .iter()
            .map(|t| {
                let mut function = json!({"name": t.name});
                if !t.description.is_empty() {
                    function["description"] = json!(t.description);
                }
                if let Some(parameters) = &t.parameters {
                    // Validation checked it is a JSON object.
                    function["parameters"] = serde_json::from_str(parameters).unwrap_or(json!({}));
                }
                json!({"type": "function", "function": function})
            })
            .collect(),
    )
}

/// `tool_choice` in OpenAI's shape.
pub fn tool_choice(choice: Option<&ToolChoice>) -> Option<Value> {
    Some(match choice? {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Function(name) => json!({"type": "function", "function": {"name": name}}),
    })
}

/// `response_format` in OpenAI's shape: OpenRouter passes it to the
/// provider; llama-server turns it into a grammar (`json_object` → any
/// object, `json_schema` → the schema's grammar).
pub fn response_format(format: Option<&ResponseFormat>) -> Option<Value> {
    Some(match format? {
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => json!({
            "type": "json_schema",
            "json_schema": {
                "name": name,
                // Validation checked it is a JSON object.
                "schema": serde_json::from_str::<Value>(schema).unwrap_or(json!({})),
                "strict": strict,
            },
        }),
    })
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
    /// Presence penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    /// Frequency penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    /// JSON output ([`response_format`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// Function tools ([`tools`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// [`tool_choice`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Per-token log-probabilities.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub logprobs: bool,
    /// Alternatives per position, with `logprobs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
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
    /// OpenAI's breakdown of the prompt tokens (cache reuse).
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

/// `usage.prompt_tokens_details` (OpenAI, vLLM, recent llama-server).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
pub struct PromptTokensDetails {
    /// Prompt tokens served from the upstream's prefix cache.
    #[serde(default)]
    pub cached_tokens: Option<u32>,
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

/// A non-streaming choice's message, or a streamed choice's delta: the
/// same fields, whole or in pieces.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChoiceMessage {
    /// Generated text (null when the model called a tool).
    #[serde(default)]
    pub content: Option<String>,
    /// Reasoning, as llama-server (`--reasoning-format`) and DeepSeek name it.
    #[serde(default)]
    pub reasoning_content: Option<String>,
    /// Reasoning, as OpenRouter names it.
    #[serde(default)]
    pub reasoning: Option<String>,
    /// Tool calls (whole, or pieces with an `index` when streamed).
    #[serde(default)]
    pub tool_calls: Vec<WireToolCallIn>,
}

impl ChoiceMessage {
    /// The reasoning text under either name, when not empty.
    pub fn take_reasoning(&mut self) -> Option<String> {
        self.reasoning_content
            .take()
            .or(self.reasoning.take())
            .filter(|r| !r.is_empty())
    }
}

/// A streamed choice's delta.
pub type ChoiceDelta = ChoiceMessage;

/// A tool call (or a piece of one) in an answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireToolCallIn {
    /// Which call a streamed piece belongs to.
    #[serde(default)]
    pub index: Option<u32>,
    /// The call's id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name and arguments (or pieces of them).
    #[serde(default)]
    pub function: WireFunctionIn,
}

/// A function call's name and arguments in an answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireFunctionIn {
    /// Function name.
    #[serde(default)]
    pub name: Option<String>,
    /// Arguments, JSON text (or a piece of it).
    #[serde(default)]
    pub arguments: Option<String>,
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
    /// Log-probabilities of this choice's (or chunk's) tokens.
    #[serde(default)]
    pub logprobs: Option<WireLogprobs>,
}

/// `choices[].logprobs`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireLogprobs {
    /// One entry per token.
    #[serde(default)]
    pub content: Option<Vec<WireTokenLogprob>>,
}

/// One token's log-probability.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireTokenLogprob {
    /// The token's text.
    #[serde(default)]
    pub token: String,
    /// Its log-probability.
    #[serde(default)]
    pub logprob: f64,
    /// Alternatives.
    #[serde(default)]
    pub top_logprobs: Vec<WireTopLogprob>,
}

/// One alternative.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireTopLogprob {
    /// The token's text.
    #[serde(default)]
    pub token: String,
    /// Its log-probability.
    #[serde(default)]
    pub logprob: f64,
}

impl WireLogprobs {
    /// As domain values (empty when the upstream sent none).
    pub fn into_domain(self) -> Vec<crate::domain::TokenLogprob> {
        self.content
            .unwrap_or_default()
            .into_iter()
            .map(|t| crate::domain::TokenLogprob {
                token: t.token,
                logprob: t.logprob,
                top: t
                    .top_logprobs
                    .into_iter()
                    .map(|a| (a.token, a.logprob))
                    .collect(),
            })
            .collect()
    }
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

/// The cache reuse an answer reports: OpenAI's field, else llama-server's.
pub fn cached_tokens(usage: Option<&WireUsage>, timings: Option<&WireTimings>) -> Option<u32> {
    usage
        .and_then(|u| u.prompt_tokens_details)
        .and_then(|d| d.cached_tokens)
        .or_else(|| {
            timings
                .and_then(|t| t.cache_n)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        })
}
