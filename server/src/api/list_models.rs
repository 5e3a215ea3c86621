//! `ListModels`: every servable id the caller's key may use, with its
//! backend and state (a model outside the key's globs is not shown).

use ai_router_proto::v1 as pb;

use super::convert::{backend, duration};
use crate::access::Principal;
use crate::backend::Listing;
use crate::engine::Engine;
use crate::pool::ModelStateKind;

pub fn build(engine: &Engine, principal: &Principal) -> pb::ListModelsResponse {
    let models = engine
        .routes()
        .listings()
        .into_iter()
        .filter(|l| principal.may_use(&l.status.id))
        .map(|Listing { kind, status: m }| pb::ModelInfo {
            id: m.id,
            backend: backend(kind) as i32,
            state: state(m.state) as i32,
            slots: m.slots,
            in_flight: m.in_flight,
            idle: m.idle.map(duration),
            rss_bytes: m.rss_bytes,
            last_error: m.last_error.unwrap_or_default(),
        })
        .collect();
    pb::ListModelsResponse { models }
}

fn state(s: ModelStateKind) -> pb::ModelState {
    match s {
        ModelStateKind::Cold => pb::ModelState::Cold,
        ModelStateKind::Loading => pb::ModelState::Loading,
        ModelStateKind::Warm => pb::ModelState::Warm,
        ModelStateKind::Failed => pb::ModelState::Failed,
    }
}
