//! The thin HTTP client of the out-of-process harness: hyper's pooled
//! HTTP/1.1 client posting a body serialised once, and a byte scan of the
//! answer for SSE tokens (no JSON parsing), so the client adds as little as
//! possible to the latency of the direct path and of the HTTP peers.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// What one call saw.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Content tokens seen (SSE events with a non-empty `content`; for a
    /// non-streamed answer, 1 when it carries content).
    pub tokens: u32,
    /// Time from sending to each body chunk that carried a token, in order.
    pub token_times: Vec<Duration>,
}

impl Reply {
    /// Time to the first token.
    pub fn ttft(&self) -> Option<Duration> {
        self.token_times.first().copied()
    }
}

/// A pooled keep-alive client for one URL.
#[derive(Clone, Debug)]
pub struct ThinHttp {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: hyper::Uri,
    auth: Option<HeaderValue>,
}

impl ThinHttp {
    /// A client posting to `url` (e.g. `http://127.0.0.1:P/v1/chat/completions`),
    /// with `Authorization: Bearer KEY` when a key is given.
    pub fn new(url: &str, bearer: Option<&str>) -> anyhow::Result<ThinHttp> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1024)
            .build(connector);
        Ok(ThinHttp {
            client,
            uri: url.parse().with_context(|| format!("bad URL {url:?}"))?,
            auth: bearer
                .map(|k| HeaderValue::from_str(&format!("Bearer {k}")))
                .transpose()?,
        })
    }

    /// Posts `body` (JSON) and reads the whole answer. A streamed answer
    /// must end with `data: [DONE]`; any non-2xx status is an error.
    pub async fn post(&self, body: &Bytes) -> anyhow::Result<Reply> {
        let mut request = Request::post(self.uri.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let request = request.body(Full::new(body.clone()))?;
        let started = Instant::now();
        let response = self
            .client
            .request(request)
            .await
            .context("sending the HTTP request")?;
        let status = response.status();
        let streamed = response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let mut body = response.into_body();
        if !status.is_success() {
            let text = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            bail!("HTTP {status}: {}", String::from_utf8_lossy(&text));
        }
        let mut reply = Reply::default();
        let mut scan = SseScan::default();
        while let Some(frame) = body.frame().await {
            let frame = frame.context("reading the answer")?;
            let Some(data) = frame.data_ref() else {
                continue;
            };
            let tokens = if streamed {
                scan.feed(data)
            } else {
                scan.rest.extend_from_slice(data);
                0
            };
            if tokens > 0 {
                reply.tokens += tokens;
                let at = started.elapsed();
                reply
                    .token_times
                    .extend(std::iter::repeat_n(at, tokens as usize));
            }
        }
        if streamed {
            if !scan.done {
                bail!("the SSE stream ended without data: [DONE]");
            }
        } else {
            if find(&scan.rest, b"\"content\"").is_none() {
                bail!("the answer carries no content");
            }
            reply.tokens = 1;
            reply.token_times.push(started.elapsed());
        }
        Ok(reply)
    }
}

/// An incremental scan of an SSE body for content tokens and `[DONE]`.
#[derive(Debug, Default)]
pub struct SseScan {
    rest: Vec<u8>,
    /// `data: [DONE]` was seen.
    pub done: bool,
}

impl SseScan {
    /// Feeds a chunk; returns the content tokens completed by it.
    pub fn feed(&mut self, chunk: &[u8]) -> u32 {
        self.rest.extend_from_slice(chunk);
        let mut tokens = 0;
        let mut consumed = 0;
        while let Some(end) = self.rest[consumed..].iter().position(|b| *b == b'\n') {
            let line = &self.rest[consumed..consumed + end];
            consumed += end + 1;
            let Some(data) = line.strip_prefix(b"data:") else {
                continue;
            };
            let data = data.trim_ascii();
            if data == b"[DONE]" {
                self.done = true;
            } else if has_content(data) {
                tokens += 1;
            }
        }
        self.rest.drain(..consumed);
        tokens
    }
}

/// Whether a chunk's JSON holds `"content": "<non-empty>"`, with or without
/// spaces around the colon (peers format JSON differently).
pub fn has_content(json: &[u8]) -> bool {
    let mut from = 0;
    while let Some(at) = find(&json[from..], b"\"content\"") {
        let mut rest = json[from + at + 9..].trim_ascii_start();
        if let Some(after) = rest.strip_prefix(b":") {
            rest = after.trim_ascii_start();
            if let Some(value) = rest.strip_prefix(b"\"") {
                return value.first().is_some_and(|b| *b != b'"');
            }
        }
        from += at + 9;
    }
    false
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_found_in_compact_and_spaced_json() {
        assert!(has_content(br#"{"delta":{"content":"tok0"}}"#));
        assert!(has_content(br#"{"delta": {"content": " tok1"}}"#));
        assert!(!has_content(br#"{"delta":{"content":""}}"#));
        assert!(!has_content(br#"{"delta":{"content":null}}"#));
        assert!(!has_content(br#"{"usage":{"completion_tokens":8}}"#));
    }

    #[test]
    fn tokens_and_done_are_counted_across_split_chunks() {
        let mut scan = SseScan::default();
        let body = b": comment\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n\
                     data: {\"choices\":[{\"delta\":{\"content\":\" b\"}}]}\n\n\
                     data: {\"choices\":[],\"usage\":{\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
        let (first, second) = body.split_at(40);
        let tokens = scan.feed(first) + scan.feed(second);
        assert_eq!(tokens, 2);
        assert!(scan.done);
    }
}
