//! The request path's pooled HTTP client: hyper-util's legacy client over
//! the [`Connector`], one request builder for chat and embedding calls, and
//! the one place a failed send becomes an [`UpstreamError`].
//!
//! hyper directly rather than reqwest: in the overhead bench's floors the
//! same forwarder added 0.3-0.6 ms p99 at concurrency 1 over hyper against
//! 2.1-2.5 ms over reqwest, and spent 150 against 200 µs CPU per request
//! (see README, "Crates").

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use ai_router_proto::status::error_chain;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, PROXY_AUTHORIZATION};
use http::uri::Scheme;
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use prometheus_client::metrics::counter::Counter;
use serde::Serialize;

use super::call::Target;
use super::connector::Connector;
use super::error::UpstreamError;
use super::response;

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up TLS for upstream calls: {0}")]
pub struct ClientError(#[from] rustls::Error);

/// How long connections stay pooled.
#[derive(Debug, Clone, Copy)]
pub(super) struct Idle {
    /// Longest idle time; below the server's own keep-alive timeout, or a
    /// request may be written onto a connection the server is closing.
    pub timeout: Duration,
    /// Idle connections kept per host (0: none).
    pub max_per_host: usize,
}

/// One pooled client. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub(super) struct Transport {
    client: Client<Connector, Full<Bytes>>,
    /// The environment's proxy settings, for the `Proxy-Authorization` of
    /// plain-HTTP requests the proxy forwards (a tunnel carries its own).
    proxies: Option<Arc<Matcher>>,
}

impl Transport {
    /// A client; `use_proxy` honours HTTP(S)_PROXY/ALL_PROXY/NO_PROXY as
    /// they are when it is built.
    pub(super) fn new(
        idle: Idle,
        connect_timeout: Duration,
        use_proxy: bool,
        opened: Counter,
    ) -> Result<Transport, ClientError> {
        let proxies = use_proxy.then(|| Arc::new(Matcher::from_env()));
        let connector = Connector::new(connect_timeout, proxies.clone(), opened)?;
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(idle.timeout)
            .pool_max_idle_per_host(idle.max_per_host)
            .build(connector);
        Ok(Transport { client, proxies })
    }

    /// POSTs `body` as JSON to `uri` with the target's headers and key;
    /// redirects are not followed (an API that redirects a POST is
    /// misconfigured, and following it would resend the prompt and the key
    /// to wherever it points; the OpenAI SDKs do not follow either).
    /// Dropping the future abandons the request and its connection.
    pub(super) async fn post(
        &self,
        target: &Target,
        uri: &Uri,
        body: &impl Serialize,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let body = serde_json::to_vec(body).map_err(|e| UpstreamError::Protocol {
            endpoint: target.endpoint.clone(),
            detail: format!("cannot encode the request: {e}"),
        })?;
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri.clone();
        let headers = request.headers_mut();
        headers.reserve(target.headers.len() + 3);
        headers.extend(target.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        if let Some(key) = &target.api_key {
            let value = key.bearer().map_err(|_| UpstreamError::Connect {
                endpoint: target.endpoint.clone(),
                detail: "its API key is not a valid HTTP header value".into(),
            })?;
            headers.insert(AUTHORIZATION, value);
        }
        self.authorize_proxy(uri, headers);
        self.client
            .request(request)
            .await
            .map_err(|e| send_error(target, &e))
    }

    /// Adds the proxy's credentials to a plain-HTTP request it forwards.
    fn authorize_proxy(&self, uri: &Uri, headers: &mut HeaderMap) {
        if uri.scheme() != Some(&Scheme::HTTP) {
            return;
        }
        let auth = self
            .proxies
            .as_ref()
            .and_then(|p| p.intercept(uri))
            .and_then(|proxy| proxy.basic_auth().cloned());
        if let Some(auth) = auth {
            headers.insert(PROXY_AUTHORIZATION, auth);
        }
    }
}

/// A failed send: before any response, so always safe to retry. A
/// connection that could not be made (refused, DNS, TLS, proxy, connect
/// timeout) is a connect error; any other failure broke an open one.
fn send_error(target: &Target, e: &hyper_util::client::legacy::Error) -> UpstreamError {
    // hyper's own text only names the stage ("client error (Connect)"); the
    // cause says what happened (connection refused, reset...).
    let detail = e.source().map_or_else(|| e.to_string(), error_chain);
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
