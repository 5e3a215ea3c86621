//! The upstream side of the gRPC floor (`grpc_floor`): one streamed chat
//! completion per call through reqwest or hyper's pooled client, its SSE
//! content pieces read as they arrive (events split across body chunks are
//! joined).

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A pooled client for the upstream's chat completions URL.
#[derive(Clone)]
pub enum Upstream {
    /// reqwest, as ai-router calls upstreams.
    Reqwest(reqwest::Client, reqwest::Url),
    /// hyper's legacy pooled client, no layers above it.
    Hyper(Box<Client<HttpConnector, Full<Bytes>>>, hyper::Uri),
}

/// One answer being read.
pub enum Answer {
    /// reqwest's body.
    Reqwest(reqwest::Response, BytesMut),
    /// hyper's body.
    Hyper(Incoming, BytesMut),
}

impl Upstream {
    /// `base` is `http://127.0.0.1:P`; `client` is `reqwest` or `hyper`.
    pub fn new(base: &str, client: &str) -> anyhow::Result<Upstream> {
        let url = format!("{base}/v1/chat/completions");
        match client {
            "reqwest" => Ok(Upstream::Reqwest(
                reqwest::Client::builder()
                    .no_proxy()
                    .tcp_nodelay(true)
                    .pool_max_idle_per_host(1024)
                    .build()?,
                url.parse()?,
            )),
            "hyper" => {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                Ok(Upstream::Hyper(
                    Box::new(
                        Client::builder(TokioExecutor::new())
                            .pool_max_idle_per_host(1024)
                            .build(connector),
                    ),
                    url.parse()?,
                ))
            }
            other => bail!("--client is reqwest or hyper, not {other}"),
        }
    }

    /// Posts `body` and returns the answer once its headers are in.
    pub async fn post(&self, body: Bytes) -> anyhow::Result<Answer> {
        match self {
            Upstream::Reqwest(client, url) => {
                let response = client
                    .post(url.clone())
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?
                    .error_for_status()?;
                Ok(Answer::Reqwest(response, BytesMut::new()))
            }
            Upstream::Hyper(client, uri) => {
                let request = hyper::Request::post(uri.clone())
                    .header("content-type", "application/json")
                    .body(Full::new(body))?;
                let response = client.request(request).await?;
                if !response.status().is_success() {
                    bail!("upstream answered {}", response.status());
                }
                Ok(Answer::Hyper(response.into_body(), BytesMut::new()))
            }
        }
    }
}

impl Answer {
    /// The complete SSE lines that arrived with the next body chunk (empty
    /// when a chunk ended mid-line); None at the end.
    pub async fn next_chunk(&mut self) -> anyhow::Result<Option<Bytes>> {
        loop {
            let (chunk, buffer) = match self {
                Answer::Reqwest(response, buffer) => (response.chunk().await?, buffer),
                Answer::Hyper(body, buffer) => {
                    let frame = body.frame().await.transpose().context("upstream body")?;
                    match frame {
                        Some(frame) => match frame.into_data() {
                            Ok(data) => (Some(data), buffer),
                            Err(_) => continue,
                        },
                        None => (None, buffer),
                    }
                }
            };
            let Some(chunk) = chunk else {
                return Ok(None);
            };
            buffer.extend_from_slice(&chunk);
            let Some(end) = buffer.iter().rposition(|b| *b == b'\n') else {
                continue;
            };
            return Ok(Some(buffer.split_to(end + 1).freeze()));
        }
    }
}

/// The non-empty `choices[0].delta.content` of each `data:` line.
pub fn content_pieces(lines: &[u8]) -> Vec<String> {
    lines
        .split(|b| *b == b'\n')
        .filter_map(|line| line.strip_prefix(b"data: "))
        .filter(|data| *data != b"[DONE]")
        .filter_map(|data| serde_json::from_slice::<serde_json::Value>(data).ok())
        .filter_map(|event| {
            event["choices"][0]["delta"]["content"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
        .collect()
}
