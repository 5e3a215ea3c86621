//! A validated request, ready for the engine: every field checked, the
//! prompt turned into chat messages. Nothing downstream re-validates.

use crate::upstream::types::WireMessage;

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
    /// Seed.
    pub seed: Option<i64>,
}

/// One unit of work for the engine.
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// Primary model id (syntactically valid; may still be unknown).
    pub model: String,
    /// Fallback model ids, in order.
    pub fallbacks: Vec<String>,
    /// The conversation.
    pub messages: Vec<WireMessage>,
    /// Sampling and length.
    pub params: Params,
    /// The caller's id, echoed back.
    pub client_request_id: String,
}
