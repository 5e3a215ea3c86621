//! The connection to a router and one method per RPC.

use std::time::Duration;

use ai_router_proto::status::error_chain;
use futures::{Stream, TryStreamExt};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::error::ClientError;
use crate::proto::admin_client::AdminClient;
use crate::proto::router_client::RouterClient;
use crate::proto::{
    BatchGenerateRequest, BatchItemResult, GenerateChunk, GenerateRequest, GenerateResponse,
    ListModelsRequest, ListModelsResponse, StatsRequest, StatsResponse, UsageRequest,
    UsageResponse,
};
use crate::tls::TlsOptions;

/// Where the router listens unless told otherwise (its own default).
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";

/// How long [`Client::connect`] waits for the TCP/HTTP2 handshake. Without a
/// bound, dialling a black-holed host would hang for the OS's SYN timeout
/// (minutes) before the caller heard anything.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on one router.
///
/// Cloning is cheap and clones share the underlying HTTP/2 connection, so
/// one `Client` can serve many concurrent tasks. Methods take `&self` for the
/// same reason.
#[derive(Clone, Debug)]
pub struct Client {
    inner: RouterClient<Channel>,
    /// The `Admin` service on the same connection.
    pub(crate) admin: AdminClient<Channel>,
    timeout: Option<Duration>,
    /// `Bearer <key>`, marked sensitive so HPACK never indexes it.
    authorization: Option<MetadataValue<Ascii>>,
}

impl Client {
    /// Connects to the router at `addr`, e.g. `"http://127.0.0.1:50051"` or
    /// `"127.0.0.1:50051"` (a bare `host:port` is taken as plain-text HTTP/2,
    /// which is what the router serves).
    ///
    /// The connection is made eagerly so an unreachable router is reported
    /// here, with the address, rather than as an `UNAVAILABLE` status on the
    /// first call.
    pub async fn connect(addr: impl Into<String>) -> Result<Self, ClientError> {
        Self::connect_with_tls(addr, TlsOptions::default()).await
    }

    /// Connects like [`Client::connect`]; an `https://` address speaks TLS
    /// with `tls` (CA file, client certificate for mTLS).
    pub async fn connect_with_tls(
        addr: impl Into<String>,
        tls: TlsOptions,
    ) -> Result<Self, ClientError> {
        let addr = addr.into();
        let uri = normalize_addr(&addr)?;
        let mut endpoint =
            Endpoint::from_shared(uri.clone()).map_err(|err| ClientError::InvalidAddress {
                addr: addr.clone(),
                reason: error_chain(&err),
            })?;
        if uri.starts_with("https://") {
            endpoint = endpoint
                .tls_config(tls.config())
                .map_err(|e| ClientError::Tls(error_chain(&e)))?;
        }
        let channel = endpoint
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .connect()
            .await
            .map_err(|source| ClientError::Connect { addr: uri, source })?;
        Ok(Self::from_channel(channel))
    }

    /// Connects to every router a DNS name resolves to, e.g.
    /// `"dns:///ai-router-headless.ai.svc.cluster.local:50051"` (a Kubernetes
    /// headless Service), and balances calls over them, following the name
    /// as routers come and go (see [`crate::BalanceOptions`]). Needs a Tokio
    /// runtime: a background task re-resolves the name until the last clone
    /// of this client is dropped.
    pub async fn connect_balanced(target: &str) -> Result<Self, ClientError> {
        Self::connect_balanced_with(target, crate::BalanceOptions::default()).await
    }

    /// [`Client::connect_balanced`] with a chosen refresh period or resolver.
    pub async fn connect_balanced_with(
        target: &str,
        options: crate::BalanceOptions,
    ) -> Result<Self, ClientError> {
        let channel = crate::balanced::balanced_channel(target, options).await?;
        Ok(Self::from_channel(channel))
    }

    /// Wraps a channel the caller built, for TLS, custom keep-alive, a lazy
    /// connection, or tests against an in-process server.
    pub fn from_channel(channel: Channel) -> Self {
        Self {
            inner: RouterClient::new(channel.clone()),
            admin: AdminClient::new(channel),
            timeout: None,
            authorization: None,
        }
    }

    /// Sends `key` as `authorization: Bearer <key>` on every call.
    pub fn with_api_key(mut self, key: &str) -> Result<Self, ClientError> {
        let mut value = MetadataValue::try_from(format!("Bearer {}", key.trim()))
            .map_err(|_| ClientError::InvalidApiKey)?;
        if key.trim().is_empty() || key.trim().contains(' ') {
            return Err(ClientError::InvalidApiKey);
        }
        value.set_sensitive(true);
        self.authorization = Some(value);
        Ok(self)
    }

    /// Sets a gRPC deadline on every call made through this client. The
    /// router aborts the upstream work when the deadline passes, so this is
    /// also how a caller bounds what a request may cost. For streaming calls
    /// the deadline covers the whole stream, not each message.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The per-call deadline, if one is set.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Generates one completion and returns it whole.
    pub async fn generate(&self, req: GenerateRequest) -> Result<GenerateResponse, ClientError> {
        let resp = self
            .inner
            .clone()
            .generate(self.request(req))
            .await
            .map_err(ClientError::from_call)?;
        Ok(resp.into_inner())
    }

