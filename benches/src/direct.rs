//! The baseline: calling an OpenAI-compatible upstream directly with one
//! pooled keep-alive reqwest client, streaming SSE and reading to `[DONE]`
//! (and on to the end of the body, so the connection is reused), so "router − direct" is what the router adds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use futures::StreamExt;

/// A direct client for one upstream base URL.
#[derive(Clone, Debug)]
pub struct Direct {
    http: reqwest::Client,
    url: String,
    resends: Arc<AtomicU64>,
}

/// What a direct call produced.
#[derive(Debug, Clone, Default)]
pub struct DirectReply {
    /// Generated text.
    pub text: String,
    /// Completion tokens from the usage chunk.
    pub completion_tokens: u32,
}

impl Direct {
    /// A client for `openai_base` (`http://host:port/v1`).
    pub fn new(openai_base: &str) -> anyhow::Result<Direct> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .build()?;
        Ok(Direct {
            http,
            url: format!("{}/chat/completions", openai_base.trim_end_matches('/')),
            resends: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A client that opens a fresh connection for every request. This is
    /// the best a client can do against llama-server, which closes the
    /// connection after every streamed response: a pooled connection is
    /// usually dead by the next request and would have to be re-sent.
    pub fn without_pool(openai_base: &str) -> anyhow::Result<Direct> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(0)
            .build()?;
        Ok(Direct {
            http,
            url: format!("{}/chat/completions", openai_base.trim_end_matches('/')),
            resends: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Requests sent a second time because the server closed a pooled
    /// keep-alive connection as the request went out (no response was
    /// received, so nothing was generated; the router does the same for
    /// local children). Shared by clones.
    pub fn resends(&self) -> u64 {
        self.resends.load(Ordering::Relaxed)
    }

    /// One streamed chat completion, read to `data: [DONE]`.
    pub async fn chat(&self, body: &serde_json::Value) -> anyhow::Result<DirectReply> {
        let response = match self.http.post(&self.url).json(body).send().await {
            Ok(r) => r,
            Err(e) if e.is_request() && !e.is_timeout() => {
                self.resends.fetch_add(1, Ordering::Relaxed);
                self.http
                    .post(&self.url)
                    .json(body)
                    .send()
                    .await
                    .context("sending the direct request (second try)")?
            }
            Err(e) => return Err(e).context("sending the direct request"),
        };
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            bail!("direct request failed: HTTP {status}: {text}");
        }
        let mut stream = response.bytes_stream();
        let mut buffer: Vec<u8> = Vec::new();
        let mut reply = DirectReply::default();
        let mut done = false;
        // Read to the end of the body, past [DONE], so the connection goes
        // back to the pool (hyper drops a connection whose body was left
        // unread).
        while let Some(chunk) = stream.next().await {
            buffer.extend_from_slice(&chunk.context("reading the SSE body")?);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let line = std::str::from_utf8(&line)?.trim_end();
                let Some(data) = line.strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim_start();
                if data == "[DONE]" {
                    done = true;
                    continue;
                }
                let event: serde_json::Value = serde_json::from_str(data)?;
                if let Some(error) = event.get("error") {
                    bail!("upstream error event: {error}");
                }
                if let Some(delta) = event
                    .pointer("/choices/0/delta/content")
                    .and_then(|c| c.as_str())
                {
                    reply.text.push_str(delta);
                }
                if let Some(n) = event
                    .pointer("/usage/completion_tokens")
                    .and_then(|c| c.as_u64())
                {
                    reply.completion_tokens = n as u32;
                }
            }
        }
        if !done {
            bail!("the stream ended without [DONE]");
        }
        Ok(reply)
    }
}
