//! `airouter.v1.Admin`: operating the warm pool at run time (load and pin,
//! unload with drain or force, watch state changes). A service of its own so
//! it can be secured and routed apart from `Router`. The pool does the work
//! (`pool/admin.rs`); this file converts messages and statuses.

use std::sync::Arc;
use std::time::Instant;

use ai_router_proto::v1 as pb;
use ai_router_proto::v1::admin_server::Admin as AdminRpc;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::convert::duration;
use super::deadline;
use super::list_models::{model_info, state};
use crate::domain::BackendKind;
use crate::engine::Engine;
use crate::error::RouterError;
use crate::pool::{ModelStateKind, PoolEvent};

/// Events buffered towards a slow watcher before it is told it lagged.
const WATCH_BUFFER: usize = 64;

/// The `airouter.v1.Admin` service.
#[derive(Clone)]
pub struct AdminService {
    engine: Arc<Engine>,
}

impl AdminService {
    /// A service over the engine's pool.
    pub fn new(engine: Arc<Engine>) -> AdminService {
        AdminService { engine }
    }

    fn info(&self, status: crate::pool::ModelStatus) -> pb::ModelInfo {
        model_info(BackendKind::Local, status)
    }

    /// Every Admin RPC needs an admin key when keys are configured (with
    /// none, the service is open and everyone is the admin `anonymous`).
    fn admin_only(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        rpc: &'static str,
    ) -> Result<(), Status> {
        let principal = super::auth::principal(&self.engine, metadata).map_err(Status::from)?;
        super::usage::require_admin(&self.engine, &principal, rpc)
    }
}

/// Runs `work` under the caller's gRPC deadline, if any.
async fn within_deadline<T>(
    metadata: &tonic::metadata::MetadataMap,
    waiting_for: &'static str,
    work: impl Future<Output = Result<T, RouterError>>,
) -> Result<T, Status> {
    let deadline = deadline::deadline(metadata, Instant::now());
    crate::engine::within_deadline(deadline, waiting_for, work)
        .await
        .map_err(Status::from)
}

#[tonic::async_trait]
impl AdminRpc for AdminService {
    type WatchModelsStream = ReceiverStream<Result<pb::ModelEvent, Status>>;

