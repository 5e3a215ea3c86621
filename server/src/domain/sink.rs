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
}
