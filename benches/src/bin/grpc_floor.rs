//! The floor of a Rust gRPC → OpenAI-compatible HTTP gateway on this
//! machine, for the overhead bench: tonic serving `Generate` and
//! `GenerateStream`, each call forwarded to the upstream as one streamed
//! chat completion and its SSE content relayed, with nothing else (no
//! validation, admission, routing, retries, deadlines, metrics, tracing or
//! usage). Two HTTP clients: reqwest (what ai-router uses) and hyper's
//! pooled client directly, so one run shows what the client costs.
//!
//! `grpc_floor --upstream http://127.0.0.1:P --listen 127.0.0.1:Q --client reqwest|hyper`
//! (prints `listening on …` when ready). Model ids `emu/<name>` lose their
//! prefix, as through ai-router.

use std::pin::Pin;

use ai_router_benches::floor_upstream::{Upstream, content_pieces};
use ai_router_proto::v1 as pb;
use ai_router_proto::v1::router_server::{Router, RouterServer};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

struct Floor {
    upstream: Upstream,
}

type Chunks = Pin<Box<dyn Stream<Item = Result<pb::GenerateChunk, Status>> + Send>>;
type Items = Pin<Box<dyn Stream<Item = Result<pb::BatchItemResult, Status>> + Send>>;

fn body(req: &pb::GenerateRequest) -> Result<bytes::Bytes, Status> {
    let prompt = match &req.input {
        Some(pb::generate_request::Input::Prompt(p)) => p.as_str(),
        _ => return Err(Status::invalid_argument("the floor takes a prompt")),
    };
    let model = req.model.strip_prefix("emu/").unwrap_or(&req.model);
    let params = req.params.clone().unwrap_or_default();
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": params.max_tokens.unwrap_or(16),
        "temperature": params.temperature,
        "seed": params.seed,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    serde_json::to_vec(&body)
        .map(bytes::Bytes::from)
        .map_err(|e| Status::internal(e.to_string()))
}

#[tonic::async_trait]
impl Router for Floor {
    type GenerateStreamStream = Chunks;
    type BatchGenerateStream = Items;

    async fn generate(
        &self,
        request: Request<pb::GenerateRequest>,
    ) -> Result<Response<pb::GenerateResponse>, Status> {
        let body = body(request.get_ref())?;
        let mut text = String::new();
        let mut tokens = 0;
        let mut answer = self
            .upstream
            .post(body)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        while let Some(chunk) = answer
            .next_chunk()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?
        {
            for piece in content_pieces(&chunk) {
                text.push_str(&piece);
                tokens += 1;
            }
        }
        Ok(Response::new(pb::GenerateResponse {
            text,
            usage: Some(pb::Usage {
                completion_tokens: tokens,
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn generate_stream(
        &self,
        request: Request<pb::GenerateRequest>,
    ) -> Result<Response<Self::GenerateStreamStream>, Status> {
        let body = body(request.get_ref())?;
        let upstream = self.upstream.clone();
        let (tx, rx) = mpsc::channel(32);
        // The floor has no shutdown to order: it runs until the bench
        // kills it, so a bare spawn is what a minimal gateway does.
        #[expect(clippy::disallowed_methods, reason = "no shutdown to wait for")]
        tokio::spawn(async move {
            let mut answer = match upstream.post(body).await {
                Ok(a) => a,
                Err(e) => {
                    let _ = tx.send(Err(Status::unavailable(e.to_string()))).await;
                    return;
                }
            };
            loop {
                match answer.next_chunk().await {
                    Ok(Some(chunk)) => {
                        for delta in content_pieces(&chunk) {
                            let piece = pb::GenerateChunk {
                                delta,
                                ..Default::default()
                            };
                            if tx.send(Ok(piece)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(Status::unavailable(e.to_string()))).await;
                        return;
                    }
                }
            }
            let done = pb::GenerateChunk {
                done: Some(pb::GenerateResponse::default()),
                ..Default::default()
            };
            let _ = tx.send(Ok(done)).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn list_models(
        &self,
        _request: Request<pb::ListModelsRequest>,
    ) -> Result<Response<pb::ListModelsResponse>, Status> {
        Ok(Response::new(pb::ListModelsResponse::default()))
    }

    async fn batch_generate(
        &self,
        _request: Request<pb::BatchGenerateRequest>,
    ) -> Result<Response<Self::BatchGenerateStream>, Status> {
        Err(Status::unimplemented("not in the floor"))
    }

    async fn stats(
        &self,
        _request: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsResponse>, Status> {
        Err(Status::unimplemented("not in the floor"))
    }

    async fn embed(
        &self,
        _request: Request<pb::EmbedRequest>,
    ) -> Result<Response<pb::EmbedResponse>, Status> {
        Err(Status::unimplemented("not in the floor"))
    }

    async fn usage(
        &self,
        _request: Request<pb::UsageRequest>,
    ) -> Result<Response<pb::UsageResponse>, Status> {
        Err(Status::unimplemented("not in the floor"))
    }
}

fn arg(name: &str) -> anyhow::Result<String> {
    let mut args = std::env::args();
    while let Some(a) = args.next() {
        if a == name {
            return args
                .next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"));
        }
    }
    anyhow::bail!("missing {name}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let upstream = Upstream::new(&arg("--upstream")?, &arg("--client")?)?;
    let listener = tokio::net::TcpListener::bind(arg("--listen")?).await?;
    println!("listening on {}", listener.local_addr()?);
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(RouterServer::new(Floor { upstream }))
        .serve_with_incoming(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        )
        .await?;
    Ok(())
}
