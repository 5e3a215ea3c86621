//! A validated request, ready for the engine: every field checked, the
//! prompt turned into chat messages. Nothing downstream re-validates.

use super::generation::{ResponseFormat, Tool, ToolCall, ToolChoice};
use super::model_id::ModelId;
use super::priority::Priority;

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions.
    System,
    /// The person or program asking.
    User,
    /// An earlier model answer.
    Assistant,
    /// A tool's result.
    Tool,
}

impl Role {
    /// Every role, in the order messages list them.
    pub const ALL: [Role; 4] = [Role::System, Role::User, Role::Assistant, Role::Tool];

    /// The OpenAI name, also used by the proto.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    /// The role named `name`, if any.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Author.
    pub role: Role,
    /// Text.
    pub content: String,
    /// Assistant messages: the tool calls the model made.
    pub tool_calls: Vec<ToolCall>,
    /// Tool messages: the call answered.
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A plain text message.
    pub fn text(role: Role, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// Generation parameters after validation.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// Always set: the request's value or the configured default.
    pub max_tokens: u32,
    /// Finite, 0..=2.
    pub temperature: Option<f32>,
    /// In (0, 1].
    pub top_p: Option<f32>,
    /// Non-empty stop sequences.
    pub stop: Vec<String>,
    /// Sampling seed.
    pub seed: Option<i64>,
    /// Finite, -2..=2.
    pub presence_penalty: Option<f32>,
    /// Finite, -2..=2.
    pub frequency_penalty: Option<f32>,
    /// JSON output, when asked for.
    pub response_format: Option<ResponseFormat>,
    /// Functions the model may call.
    pub tools: Vec<Tool>,
    /// Only with tools.
    pub tool_choice: Option<ToolChoice>,
    /// Return per-token log-probabilities with this many alternatives
    /// (0..=20); None: none.
    pub logprobs: Option<u32>,
}

/// One unit of work for the engine.
#[derive(Debug, Clone)]
pub struct Job {
    /// Primary model (may still be unknown to the routing table).
    pub model: ModelId,
    /// Fallback models, tried in order while nothing reached the caller.
    pub fallbacks: Vec<ModelId>,
    /// The conversation; never empty.
    pub messages: Vec<ChatMessage>,
    /// Sampling and length.
    pub params: Params,
    /// The caller's id, echoed back.
    pub client_request_id: String,
    /// Admission class: the caller's key decides it (interactive when open).
    pub priority: Priority,
}
