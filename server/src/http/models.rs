//! `GET /v1/models` (every servable id, as `ListModels` lists them) and
//! `GET /health`.

use axum::Json;
use axum::extract::{Path, State};

use super::AppState;
use super::caller::Caller;
use super::status::HttpError;
use super::wire::{Health, Model, ModelList};
use crate::backend::Listing;
use crate::domain::BackendKind;

/// Only the models the caller's key may use, as `ListModels` shows them.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Json<ModelList> {
    let data = state
        .engine
        .routes()
        .listings()
        .into_iter()
        .filter(|l| caller.principal.may_use(&l.status.id))
        .map(model)
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
}

/// `GET /v1/models/{id}` (ids may hold '/': `openrouter/openai/gpt-4o`).
pub async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Model>, HttpError> {
    state
        .engine
        .routes()
        .listings()
        .into_iter()
        .find(|l| l.status.id == id && caller.principal.may_use(&l.status.id))
        .map(|l| Json(model(l)))
        .ok_or_else(|| HttpError::not_found(format!("no model '{id}'; GET /v1/models lists them")))
}

fn model(listing: Listing) -> Model {
    let owned_by = match listing.kind {
        BackendKind::Local => "local".to_string(),
        BackendKind::OpenRouter => "openrouter".to_string(),
        BackendKind::OpenAi => listing
            .status
            .id
            .split_once('/')
            .map_or("remote", |(endpoint, _)| endpoint)
            .to_string(),
    };
    Model {
        id: listing.status.id,
        object: "model",
        created: 0,
        owned_by,
    }
}

pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}
