//! `GET /v1/models` and `GET /health`.

use serde::Serialize;

/// `GET /v1/models`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelList {
    /// Always `"list"`.
    pub object: &'static str,
    /// The models.
    pub data: Vec<Model>,
}

/// One model.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// The id to send as `model`.
    pub id: String,
    /// Always `"model"`.
    pub object: &'static str,
    /// Unix seconds; the router does not know when a model was made: 0.
    pub created: u64,
    /// `local`, `openrouter` or the endpoint's name.
    pub owned_by: String,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `"ok"`.
    pub status: &'static str,
}
