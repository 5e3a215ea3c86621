//! Embeddings: a validated batch of texts for one model, and the vectors
//! that came back.

use super::completion::BackendKind;
use super::model_id::ModelId;
use super::timing::RequestTiming;

/// A validated embedding request.
#[derive(Debug, Clone)]
pub struct EmbedJob {
    /// The embedding model.
    pub model: ModelId,
    /// Texts, each non-empty; never empty.
    pub inputs: Vec<String>,
    /// The caller's id, echoed back.
    pub client_request_id: String,
    /// The caller's priority class (from its key).
    pub priority: super::priority::Priority,
}

/// The vectors, in input order.
#[derive(Debug, Clone)]
pub struct Embeddings {
    /// One per input.
    pub vectors: Vec<Vec<f32>>,
    /// Model id that answered.
    pub model: String,
    /// Who answered.
    pub backend: BackendKind,
    /// Tokens in the inputs, as the upstream counted them.
    pub prompt_tokens: u32,
    /// Where the time went.
    pub timing: RequestTiming,
}
