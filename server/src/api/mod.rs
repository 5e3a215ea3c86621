//! The gRPC surface: one file per RPC, `validate` for input rules, `status`
//! for the single error → status mapping, `convert` for results → messages.

mod accept;
mod admin;
pub(crate) mod auth;
mod batch;
mod convert;
mod deadline;
pub(crate) mod embed;
mod generate;
mod generate_stream;
mod list_models;
pub(crate) mod outcome;
mod stats;
pub mod status;
mod tonic_statuses;
pub(crate) mod trace;
mod usage;
mod validate;

use std::sync::Arc;

use ai_router_proto::v1 as pb;
use ai_router_proto::v1::router_server::Router as RouterRpc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::engine::Engine;

pub use admin::AdminService;
pub use tonic_statuses::remap_tonic_statuses;
pub use validate::{validate, validate_embed};

/// The `airouter.v1.Router` service.
#[derive(Clone)]
pub struct RouterService {
    engine: Arc<Engine>,
}

impl RouterService {
    /// A service over the engine.
    pub fn new(engine: Arc<Engine>) -> RouterService {
        RouterService { engine }
    }
}

#[tonic::async_trait]
impl RouterRpc for RouterService {
    type GenerateStreamStream = ReceiverStream<Result<pb::GenerateChunk, Status>>;
    type BatchGenerateStream = ReceiverStream<Result<pb::BatchItemResult, Status>>;

    async fn generate(
        &self,
        request: Request<pb::GenerateRequest>,
    ) -> Result<Response<pb::GenerateResponse>, Status> {
        generate::handle(&self.engine, request).await
    }

    async fn generate_stream(
        &self,
        request: Request<pb::GenerateRequest>,
    ) -> Result<Response<Self::GenerateStreamStream>, Status> {
        generate_stream::handle(self.engine.clone(), request)
    }

    async fn batch_generate(
        &self,
        request: Request<pb::BatchGenerateRequest>,
    ) -> Result<Response<Self::BatchGenerateStream>, Status> {
        batch::handle(self.engine.clone(), request)
    }

    async fn stats(
        &self,
        request: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsResponse>, Status> {
        let principal = auth::principal(&self.engine, request.metadata())?;
        usage::require_admin(&self.engine, &principal, "Stats")?;
        Ok(Response::new(stats::build(&self.engine)))
    }

    async fn list_models(
        &self,
        request: Request<pb::ListModelsRequest>,
    ) -> Result<Response<pb::ListModelsResponse>, Status> {
        let principal = auth::principal(&self.engine, request.metadata())?;
        Ok(Response::new(list_models::build(&self.engine, &principal)))
    }

    async fn usage(
        &self,
        request: Request<pb::UsageRequest>,
    ) -> Result<Response<pb::UsageResponse>, Status> {
        let principal = auth::principal(&self.engine, request.metadata())?;
        usage::require_admin(&self.engine, &principal, "Usage")?;
        let report = usage::report(&self.engine, request.into_inner()).await?;
        Ok(Response::new(report))
    }

    async fn embed(
        &self,
        request: Request<pb::EmbedRequest>,
    ) -> Result<Response<pb::EmbedResponse>, Status> {
        embed::handle(&self.engine, request).await
    }
}
