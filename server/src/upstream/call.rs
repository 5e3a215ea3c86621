//! What one chat call needs besides the HTTP client: where to send it, how
//! long each phase may take, and where the streamed text goes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, Uri};

use super::hosts::HostSource;
use super::secret::ApiKey;
use super::types::{WireTimings, WireUsage};
use crate::config::EndpointKind;
use crate::domain::{ChatMessage, Params, TokenLogprob, ToolCall};

/// Where and how to send a request.
#[derive(Debug, Clone)]
pub struct Target {
    /// Display name for messages and metrics ("openrouter", "local:tiny").
    pub endpoint: String,
    /// The chat completions URL, parsed once where the target's endpoint
    /// or child is created (parsing it per request showed in profiles).
    pub chat_url: Uri,
    /// Bearer key, if the endpoint needs one.
    pub api_key: Option<ApiKey>,
    /// Provider dialect.
    pub kind: EndpointKind,
    /// Ask for SSE when the caller streams (gives time-to-first-token and
    /// gap detection).
    pub stream: bool,
    /// Ask for SSE when the caller wants the whole answer. Off for local
    /// children: llama-server closes the connection after every streamed
    /// response but keeps it alive after a plain JSON one, and formats no
    /// per-token events.
    pub stream_unary: bool,
    /// With `stream_unary` off, a unary call is streamed all the same when
    /// its `max_tokens` is above this.
    /// llama-server does not notice that a caller gave up on a whole answer
    /// and generates it to the end, holding a slot; a streamed one stops at
    /// its next token. So only short answers, whose waste is bounded, are
    /// asked for whole. None: no bound.
    pub whole_max_tokens: Option<u32>,
    /// Per-attempt timeouts.
    pub timeouts: AttemptTimeouts,
    /// Headers added to every request (attribution, trace context).
    pub headers: HeaderMap,
    /// A remote endpoint's hosts: each attempt goes to the host they pick
    /// (`chat_url` is then unused). None for a local child.
    pub hosts: Option<Arc<dyn HostSource>>,
}

/// Timeouts measured per attempt.
#[derive(Debug, Clone, Copy)]
pub struct AttemptTimeouts {
    /// From sending the request to the first generated text.
    pub first_token: Duration,
    /// Longest silence between two pieces of text.
    pub token_gap: Duration,
}

impl AttemptTimeouts {
    /// How much longer than `first_token` a whole (non-streamed) answer of
    /// up to `max_tokens` may take: each token after the first may take the
    /// longest allowed gap.
    pub fn whole_answer(&self, max_tokens: u32) -> Duration {
        self.token_gap.saturating_mul(max_tokens.saturating_sub(1))
    }
}

/// The request content, independent of the endpoint: the job's validated
/// parameters as they are, with the upstream's name for the model.
#[derive(Debug, Clone, Default)]
pub struct ChatCall {
    /// Upstream model name.
    pub model: String,
    /// OpenRouter `models` fallback array (OpenRouter only).
    pub provider_fallbacks: Vec<String>,
    /// Conversation.
    pub messages: Vec<ChatMessage>,
    /// Length cap, sampling, output format, tools, log-probabilities.
    pub params: Params,
}

/// A finished completion.
#[derive(Debug, Clone, Default)]
pub struct ChatOutcome {
    /// The text (empty when it was forwarded).
    pub text: String,
    /// Upstream's finish reason.
    pub finish_reason: Option<String>,
    /// Token counts and cost.
    pub usage: WireUsage,
    /// Upstream's generation id: OpenRouter's `X-Generation-Id` header,
    /// else the body's `id`.
    pub upstream_id: Option<String>,
    /// The model the upstream says answered.
    pub upstream_model: Option<String>,
    /// When the first text arrived.
    pub first_token_at: Option<Instant>,
    /// Prompt tokens the upstream served from its cache, when it said
    /// (`usage.prompt_tokens_details.cached_tokens`, llama-server's
    /// `timings.cache_n`).
    pub cached_tokens: Option<u32>,
    /// Attempts made.
    pub attempts: u32,
    /// Tool calls, assembled from their pieces when streamed.
    pub tool_calls: Vec<ToolCall>,
    /// Reasoning text (empty when it was forwarded).
    pub reasoning: String,
    /// Per-token log-probabilities (empty when they were forwarded).
    pub logprobs: Vec<TokenLogprob>,
    /// llama-server's own timings of the attempt that answered (the last
    /// SSE chunk or the whole body carries them; other upstreams send none).
    pub timings: Option<WireTimings>,
}
