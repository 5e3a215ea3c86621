//! Where generated output goes while it arrives: kept for a unary answer, or
//! forwarded piece by piece to a streaming caller.

use tokio::sync::mpsc;

use super::generation::{TokenLogprob, ToolCallDelta};

/// Where generated output goes while it arrives.
pub enum DeltaSink {
    /// Keep it; the caller gets it whole in the completion.
    Collect,
    /// Forward each piece at once; a closed channel means the caller left.
    Forward(mpsc::Sender<Delta>),
}

/// One streamed piece of output.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    /// Answer text.
    Text(String),
    /// Reasoning text, kept apart from the answer.
    Reasoning(String),
    /// A piece of a tool call.
    ToolCall(ToolCallDelta),
    /// Log-probabilities of the tokens just sent.
    Logprobs(Vec<TokenLogprob>),
    /// Not output: sent before any, when the call waits for its local model
    /// to start (streams only).
    Loading(LoadProgress),
}

impl Delta {
    /// Whether it carries generated output (what usage estimates count).
    pub fn is_output(&self) -> bool {
        !matches!(self, Delta::Loading(_))
    }
}

/// Why a stream waits before its first output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadProgress {
    /// The local model being started.
    pub model: String,
    /// Loads queued for room in the pool (0: this one is starting or next).
    pub loads_queued: u32,
}
