//! The pooled HTTP client and the attempt/retry loop around one chat call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::breaker::{BreakerConfig, BreakerSnapshot, Verdict};
use super::budget::{RetryBudget, RetryBudgetConfig};
use super::call::{ChatCall, ChatOutcome, Target};
use super::error::UpstreamError;
use super::hosts::{AttemptResult, HostAttempt, HostKey};
use super::model_breakers::ModelBreakers;
use super::response::{self, AttemptError};
use super::retry::{RetryPolicy, next_delay};
use super::transport::{ClientError, Idle, Transport};
use super::types::{self, ChatCompletionRequest, StreamOptions, WireMessage};
use crate::config::EndpointKind;
use crate::domain::DeltaSink;
use crate::metrics::UpstreamMetrics;

/// How long a whole-answer connection to a local child may idle: below
/// llama-server's own keep-alive timeout (5 s), so the router never writes
/// onto a connection the child is closing.
const LOCAL_KEEP_ALIVE: Duration = Duration::from_secs(3);

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
/// over TLS). Cheap to clone; clones share the pool, the breaker and the
/// retry budget.
///
/// The breakers and the budget are per client, and so per endpoint: each
/// remote endpoint has its own client ([`UpstreamClient::remote`]), with one
/// breaker per (endpoint, model); host failures are its host pool's (see
/// [`HostSource`](super::HostSource)). The one client shared by all local
/// children has neither (one dead child must not open a breaker for the
/// others; the pool has its own).
#[derive(Clone)]
pub struct UpstreamClient {
    /// For streamed requests.
    http: Transport,
    /// For whole (non-streamed) requests; the same pool as `http` except
    /// for local children (see [`UpstreamClient::local`]).
    http_whole: Transport,
    counters: UpstreamMetrics,
    breakers: Option<Arc<ModelBreakers>>,
    budget: Option<Arc<RetryBudget>>,
}

impl UpstreamClient {
    /// Builds a client. `pool_idle_timeout` must be below the server's own
    /// keep-alive timeout, or a request may be written onto a connection the
    /// server is closing.
    pub fn new(
        pool_idle_timeout: Duration,
        connect_timeout: Duration,
        use_proxy: bool,
        counters: UpstreamMetrics,
    ) -> Result<UpstreamClient, ClientError> {
        let idle = Idle {
            timeout: pool_idle_timeout,
            max_per_host: usize::MAX,
        };
        let http = Transport::new(
            idle,
            connect_timeout,
            use_proxy,
            counters.connections_opened.clone(),
        )?;
        Ok(UpstreamClient::with(http.clone(), http, counters))
    }

    /// The client for local llama-server children, with no proxy and two
    /// pools. llama-server closes the connection after every streamed
    /// response (while still announcing keep-alive), so reusing one would
    /// race that close: streamed requests keep no idle connection. After a
    /// whole JSON response it does keep the connection, so whole requests
    /// reuse theirs, idle for less than llama-server's 5 s keep-alive.
    pub fn local(
        connect_timeout: Duration,
        counters: UpstreamMetrics,
    ) -> Result<UpstreamClient, ClientError> {
        let pool = |max_per_host| {
            let idle = Idle {
                timeout: LOCAL_KEEP_ALIVE,
                max_per_host,
            };
            Transport::new(
                idle,
                connect_timeout,
                false,
                counters.connections_opened.clone(),
            )
        };
        let streamed = pool(0)?;
        let whole = pool(usize::MAX)?;
        Ok(UpstreamClient::with(streamed, whole, counters))
    }

    fn with(http: Transport, http_whole: Transport, counters: UpstreamMetrics) -> UpstreamClient {
        UpstreamClient {
            http,
            http_whole,
            counters,
            breakers: None,
            budget: None,
        }
    }

    /// A client for one remote endpoint: through the proxy settings, with a
    /// circuit breaker and a retry budget at their defaults.
    pub fn remote(
        pool_idle_timeout: Duration,
        connect_timeout: Duration,
        counters: UpstreamMetrics,
    ) -> Result<UpstreamClient, ClientError> {
        Ok(
            UpstreamClient::new(pool_idle_timeout, connect_timeout, true, counters)?
                .with_breaker(BreakerConfig::default())
                .with_retry_budget(RetryBudgetConfig::default()),
        )
    }

    /// Adds circuit breakers, one per model (replacing any earlier ones).
    /// Only for a client that serves one endpoint.
    #[must_use]
    pub fn with_breaker(mut self, config: BreakerConfig) -> UpstreamClient {
        self.breakers = Some(Arc::new(ModelBreakers::new(config)));
        self
    }

