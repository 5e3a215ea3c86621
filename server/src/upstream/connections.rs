//! Counts TCP connections a reqwest client opens, through reqwest's
//! connector layer, so `Stats` can show connection reuse (connections opened
//! vs requests sent) — the seed's third fault made visible.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

/// A tower layer counting every connect attempt into a shared counter.
#[derive(Clone)]
pub struct CountConnections(pub Arc<AtomicU64>);

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
    counter: Arc<AtomicU64>,
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
        self.counter.fetch_add(1, Ordering::Relaxed);
        self.inner.call(req)
    }
}
