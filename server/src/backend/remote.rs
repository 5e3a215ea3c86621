//! A remote OpenAI-compatible endpoint: one pooled client, its key (read
//! from the environment once), its admission limiter, and its hosts (a
//! [`HostPool`]: one for `base_url`, several for `urls` or `discovery`).
//! Always ready: its health is its hosts' ejection and the client's
//! per-model breakers.

use std::sync::Arc;

use futures::future::BoxFuture;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::hosts::HostPool;
use super::{Acquired, Backend, Listing};
use crate::config::{EndpointConfig, EndpointKind};
use crate::domain::{BackendKind, ModelId};
use crate::error::RouterError;
use crate::executor::RouteLimiter;
use crate::lifecycle::Lifecycle;
use crate::metrics::UpstreamMetrics;
use crate::pool::{ModelStateKind, ModelStatus};
use crate::upstream::{
    ApiKey, AttemptTimeouts, ClientError, RetryPolicy, Target, UpstreamClient, uri_of,
};

/// A configured endpoint, ready to serve.
pub struct RemoteEndpoint {
    /// Its configuration.
    pub config: EndpointConfig,
    /// Its own pooled HTTP client.
    pub client: UpstreamClient,
    /// Its key, if it has one.
    api_key: Option<ApiKey>,
    /// Attribution headers.
    headers: HeaderMap,
    /// Admission limiter (max_concurrency).
    pub limiter: Arc<RouteLimiter>,
    /// Its first listed host's chat completions URL, parsed once (attempts
    /// go to the host the pool picks).
    chat_url: http::Uri,
    /// Its hosts.
    pub hosts: Arc<HostPool>,
}

/// Why an endpoint could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Its HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] ClientError),
    /// Its hosts' URLs or discovery are not usable.
    #[error("endpoint '{endpoint}': {detail}")]
    Url {
        /// The endpoint's name.
        endpoint: String,
        /// What is wrong with it.
        detail: String,
    },
}

impl RemoteEndpoint {
    /// Builds the endpoint and its client.
    /// Its discovery task, if any, runs on `life`.
    pub fn new(
        config: EndpointConfig,
        counters: UpstreamMetrics,
        max_queue: usize,
        life: &Lifecycle,
    ) -> Result<RemoteEndpoint, EndpointError> {
        let url_error = |detail| EndpointError::Url {
            endpoint: config.name.clone(),
            detail,
        };
        let first = config
            .listed_hosts()
            .into_iter()
            .next()
            .unwrap_or_else(|| "http://discovered.invalid/v1".to_string());
        let chat_url = crate::config::chat_url(&first)
            .and_then(|url| uri_of(&url))
            .map_err(url_error)?;
        let api_key = config.api_key_env.as_deref().and_then(ApiKey::from_env);
        let hosts = HostPool::start(
            &config,
            api_key.clone(),
            counters.host_ejections.clone(),
            life,
        )
        .map_err(url_error)?;
        let client =
            UpstreamClient::remote(config.pool_idle_timeout, config.connect_timeout, counters)?;
        let mut headers = HeaderMap::new();
        if config.kind == EndpointKind::OpenRouter {
            add_header(&mut headers, "http-referer", config.referer.as_deref());
            add_header(&mut headers, "x-title", config.title.as_deref());
        }
        let limiter = Arc::new(RouteLimiter::new(
            &config.name,
            config.max_concurrency as usize,
            max_queue,
        ));
        Ok(RemoteEndpoint {
            config,
            client,
            api_key,
            headers,
            limiter,
            chat_url,
            hosts,
        })
    }

    /// Whether this endpoint is OpenRouter (own fallbacks, cost, attribution).
    pub fn is_openrouter(&self) -> bool {
        self.config.kind == EndpointKind::OpenRouter
    }

    /// The target for one request.
    pub fn target(&self) -> Target {
        Target {
            endpoint: self.config.name.clone(),
            chat_url: self.chat_url.clone(),
            api_key: self.api_key.clone(),
            kind: self.config.kind,
            stream: self.config.stream,
            stream_unary: self.config.stream,
            whole_max_tokens: None,
            timeouts: AttemptTimeouts {
                first_token: self.config.first_token_timeout,
                token_gap: self.config.token_gap_timeout,
            },
            headers: self.headers.clone(),
            hosts: Some(self.hosts.clone()),
        }
    }

    /// Its retry policy.
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy::attempts(self.config.max_attempts)
    }
}

impl Backend for RemoteEndpoint {
    fn kind(&self) -> BackendKind {
        if self.is_openrouter() {
            BackendKind::OpenRouter
        } else {
            BackendKind::OpenAi
        }
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn limiter(&self) -> &Arc<RouteLimiter> {
        &self.limiter
    }

    /// The id without the endpoint's prefix: `lab/llama3:8b` → `llama3:8b`.
    fn upstream_model<'a>(&'a self, id: &'a ModelId) -> &'a str {
        id.split_prefix().map_or(id.as_str(), |(_, rest)| rest)
    }

    fn serves(&self, upstream_model: &str) -> bool {
        self.config.models.is_empty() || self.config.models.iter().any(|m| m == upstream_model)
    }

    fn acquire(&self) -> BoxFuture<'_, Result<Acquired, RouterError>> {
        Box::pin(async move {
            // Right after start-up, discovery's first look may be under way.
            self.hosts.discovered(self.config.connect_timeout).await;
            Ok(Acquired {
                target: self.target(),
                retry: self.retry(),
                cold: false,
                lease: None,
            })
        })
    }

    fn client(&self) -> &UpstreamClient {
        &self.client
    }

    fn is_ready(&self) -> bool {
        true
    }

    /// The listed models, or `name/*` for an endpoint that takes any.
    fn listings(&self) -> Vec<Listing> {
        let name = &self.config.name;
        let ids: Vec<String> = if self.config.models.is_empty() {
            vec![format!("{name}/*")]
        } else {
            self.config
                .models
                .iter()
                .map(|m| format!("{name}/{m}"))
                .collect()
        };
        ids.into_iter()
            .map(|id| Listing {
                kind: self.kind(),
                status: ModelStatus {
                    id,
                    state: ModelStateKind::Warm,
                    slots: self.config.max_concurrency,
                    in_flight: self.limiter.in_flight() as u32,
                    idle: None,
                    rss_bytes: 0,
                    last_error: None,
                    pinned: false,
                },
            })
            .collect()
    }
}

fn add_header(headers: &mut HeaderMap, name: &'static str, value: Option<&str>) {
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(HeaderName::from_static(name), v);
    }
}
