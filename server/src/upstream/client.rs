//! The pooled HTTP client and the attempt/retry loop around one chat call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use super::call::{ChatCall, ChatOutcome, DeltaSink, Target};
use super::connections::CountConnections;
use super::error::UpstreamError;
use super::response::{self, AttemptError};
use super::retry::{RetryPolicy, next_delay};
use super::types::{ChatCompletionRequest, StreamOptions};
use crate::config::EndpointKind;

/// Counters shared by every upstream client, read by `Stats`.
#[derive(Debug, Default)]
pub struct UpstreamCounters {
    /// TCP connections opened.
    pub connections_opened: Arc<AtomicU64>,
    /// HTTP requests sent (attempts, retries included).
    pub requests_sent: AtomicU64,
    /// Retries made.
    pub retries: AtomicU64,
}

/// Why a chat call failed.
#[derive(Debug)]
pub enum CallFailure {
    /// The upstream failed (after any retries).
    Upstream {
        /// The last attempt's error.
        error: UpstreamError,
        /// Whether any text had been forwarded to the client.
        emitted: bool,
        /// Attempts made.
        attempts: u32,
    },
    /// The client went away while text was being forwarded.
    ClientGone,
}

/// One pooled, keep-alive HTTP client (HTTP/2 where the server offers it
/// over TLS). Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct UpstreamClient {
    http: reqwest::Client,
    counters: Arc<UpstreamCounters>,
}

impl UpstreamClient {
    /// Builds a client. `pool_idle_timeout` must be below the server's own
    /// keep-alive timeout, or a request may be written onto a connection the
    /// server is closing.
    pub fn new(
        pool_idle_timeout: Duration,
        connect_timeout: Duration,
        use_proxy: bool,
        counters: Arc<UpstreamCounters>,
    ) -> Result<UpstreamClient, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .pool_idle_timeout(pool_idle_timeout)
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .connector_layer(CountConnections(counters.connections_opened.clone()));
        if !use_proxy {
            builder = builder.no_proxy();
        }
        Ok(UpstreamClient {
            http: builder.build()?,
            counters,
        })
    }

    /// The shared counters.
    pub fn counters(&self) -> &Arc<UpstreamCounters> {
        &self.counters
    }

    /// Runs a chat call with retries. A retry happens only while nothing has
    /// been forwarded to the client, only for retryable failures, and only
    /// when the wait fits before `deadline`.
    pub async fn chat(
        &self,
        target: &Target,
        call: &ChatCall,
        sink: &mut DeltaSink,
        policy: RetryPolicy,
        deadline: Option<Instant>,
    ) -> Result<ChatOutcome, CallFailure> {
        let mut backoff = policy.backoff();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut emitted = false;
            let error = match self.attempt(target, call, sink, &mut emitted).await {
                Ok(mut outcome) => {
                    outcome.attempts = attempts;
                    return Ok(outcome);
                }
                Err(AttemptError::ClientGone) => return Err(CallFailure::ClientGone),
                Err(AttemptError::Upstream(e)) => e,
            };
            let delay = if emitted || attempts >= policy.max_attempts {
                None
            } else {
                next_delay(&error, &mut backoff, deadline)
            };
            let Some(delay) = delay else {
                return Err(CallFailure::Upstream {
                    error,
                    emitted,
                    attempts,
                });
            };
            tracing::debug!(endpoint = %target.endpoint, attempt = attempts, ?delay, error = error.label(), "retrying upstream");
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        target: &Target,
        call: &ChatCall,
        sink: &mut DeltaSink,
        emitted: &mut bool,
    ) -> Result<ChatOutcome, AttemptError> {
        let body = ChatCompletionRequest {
            model: &call.model,
            models: (target.kind == EndpointKind::OpenRouter
                && !call.provider_fallbacks.is_empty())
            .then_some(call.provider_fallbacks.as_slice()),
            messages: &call.messages,
            max_tokens: call.max_tokens,
            temperature: call.temperature,
            top_p: call.top_p,
            stop: &call.stop,
            seed: call.seed,
            stream: target.stream,
            stream_options: target.stream.then_some(StreamOptions {
                include_usage: true,
            }),
        };
        let mut request = self
            .http
            .post(format!("{}/chat/completions", target.base_url))
            .headers(target.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .json(&body);
        if let Some(key) = &target.api_key {
            request = request.header(AUTHORIZATION, key.bearer());
        }
        let first_token_deadline = Instant::now() + target.timeouts.first_token;
        self.counters.requests_sent.fetch_add(1, Ordering::Relaxed);
        let response =
            match tokio::time::timeout_at(first_token_deadline.into(), request.send()).await {
                Err(_) => {
                    return Err(UpstreamError::FirstTokenTimeout {
                        endpoint: target.endpoint.clone(),
                        after: target.timeouts.first_token,
                    }
                    .into());
                }
                Ok(Err(e)) => return Err(send_error(target, &e).into()),
                Ok(Ok(r)) => r,
            };
        if !response.status().is_success() {
            return Err(response::http_error(response, target).await.into());
        }
        if target.stream {
            response::read_stream(response, target, sink, first_token_deadline, emitted).await
        } else {
            response::read_whole(response, target, sink, first_token_deadline, emitted).await
        }
    }
}

/// A failed send: before any response, so always safe to retry.
fn send_error(target: &Target, e: &reqwest::Error) -> UpstreamError {
    // reqwest's Display omits the cause ("error sending request"); the chain
    // says what actually happened (connection refused, reset...).
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    let detail = response::clean_message(target, &detail);
    if e.is_connect() {
        UpstreamError::Connect {
            endpoint: target.endpoint.clone(),
            detail,
        }
    } else {
        response::disconnected(target, detail)
    }
}