    /// Generates one completion as a stream of chunks: text deltas, then a
    /// last chunk whose `done` holds the finish reason, usage and timing.
    ///
    /// The outer `Result` fails when the call is refused before any chunk
    /// (bad model, invalid parameters); the items fail when the stream breaks
    /// part-way.
    pub async fn generate_stream(
        &self,
        req: GenerateRequest,
    ) -> Result<
        impl Stream<Item = Result<GenerateChunk, ClientError>> + Send + Unpin + 'static,
        ClientError,
    > {
        let resp = self
            .inner
            .clone()
            .generate_stream(self.request(req))
            .await
            .map_err(ClientError::from_call)?;
        Ok(resp.into_inner().map_err(ClientError::from_call))
    }

    /// Runs `items` as one batch and streams each item's result as soon as it
    /// is done (completion order; use `BatchItemResult::index` to match them
    /// up). `max_concurrency` of 0 means the router's default.
    ///
    /// A failing item arrives as a result carrying an `ItemError`; only a
    /// failure of the whole call is an `Err`.
    pub async fn batch(
        &self,
        items: Vec<GenerateRequest>,
        max_concurrency: u32,
    ) -> Result<
        impl Stream<Item = Result<BatchItemResult, ClientError>> + Send + Unpin + 'static,
        ClientError,
    > {
        let req = BatchGenerateRequest {
            items,
            max_concurrency,
        };
        let resp = self
            .inner
            .clone()
            .batch_generate(self.request(req))
            .await
            .map_err(ClientError::from_call)?;
        Ok(resp.into_inner().map_err(ClientError::from_call))
    }

    /// Fetches the router's counters, latency percentiles and pool state.
    pub async fn stats(&self) -> Result<StatsResponse, ClientError> {
        let resp = self
            .inner
            .clone()
            .stats(self.request(StatsRequest {}))
            .await
            .map_err(ClientError::from_call)?;
        Ok(resp.into_inner())
    }

    /// Lists every model the router can serve, sorted by id.
    pub async fn list_models(&self) -> Result<ListModelsResponse, ClientError> {
        let resp = self
            .inner
            .clone()
            .list_models(self.request(ListModelsRequest {}))
            .await
            .map_err(ClientError::from_call)?;
        Ok(resp.into_inner())
    }

    /// Usage per API key and model over the last `since` (admin keys only).
    pub async fn usage(&self, since: Duration) -> Result<UsageResponse, ClientError> {
        let since = crate::proto::Duration::from(since);
        let resp = self
            .inner
            .clone()
            .usage(self.request(UsageRequest { since: Some(since) }))
            .await
            .map_err(ClientError::from_call)?;
        Ok(resp.into_inner())
    }

    /// Wraps a message in a request carrying the configured deadline and key.
    pub(crate) fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        if let Some(timeout) = self.timeout {
            req.set_timeout(timeout);
        }
        if let Some(auth) = &self.authorization {
            req.metadata_mut().insert("authorization", auth.clone());
        }
        req
    }
}

/// Turns what a person types into a URI the channel accepts: adds `http://`
/// to a bare `host:port`, and rejects schemes this build cannot speak up
/// front with a message that says so (the transport's own error is opaque).
fn normalize_addr(addr: &str) -> Result<String, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidAddress {
        addr: addr.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = addr.trim();
    if trimmed.is_empty() {
        return Err(invalid("the address is empty"));
    }
    let uri = match trimmed.split_once("://") {
        None => format!("http://{trimmed}"),
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("http") => trimmed.to_owned(),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => format!("https://{rest}"),
        Some((scheme, _)) => {
            return Err(invalid(&format!(
                "unsupported scheme {scheme:?}; use http://host:port or host:port"
            )));
        }
    };
    let rest = uri.split_once("://").map_or("", |(_, rest)| rest);
    if rest.is_empty() || rest.starts_with('/') || rest.starts_with(':') {
        return Err(invalid("the address has no host"));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_host_port_gets_http_scheme() {
        assert_eq!(
            normalize_addr("127.0.0.1:50051").unwrap(),
            "http://127.0.0.1:50051"
        );
        assert_eq!(
            normalize_addr(" http://localhost:1 ").unwrap(),
            "http://localhost:1"
        );
        assert_eq!(normalize_addr("[::1]:50051").unwrap(), "http://[::1]:50051");
    }

    #[test]
    fn bad_addresses_are_rejected() {
        for addr in ["", "   ", "https://", "ftp://x:1", "http://", ":50051"] {
            let err = normalize_addr(addr).unwrap_err();
            assert!(
                matches!(err, ClientError::InvalidAddress { .. }),
                "{addr:?}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn connect_rejects_unparseable_uri() {
        let err = Client::connect("bad host:1").await.unwrap_err();
        assert!(matches!(err, ClientError::InvalidAddress { .. }), "{err}");
    }

    #[tokio::test]
    async fn connect_to_closed_port_is_a_connect_error() {
        // Bind then drop a listener so the port is (almost certainly) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = Client::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Connect { .. }), "{err}");
        assert!(err.to_string().contains(&port.to_string()));
    }

    #[tokio::test]
    async fn timeout_is_applied_to_requests() {
        let channel = Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
        let client = Client::from_channel(channel).with_timeout(Duration::from_secs(3));
        let req = client.request(StatsRequest {});
        assert_eq!(
            req.metadata()
                .get("grpc-timeout")
                .and_then(|v| v.to_str().ok()),
            Some("3000000u")
        );
    }
}
