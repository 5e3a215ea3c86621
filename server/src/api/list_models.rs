//! `ListModels`: every servable id with its backend and state.

use ai_router_proto::v1 as pb;

use super::convert::{backend, duration};
use crate::domain::BackendKind;
use crate::engine::Engine;
use crate::pool::ModelStateKind;

pub fn build(engine: &Engine) -> pb::ListModelsResponse {
    let mut models: Vec<pb::ModelInfo> = engine
        .pool
        .statuses()
        .into_iter()
        .map(|m| pb::ModelInfo {
            id: m.id,
            backend: backend(BackendKind::Local) as i32,
            state: state(m.state) as i32,
            slots: m.slots,
            in_flight: m.in_flight,
            idle: m.idle.map(duration),
            rss_bytes: m.rss_bytes,
            last_error: m.last_error.unwrap_or_default(),
        })
        .collect();
    for (id, endpoint) in engine.routes.known_ids() {
        let Some(endpoint) = endpoint else { continue };
        models.push(pb::ModelInfo {
            id,
            backend: backend(endpoint.backend_kind()) as i32,
            state: pb::ModelState::Warm as i32,
            slots: endpoint.config.max_concurrency,
            in_flight: endpoint.limiter.in_flight() as u32,
            ..Default::default()
        });
    }
    models.sort_by(|a, b| a.id.cmp(&b.id));
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
