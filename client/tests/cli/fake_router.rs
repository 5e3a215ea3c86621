//! An in-process `Router` with canned answers, so the CLI can be run against
//! a real gRPC server without models or upstreams: every completion echoes
//! its prompt, and the model id `missing` is refused with `NOT_FOUND`.

use std::net::SocketAddr;
use std::pin::Pin;

use ai_router_client::proto::router_server::{Router, RouterServer};
use ai_router_client::proto::{
    BackendKind, BatchGenerateRequest, BatchItemResult, Duration, FinishReason, GenerateChunk,
    GenerateRequest, GenerateResponse, ItemError, ListModelsRequest, ListModelsResponse, ModelInfo,
    ModelState, StatsRequest, StatsResponse, Timing, Usage, UsageLine, UsageRequest, UsageResponse,
    batch_item_result, generate_request,
};
use futures::Stream;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

type Replies<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// A running fake; the server stops when this is dropped.
pub struct Running {
    pub addr: SocketAddr,
    _server: JoinSet<Result<(), tonic::transport::Error>>,
}

/// Starts the fake on a free port.
pub async fn start() -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut server = JoinSet::new();
    server.spawn(
        tonic::transport::Server::builder()
            .add_service(RouterServer::new(FakeRouter))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    Running {
        addr,
        _server: server,
    }
}

struct FakeRouter;

/// The completion the fake gives for `req`, text included.
pub fn answer(req: &GenerateRequest) -> Result<GenerateResponse, Status> {
    if req.model == "missing" {
        return Err(Status::not_found("no model \"missing\"; known: tiny"));
    }
    let prompt = match &req.input {
        Some(generate_request::Input::Prompt(p)) => p.clone(),
        _ => String::new(),
    };
    Ok(GenerateResponse {
        text: format!("echo: {prompt}"),
        model: req.model.clone(),
        backend: BackendKind::Local as i32,
        finish_reason: FinishReason::Stop as i32,
        usage: Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            cost_usd: None,
        }),
        timing: Some(Timing {
            queue_wait: Some(Duration {
                seconds: 0,
                nanos: 1_000_000,
            }),
            model_acquire: Some(Duration::default()),
            cold_start: false,
            time_to_first_token: Some(Duration {
                seconds: 0,
                nanos: 250_000_000,
            }),
            total: Some(Duration {
                seconds: 1,
                nanos: 500_000_000,
            }),
            attempts: 1,
        }),
        client_request_id: req.client_request_id.clone(),
        ..GenerateResponse::default()
    })
}

#[tonic::async_trait]
impl Router for FakeRouter {
    async fn generate(
        &self,
        request: Request<GenerateRequest>,
    ) -> Result<Response<GenerateResponse>, Status> {
        answer(request.get_ref()).map(Response::new)
    }

    type GenerateStreamStream = Replies<GenerateChunk>;

    /// The text in two deltas, then the summary with empty text.
    async fn generate_stream(
        &self,
        request: Request<GenerateRequest>,
    ) -> Result<Response<Self::GenerateStreamStream>, Status> {
        let mut done = answer(request.get_ref())?;
        let text = std::mem::take(&mut done.text);
        let (head, tail) = text.split_at(text.len() / 2);
        let chunks = [
            GenerateChunk {
                delta: head.to_owned(),
                done: None,
                ..Default::default()
            },
            GenerateChunk {
                delta: tail.to_owned(),
                done: None,
                ..Default::default()
            },
            GenerateChunk {
                delta: String::new(),
                done: Some(done),
                ..Default::default()
            },
        ];
        Ok(Response::new(Box::pin(futures::stream::iter(
            chunks.map(Ok),
        ))))
    }

    type BatchGenerateStream = Replies<BatchItemResult>;

    async fn batch_generate(
        &self,
        request: Request<BatchGenerateRequest>,
    ) -> Result<Response<Self::BatchGenerateStream>, Status> {
        let results: Vec<_> = (0..)
            .zip(&request.get_ref().items)
            .map(|(index, item)| {
                let outcome = match answer(item) {
                    Ok(resp) => batch_item_result::Outcome::Response(resp),
                    Err(status) => batch_item_result::Outcome::Error(ItemError {
                        code: status.code() as i32,
                        message: status.message().to_owned(),
                    }),
                };
                Ok(BatchItemResult {
                    index,
                    outcome: Some(outcome),
                })
            })
            .collect();
        Ok(Response::new(Box::pin(futures::stream::iter(results))))
    }

    async fn stats(&self, _: Request<StatsRequest>) -> Result<Response<StatsResponse>, Status> {
        Ok(Response::new(StatsResponse {
            uptime: Some(Duration {
                seconds: 90,
                nanos: 0,
            }),
            total_requests: 3,
            ..StatsResponse::default()
        }))
    }

    /// The CLI has no embed command.
    async fn embed(
        &self,
        _: Request<ai_router_client::proto::EmbedRequest>,
    ) -> Result<Response<ai_router_client::proto::EmbedResponse>, Status> {
        Err(Status::unimplemented("the fake router does not embed"))
    }

    async fn list_models(
        &self,
        _: Request<ListModelsRequest>,
    ) -> Result<Response<ListModelsResponse>, Status> {
        Ok(Response::new(ListModelsResponse {
            models: vec![ModelInfo {
                id: "tiny".into(),
                backend: BackendKind::Local as i32,
                state: ModelState::Warm as i32,
                slots: 2,
                ..ModelInfo::default()
            }],
        }))
    }

    /// Answers only a caller presenting `Bearer admin-key`, with one line
    /// covering the requested window's seconds in `calls`.
    async fn usage(
        &self,
        request: Request<UsageRequest>,
    ) -> Result<Response<UsageResponse>, Status> {
        let auth = request.metadata().get("authorization");
        if auth.and_then(|v| v.to_str().ok()) != Some("Bearer admin-key") {
            return Err(Status::unauthenticated("unknown API key"));
        }
        let since = request.into_inner().since.unwrap_or_default();
        Ok(Response::new(UsageResponse {
            lines: vec![UsageLine {
                key: "team-a".into(),
                model: "tiny".into(),
                calls: since.seconds as u64,
                failed: 0,
                prompt_tokens: 10,
                completion_tokens: 20,
                cost_usd: 0.5,
            }],
        }))
    }
}
