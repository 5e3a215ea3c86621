//! One call to one system, as the thin client makes it: a gRPC `Generate`
//! or `GenerateStream` to ai-router over one HTTP/2 channel, or an HTTP
//! chat completion (body serialised once) to the upstream or a peer. Every
//! HTTP call streams SSE, as ai-router itself asks the upstream to, so
//! every path makes the upstream do the same work.

use std::time::Instant;

use ai_router_benches::req::Ask;
use ai_router_benches::thin_http::{Reply, ThinHttp};
use ai_router_proto::v1::GenerateRequest;
use ai_router_proto::v1::router_client::RouterClient;
use anyhow::{Context, bail};
use bytes::Bytes;
use tonic::transport::Channel;

/// A prepared call, cheap to clone.
#[derive(Clone)]
pub enum Caller {
    /// Unary `Generate`.
    Unary(RouterClient<Channel>, GenerateRequest),
    /// `GenerateStream`, each non-empty delta a token.
    Stream(RouterClient<Channel>, GenerateRequest),
    /// HTTP POST of a chat-completions body.
    Http(ThinHttp, Bytes),
    /// `Generate` for a model the router does not know, which must be
    /// answered `NOT_FOUND` with no upstream I/O: the floor of a gRPC call.
    NotFound(RouterClient<Channel>, GenerateRequest),
}

impl Caller {
    /// A gRPC call for `ask` (`emu/<model>`).
    pub fn grpc(client: &RouterClient<Channel>, ask: &Ask, stream: bool) -> Caller {
        let request = ask.grpc();
        if stream {
            Caller::Stream(client.clone(), request)
        } else {
            Caller::Unary(client.clone(), request)
        }
    }

    /// An HTTP call for `ask`, streamed (SSE) or not.
    pub fn http(http: &ThinHttp, ask: &Ask, stream: bool) -> anyhow::Result<Caller> {
        let mut body = ask.openai_body();
        if !stream {
            body["stream"] = serde_json::Value::Bool(false);
            if let Some(o) = body.as_object_mut() {
                o.remove("stream_options");
            }
        }
        Ok(Caller::Http(
            http.clone(),
            Bytes::from(serde_json::to_vec(&body)?),
        ))
    }

    /// Makes the call once.
    pub async fn call(&self) -> anyhow::Result<Reply> {
        match self {
            Caller::Http(http, body) => http.post(body).await,
            Caller::NotFound(client, request) => {
                let started = Instant::now();
                match client.clone().generate(request.clone()).await {
                    Err(status) if status.code() == tonic::Code::NotFound => Ok(Reply {
                        tokens: 0,
                        token_times: vec![started.elapsed()],
                    }),
                    Err(status) => bail!("expected NOT_FOUND, got {status}"),
                    Ok(_) => bail!("expected NOT_FOUND, got an answer"),
                }
            }
            Caller::Unary(client, request) => {
                let started = Instant::now();
                let response = client
                    .clone()
                    .generate(request.clone())
                    .await
                    .context("Generate")?
                    .into_inner();
                if response.text.is_empty() {
                    bail!("Generate answered no text");
                }
                Ok(Reply {
                    tokens: response.usage.map_or(1, |u| u.completion_tokens),
                    token_times: vec![started.elapsed()],
                })
            }
            Caller::Stream(client, request) => {
                let started = Instant::now();
                let mut stream = client
                    .clone()
                    .generate_stream(request.clone())
                    .await
                    .context("GenerateStream")?
                    .into_inner();
                let mut reply = Reply::default();
                let mut done = false;
                while let Some(chunk) = stream.message().await.context("GenerateStream chunk")? {
                    if !chunk.delta.is_empty() {
                        reply.tokens += 1;
                        reply.token_times.push(started.elapsed());
                    }
                    done |= chunk.done.is_some();
                }
                if !done {
                    bail!("GenerateStream ended without its summary chunk");
                }
                Ok(reply)
            }
        }
    }
}
