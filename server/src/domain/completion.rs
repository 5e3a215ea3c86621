//! What a finished generation hands back to the doors.

use super::generation::{TokenLogprob, ToolCall};
use super::timing::RequestTiming;

/// Which kind of backend answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// A local llama-server child.
    Local,
    /// A plain OpenAI-compatible endpoint.
    OpenAi,
    /// OpenRouter.
    OpenRouter,
}

/// A finished generation.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Text (empty when it was streamed).
    pub text: String,
    /// Model id that answered (with OpenRouter's own fallbacks, the one it chose).
    pub model: String,
    /// Backend kind.
    pub backend: BackendKind,
    /// The upstream's finish reason.
    pub finish_reason: Option<String>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// Cost in USD, when reported.
    pub cost_usd: Option<f64>,
    /// Upstream's generation id.
    pub upstream_id: Option<String>,
    /// Where the time went.
    pub timing: RequestTiming,
    /// Tool calls the model made, assembled whole (also when streamed).
    pub tool_calls: Vec<ToolCall>,
    /// Reasoning kept apart from the answer (empty when it was streamed).
    pub reasoning: String,
    /// Per-token log-probabilities, when asked for (empty when streamed).
    pub logprobs: Vec<TokenLogprob>,
}