    /// Adds a retry budget (replacing any earlier one).
    #[must_use]
    pub fn with_retry_budget(mut self, config: RetryBudgetConfig) -> UpstreamClient {
        self.budget = Some(Arc::new(RetryBudget::new(config, Instant::now())));
        self
    }

    /// The shared counters.
    pub fn counters(&self) -> &UpstreamMetrics {
        &self.counters
    }

    /// The pooled HTTP client (for streamed and one-shot requests).
    pub(super) fn http(&self) -> &Transport {
        &self.http
    }

    /// The breaker of `model` on this endpoint, when this client has breakers.
    pub(super) fn breaker_for(&self, model: &str) -> Option<Arc<super::breaker::Breaker>> {
        self.breakers.as_ref().map(|b| b.of(model))
    }

    /// The worst of its model breakers (closed when none has been used),
    /// or None when this client has no breakers.
    pub fn breaker_state(&self) -> Option<BreakerSnapshot> {
        self.breakers.as_ref().map(|b| b.worst(Instant::now()))
    }

    /// Runs a chat call with retries. A retry happens only while nothing has
    /// been forwarded to the client, only for retryable failures, only when
    /// the wait fits before `deadline`, and only while the breaker (if any)
    /// admits attempts and the retry budget (if any) has room.
    ///
    /// While the breaker is open the call fails at once with
    /// [`UpstreamError::BreakerOpen`] and `attempts: 0`, sending nothing.
    ///
    /// `tried` holds the hosts of pooled endpoints that earlier attempts of
    /// the caller's request went to (its other models' calls included);
    /// every attempt avoids them while another host can take it, and adds
    /// its own.
    pub async fn chat(
        &self,
        target: &Target,
        call: &ChatCall,
        sink: &mut DeltaSink,
        policy: RetryPolicy,
        deadline: Option<Instant>,
        tried: &mut Vec<HostKey>,
    ) -> Result<ChatOutcome, CallFailure> {
        if let Some(budget) = &self.budget {
            budget.record_call(Instant::now());
        }
        let mut backoff = policy.backoff();
        let mut attempts = 0;
        let mut last_error = None;
        let breaker = self.breakers.as_ref().map(|b| b.of(&call.model));
        loop {
            let permit = match &breaker {
                None => None,
                Some(breaker) => match breaker.try_acquire(Instant::now()) {
                    Ok(permit) => Some(permit),
                    Err(retry_in) => {
                        // On a retry, the real failure says more than the breaker.
                        let error = last_error.unwrap_or_else(|| UpstreamError::BreakerOpen {
                            endpoint: target.endpoint.clone(),
                            retry_in,
                        });
                        return Err(CallFailure::Upstream {
                            error,
                            emitted: false,
                            attempts,
                        });
                    }
                },
            };
            let host = match &target.hosts {
                None => None,
                Some(hosts) => match hosts.pick(call, tried) {
                    Ok(host) => Some(host),
                    Err(error) => {
                        let error = last_error.unwrap_or(error);
                        return Err(CallFailure::Upstream {
                            error,
                            emitted: false,
                            attempts,
                        });
                    }
                },
            };
            attempts += 1;
            let mut emitted = false;
            let result = self
                .attempt(target, host.as_deref(), call, sink, &mut emitted)
                .await;
            // A failure one host of several is blamed for is not the model's.
            let host_blamed = host.is_some_and(|host| {
                tried.push(host.key());
                report_to_host(host, &result)
            });
            if let Some(permit) = permit {
                let verdict = match &result {
                    Ok(_) => Verdict::Success,
                    Err(AttemptError::Upstream(e)) if e.is_model_failure() && !host_blamed => {
                        Verdict::Failure
                    }
                    Err(_) => Verdict::Neutral,
                };
                if permit.record(verdict, Instant::now()) {
                    self.counters.breaker_opened.inc();
                    tracing::warn!(endpoint = %target.endpoint, "circuit breaker opened after repeated failures");
                }
            }
            let error = match result {
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
            let Some(mut delay) = delay.filter(|_| self.may_retry(target, breaker.as_deref()))
            else {
                return Err(CallFailure::Upstream {
                    error,
                    emitted,
                    attempts,
                });
            };
            // Another host is fresh: no reason to back off (a Retry-After
            // is about the host that sent it).
            if target.hosts.as_ref().is_some_and(|h| h.has_untried(tried)) {
                delay = Duration::ZERO;
            }
            tracing::debug!(endpoint = %target.endpoint, attempt = attempts, ?delay, error = error.label(), "retrying upstream");
            self.counters.retries.inc();
            last_error = Some(error);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
    }

    /// Whether a wanted retry may go ahead: not when the breaker would
    /// refuse it anyway (no point sleeping first), and not when the retry
    /// budget is spent.
    fn may_retry(&self, target: &Target, breaker: Option<&super::breaker::Breaker>) -> bool {
        let now = Instant::now();
        if breaker.is_some_and(|b| b.refuses(now)) {
            return false;
        }
        if self.budget.as_ref().is_some_and(|b| !b.try_retry(now)) {
            self.counters.retries_denied_by_budget.inc();
            tracing::debug!(endpoint = %target.endpoint, "retry budget spent; not retrying");
            return false;
        }
        true
    }

    async fn attempt(
        &self,
        target: &Target,
        host: Option<&dyn HostAttempt>,
        call: &ChatCall,
        sink: &mut DeltaSink,
        emitted: &mut bool,
    ) -> Result<ChatOutcome, AttemptError> {
        // A caller that wants the whole answer may be served whole.
        let stream = match sink {
            DeltaSink::Collect => {
                target.stream_unary
                    || target
                        .whole_max_tokens
                        .is_some_and(|most| call.params.max_tokens > most)
            }
            DeltaSink::Forward(_) => target.stream,
        };
        let p = &call.params;
        let body = ChatCompletionRequest {
            model: &call.model,
            models: (target.kind == EndpointKind::OpenRouter
                && !call.provider_fallbacks.is_empty())
            .then_some(call.provider_fallbacks.as_slice()),
            messages: call.messages.iter().map(WireMessage::from).collect(),
            max_tokens: Some(p.max_tokens),
            temperature: p.temperature,
            top_p: p.top_p,
            stop: &p.stop,
            seed: p.seed,
            presence_penalty: p.presence_penalty,
            frequency_penalty: p.frequency_penalty,
            response_format: types::response_format(p.response_format.as_ref()),
            tools: types::tools(&p.tools),
            tool_choice: types::tool_choice(p.tool_choice.as_ref()),
            logprobs: p.logprobs.is_some(),
            top_logprobs: p.logprobs.filter(|n| *n > 0),
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
        };
        let http = if stream { &self.http } else { &self.http_whole };
        let uri = host.map_or(&target.chat_url, |h| h.chat_url());
        let sent = Instant::now();
        let first_token_deadline = sent + target.timeouts.first_token;
        self.counters.requests_sent.inc();
        let response = match tokio::time::timeout_at(
            first_token_deadline.into(),
            http.post(target, uri, &body),
        )
        .await
        {
            Err(_) => {
                return Err(UpstreamError::FirstTokenTimeout {
                    endpoint: target.endpoint.clone(),
                    after: target.timeouts.first_token,
                }
                .into());
            }
            Ok(result) => result?,
        };
        if !response.status().is_success() {
            return Err(response::http_error(response, target).await.into());
        }
        let generation_id = response::generation_id(response.headers());
        let mut outcome = if stream {
            response::read_stream(response, target, sink, first_token_deadline, emitted).await?
        } else {
            let whole_deadline =
                first_token_deadline + target.timeouts.whole_answer(call.params.max_tokens);
            response::read_whole(response, target, sink, sent, whole_deadline, emitted).await?
        };
        // OpenRouter's header is the id its generation API knows; the body's
        // `id` is the fallback for servers that send no header.
        if generation_id.is_some() {
            outcome.upstream_id = generation_id;
        }
        Ok(outcome)
    }
}

/// Tells a pooled endpoint's host how its attempt went; a client that left
/// says nothing about the host (dropping the attempt only ends its load).
/// True when the host took the blame for a failure.
fn report_to_host(host: Box<dyn HostAttempt>, result: &Result<ChatOutcome, AttemptError>) -> bool {
    match result {
        Ok(outcome) => host.finish(AttemptResult::Answered {
            prompt_tokens: outcome.usage.prompt_tokens,
            cached_tokens: outcome.cached_tokens,
            first_token_at: outcome.first_token_at,
        }),
        Err(AttemptError::Upstream(e)) => host.finish(AttemptResult::Failed(e)),
        Err(AttemptError::ClientGone) => {
            drop(host);
            false
        }
    }
}
