//! Why a request was refused before any work: one variant per rule, each
//! with the message a person acts on. Prompt text is never echoed back.

use super::job::Role;
use super::model_id::ModelIdError;

/// A request that breaks a rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    /// `model` or a `fallback_models` entry is not a valid id.
    #[error("{field}: {reason}")]
    ModelId {
        /// Which field.
        field: &'static str,
        /// Which rule.
        reason: ModelIdError,
    },
    /// Too many fallbacks.
    #[error("at most {max} fallback_models are allowed")]
    TooManyFallbacks {
        /// The limit.
        max: usize,
    },
    /// `client_request_id` too long or not printable.
    #[error("client_request_id must be at most {max} bytes of printable text")]
    ClientRequestId {
        /// The limit in bytes.
        max: usize,
    },
    /// Neither a prompt nor messages.
    #[error("set either prompt or messages")]
    NoInput,
    /// A blank prompt.
    #[error("prompt is empty")]
    EmptyPrompt,
    /// An empty message list.
    #[error("messages is empty")]
    NoMessages,
    /// Messages that are all blank.
    #[error("every message is empty")]
    BlankMessages,
    /// A role outside [`Role::ALL`].
    #[error("messages[{index}].role must be one of {}", role_names())]
    UnknownRole {
        /// Position of the message.
        index: usize,
    },
    /// `max_tokens: 0`.
    #[error("max_tokens must be at least 1")]
    ZeroMaxTokens,
    /// `max_tokens` over the configured limit.
    #[error("max_tokens {requested} is above this router's limit of {limit}")]
    MaxTokensOverLimit {
        /// What was asked.
        requested: u32,
        /// `limits.max_tokens`.
        limit: u32,
    },
    /// NaN, infinite or out of 0..=2.
    #[error("temperature must be a number from 0 to 2")]
    Temperature,
    /// NaN or out of (0, 1].
    #[error("top_p must be greater than 0 and at most 1")]
    TopP,
    /// Too many stop sequences.
    #[error("at most {max} stop sequences are allowed")]
    TooManyStops {
        /// The limit.
        max: usize,
    },
    /// An empty or over-long stop sequence.
    #[error("stop sequences must be 1 to {max_bytes} bytes long")]
    StopLength {
        /// The limit in bytes.
        max_bytes: usize,
    },
    /// A penalty that is NaN, infinite or out of -2..=2.
    #[error("{field} must be a number from -2 to 2")]
    Penalty {
        /// `presence_penalty` or `frequency_penalty`.
        field: &'static str,
    },
    /// Too many tools.
    #[error("at most {max} tools are allowed")]
    TooManyTools {
        /// The limit.
        max: usize,
    },
    /// A tool name outside `[A-Za-z0-9_-]{1,64}`, or given twice.
    #[error("tools[{index}].name must be 1 to 64 letters, digits, '_' or '-', and unique")]
    ToolName {
        /// Position of the tool.
        index: usize,
    },
    /// JSON text that is not a JSON object.
    #[error("{field} must be a JSON object")]
    NotAJsonObject {
        /// Which field (`tools[2].parameters`, `response_format.json_schema.schema`).
        field: String,
    },
    /// `tool_choice` without tools, or naming a function that is not a tool.
    #[error("tool_choice {0}")]
    ToolChoice(&'static str),
    /// `top_logprobs` over 20, or without `logprobs`.
    #[error("top_logprobs must be 0 to 20 and needs logprobs")]
    TopLogprobs,
    /// A tool message without the id of the call it answers.
    #[error("messages[{index}] has role tool but no tool_call_id")]
    ToolCallId {
        /// Position of the message.
        index: usize,
    },
    /// A feature the backend that would answer cannot do.
    #[error("{feature} is not supported by {backend}")]
    Unsupported {
        /// The request field (`tools`, `response_format`, ...).
        feature: &'static str,
        /// Who would have answered (`local:embed-model`, `lab`).
        backend: String,
    },
    /// An embedding request with no inputs.
    #[error("inputs is empty: send at least one text to embed")]
    NoInputs,
    /// An empty text to embed.
    #[error("inputs[{index}] is empty")]
    EmptyInput {
        /// Position of the input.
        index: usize,
    },
    /// More inputs than the batch limit.
    #[error("{inputs} inputs; this router embeds at most {max} per request (split it)")]
    TooManyInputs {
        /// Inputs sent.
        inputs: usize,
        /// `limits.max_batch_items`.
        max: usize,
    },
    /// A batch with no items.
    #[error("items is empty: a batch needs at least one item")]
    EmptyBatch,
    /// A batch over the configured size.
    #[error("the batch has {items} items; this router accepts at most {max} per batch (split it)")]
    BatchTooLarge {
        /// Items sent.
        items: usize,
        /// `limits.max_batch_items`.
        max: usize,
    },
}

fn role_names() -> String {
    Role::ALL
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
