//! `POST /v1/embeddings`.

use serde::{Deserialize, Serialize};

use super::OtherFields;

/// The request body.
#[derive(Debug, Clone, Deserialize)]
pub struct EmbeddingsRequest {
    /// Model id.
    pub model: String,
    /// A string or a list of strings (token-id lists are refused).
    pub input: serde_json::Value,
    /// `float` (default) or `base64` (little-endian f32s; what the OpenAI
    /// Python SDK asks for unless told otherwise).
    #[serde(default)]
    pub encoding_format: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: OtherFields,
}

/// The answer.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddingList {
    /// `"list"`.
    pub object: &'static str,
    /// One per input, in order.
    pub data: Vec<EmbeddingItem>,
    /// Model id that answered.
    pub model: String,
    /// Token counts.
    pub usage: EmbeddingUsage,
}

/// One vector.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddingItem {
    /// `"embedding"`.
    pub object: &'static str,
    /// Position of its input.
    pub index: u32,
    /// The vector.
    pub embedding: Vector,
}

/// A vector, as floats or base64.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Vector {
    /// Floats.
    Float(Vec<f32>),
    /// Base64 of the little-endian f32 bytes.
    Base64(String),
}

/// `usage` of an embedding answer.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EmbeddingUsage {
    /// Tokens in the inputs.
    pub prompt_tokens: u32,
    /// The same.
    pub total_tokens: u32,
}
