//! `ListModels`: every servable id the caller's key may use, with its
//! backend and state (a model outside the key's globs is not shown).

use ai_router_proto::v1 as pb;

use super::convert::{backend, duration};
use crate::access::Principal;
use crate::backend::Listing;
use crate::domain::BackendKind;
use crate::engine::Engine;
use crate::pool::{ModelStateKind, ModelStatus};

pub fn build(engine: &Engine, principal: &Principal) -> pb::ListModelsResponse {
    let models = engine
        .routes()
        .listings()
        .into_iter()
        .filter(|l| principal.may_use(&l.status.id))
        .map(|Listing { kind, status }| model_info(kind, status))
        .collect();
    pb::ListModelsResponse { models }
}

/// One model as the API shows it (ListModels, the Admin service).
pub fn model_info(kind: BackendKind, m: ModelStatus) -> pb::ModelInfo {
    pb::ModelInfo {
        id: m.id,
        backend: backend(kind) as i32,
        state: state(m.state) as i32,
        slots: m.slots,
        in_flight: m.in_flight,
        idle: m.idle.map(duration),
        rss_bytes: m.rss_bytes,
        last_error: m.last_error.unwrap_or_default(),
        pinned: m.pinned,
    }
}

/// The API's name for a pool state.
pub fn state(s: ModelStateKind) -> pb::ModelState {
    match s {
        ModelStateKind::Cold => pb::ModelState::Cold,
        ModelStateKind::Loading => pb::ModelState::Loading,
        ModelStateKind::Warm => pb::ModelState::Warm,
        ModelStateKind::Failed => pb::ModelState::Failed,
    }
}
