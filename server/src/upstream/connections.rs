//! Counts TCP connections a reqwest client opens, through reqwest's
//! connector layer, so `Stats` can show connection reuse (connections opened
//! vs requests sent) — the seed's third fault made visible.

use std::task::{Context, Poll};

use prometheus_client::metrics::counter::Counter;

/// A tower layer counting every connect attempt into a metrics counter.
#[derive(Clone)]
pub struct CountConnections(pub Counter);

impl<S> tower::Layer<S> for CountConnections {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Counted {
            inner,
            counter: self.0.clone(),
        }
    }
}

/// The connector wrapped by [`CountConnections`].
#[derive(Clone)]
pub struct Counted<S> {
    inner: S,
    counter: Counter,
}

impl<S, R> tower::Service<R> for Counted<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.counter.inc();
        self.inner.call(req)
    }
}