    async fn load_model(
        &self,
        request: Request<pb::LoadModelRequest>,
    ) -> Result<Response<pb::LoadModelResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        self.admin_only(&metadata, "LoadModel")?;
        let pool = self.engine.pool();
        let report = within_deadline(&metadata, "waiting for the model to load", async {
            Ok(pool.load(&req.model, req.pin).await?)
        })
        .await?;
        Ok(Response::new(pb::LoadModelResponse {
            model: Some(self.info(report.status)),
            started: report.started,
            waited: Some(duration(report.waited)),
        }))
    }

    async fn unload_model(
        &self,
        request: Request<pb::UnloadModelRequest>,
    ) -> Result<Response<pb::UnloadModelResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        self.admin_only(&metadata, "UnloadModel")?;
        let pool = self.engine.pool();
        let report = within_deadline(
            &metadata,
            "waiting for the model's calls to finish (UnloadModel with force stops them)",
            async { Ok(pool.unload_model(&req.model, req.force).await?) },
        )
        .await?;
        Ok(Response::new(pb::UnloadModelResponse {
            stopped: report.stopped,
            in_flight: report.in_flight,
        }))
    }

    async fn pin_model(
        &self,
        request: Request<pb::PinModelRequest>,
    ) -> Result<Response<pb::PinModelResponse>, Status> {
        self.admin_only(request.metadata(), "PinModel")?;
        let req = request.into_inner();
        let status = self
            .engine
            .pool()
            .set_pinned(&req.model, req.pinned)
            .map_err(|e| Status::from(RouterError::from(e)))?;
        Ok(Response::new(pb::PinModelResponse {
            model: Some(self.info(status)),
        }))
    }

    async fn reload_config(
        &self,
        request: Request<pb::ReloadConfigRequest>,
    ) -> Result<Response<pb::ReloadConfigResponse>, Status> {
        self.admin_only(request.metadata(), "ReloadConfig")?;
        let report = self.engine.reload().await?;
        Ok(Response::new(pb::ReloadConfigResponse {
            models_added: report.models.added,
            models_removed: report.models.removed,
            models_replaced: report.models.replaced,
            models_unchanged: report.models.unchanged.len() as u32,
            endpoints_added: report.endpoints.added,
            endpoints_removed: report.endpoints.removed,
            endpoints_replaced: report.endpoints.replaced,
            keys_changed: report.keys_changed,
            restart_required: report.restart_required,
        }))
    }

    async fn watch_models(
        &self,
        request: Request<pb::WatchModelsRequest>,
    ) -> Result<Response<Self::WatchModelsStream>, Status> {
        self.admin_only(request.metadata(), "WatchModels")?;
        let pool = self.engine.pool().clone();
        // Subscribed before the current states are read, so no change falls
        // between the snapshot and the stream.
        let mut events = pool.subscribe();
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let life = self.engine.lifecycle().clone();
        let stop = life.requests_stop().clone();
        life.spawn(async move {
            for status in pool.statuses() {
                let event = pb::ModelEvent {
                    kind: pb::ModelEventKind::Current as i32,
                    model: status.id.clone(),
                    state: state(status.state) as i32,
                    pid: 0,
                    reason: status.last_error.unwrap_or_default(),
                    pinned: status.pinned,
                };
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            loop {
                let received = tokio::select! {
                    received = events.recv() => received,
                    _ = tx.closed() => return,
                    _ = stop.cancelled() => return,
                };
                let event = match received {
                    Ok(event) => model_event(&pool, event),
                    Err(broadcast::error::RecvError::Lagged(missed)) => pb::ModelEvent {
                        kind: pb::ModelEventKind::Lagged as i32,
                        reason: format!("{missed} events missed; re-read ListModels"),
                        ..pb::ModelEvent::default()
                    },
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// The API's view of a pool event.
fn model_event(pool: &crate::pool::Pool, event: PoolEvent) -> pb::ModelEvent {
    let (kind, model, after, pid, reason) = match event {
        PoolEvent::Loading { model } => (
            pb::ModelEventKind::Loading,
            model,
            ModelStateKind::Loading,
            0,
            String::new(),
        ),
        PoolEvent::Ready { model, pid } => (
            pb::ModelEventKind::Ready,
            model,
            ModelStateKind::Warm,
            pid,
            String::new(),
        ),
        PoolEvent::Evicted { model, pid, reason } => (
            pb::ModelEventKind::Evicted,
            model,
            ModelStateKind::Cold,
            pid,
            reason.to_string(),
        ),
        PoolEvent::Died { model, pid } => (
            pb::ModelEventKind::Died,
            model,
            ModelStateKind::Cold,
            pid,
            String::new(),
        ),
        PoolEvent::StartFailed { model, error } => (
            pb::ModelEventKind::StartFailed,
            model,
            ModelStateKind::Failed,
            0,
            error,
        ),
        PoolEvent::Added { model } => (
            pb::ModelEventKind::Added,
            model,
            ModelStateKind::Cold,
            0,
            "config reload".into(),
        ),
        PoolEvent::Removed { model } => (
            pb::ModelEventKind::Removed,
            model,
            ModelStateKind::Cold,
            0,
            "config reload".into(),
        ),
        PoolEvent::Pinned { model, pinned } => {
            let now = pool
                .model(&model)
                .map_or(ModelStateKind::Cold, |e| pool.status(&e).state);
            let reason = if pinned { "pinned" } else { "unpinned" };
            (pb::ModelEventKind::Pinned, model, now, 0, reason.into())
        }
    };
    let pinned = pool.model(&model).is_some_and(|e| e.is_pinned());
    pb::ModelEvent {
        kind: kind as i32,
        model,
        state: state(after) as i32,
        pid,
        reason,
        pinned,
    }
}
