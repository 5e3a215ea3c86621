//! How the request path's HTTP client opens a connection: TCP (no Nagle
//! delay, keep-alive probes), directly or through the proxy the environment
//! names, then TLS for `https` upstreams (rustls with webpki roots, ALPN
//! offering HTTP/2), all within the connect timeout; every attempt counted
//! so `Stats` can show connection reuse (connections opened vs requests
//! sent).
//!
//! Proxies work as reqwest's did: an `https` upstream is reached through a
//! CONNECT tunnel (TLS end to end), a plain `http` one by sending the
//! request itself to the proxy (the connection is marked proxied, so hyper
//! writes the absolute URI; the `Proxy-Authorization` header is added per
//! request, see `Transport`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use http::uri::Scheme;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use prometheus_client::metrics::counter::Counter;
use tokio::net::TcpStream;
use tower::Service;

/// Any connect failure; hyper reports it as a connect error.
pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// The stream to the upstream or to the proxy (TLS when it is `https`).
type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

/// TCP keep-alive probes, as reqwest sent them: a connection whose peer
/// vanished is found out instead of waiting on it.
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);
const TCP_KEEPALIVE_RETRIES: u32 = 3;

/// The connector of one client (see the module comment).
#[derive(Clone)]
pub(super) struct Connector {
    tls: HttpsConnector<Route>,
    timeout: Duration,
    opened: Counter,
}

impl Connector {
    /// A connector; `proxies` is the environment's proxy settings, None for
    /// a client that connects directly (local children).
    pub(super) fn new(
        connect_timeout: Duration,
        proxies: Option<Arc<Matcher>>,
        opened: Counter,
    ) -> Result<Connector, rustls::Error> {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout));
        tcp.set_keepalive(Some(TCP_KEEPALIVE));
        tcp.set_keepalive_interval(Some(TCP_KEEPALIVE));
        tcp.set_keepalive_retries(Some(TCP_KEEPALIVE_RETRIES));
        // The proxy itself is reached over HTTP/1 (CONNECT, or a forwarded
        // request), so its TLS offers no ALPN.
        let to_proxy = match proxies {
            None => None,
            Some(matcher) => Some(Arc::new(Proxies {
                matcher,
                connector: tls_builder()?
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(tcp.clone()),
            })),
        };
        let tls = tls_builder()?
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(Route {
                direct: tcp,
                proxies: to_proxy,
            });
        Ok(Connector {
            tls,
            timeout: connect_timeout,
            opened,
        })
    }
}

/// rustls with the ring provider and the webpki root store: what reqwest's
/// `rustls-tls` feature used.
fn tls_builder() -> Result<
    hyper_rustls::HttpsConnectorBuilder<hyper_rustls::builderstates::WantsSchemes>,
    rustls::Error,
> {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
}

impl Service<Uri> for Connector {
    type Response = MaybeHttpsStream<Routed>;
    type Error = BoxError;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.tls.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        self.opened.inc();
        let connecting = self.tls.call(dst);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected,
                Err(_) => Err(format!("no connection within {timeout:?}").into()),
            }
        })
    }
}

/// The environment's proxy settings and the connector that reaches a proxy.
struct Proxies {
    matcher: Arc<Matcher>,
    connector: HttpsConnector<HttpConnector>,
}

/// Picks the way to the upstream: direct, tunnelled or forwarded.
#[derive(Clone)]
pub(super) struct Route {
    direct: HttpConnector,
    proxies: Option<Arc<Proxies>>,
}

impl Service<Uri> for Route {
    type Response = Routed;
    type Error = BoxError;
    type Future = BoxFuture<Routed>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let proxy = self
            .proxies
            .as_ref()
            .and_then(|p| Some((p.matcher.intercept(&dst)?, p.connector.clone())));
        let Some((proxy, mut to_proxy)) = proxy else {
            let connecting = self.direct.call(dst);
            return Box::pin(async move {
                Ok(Routed {
                    stream: MaybeHttpsStream::Http(connecting.await?),
                    proxied: false,
                })
            });
        };
        if dst.scheme() == Some(&Scheme::HTTPS) {
            let mut tunnel = Tunnel::new(proxy.uri().clone(), to_proxy);
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            return Box::pin(async move {
                Ok(Routed {
                    stream: tunnel.call(dst).await?,
                    proxied: false,
                })
            });
        }
        let connecting = to_proxy.call(proxy.uri().clone());
        Box::pin(async move {
            Ok(Routed {
                stream: connecting.await?,
                proxied: true,
            })
        })
    }
}

/// A connection to the upstream, or to the proxy that forwards requests to
/// it (`proxied`: hyper then sends absolute URIs).
pub(super) struct Routed {
    stream: Stream,
    proxied: bool,
}

impl Connection for Routed {
    fn connected(&self) -> Connected {
        self.stream.connected().proxy(self.proxied)
    }
}

impl hyper::rt::Read for Routed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Routed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
