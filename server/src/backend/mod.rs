//! The backend seam: everything the engine needs from whoever answers a
//! model, behind one trait. A backend hands out a ready upstream target
//! (waiting for a local model to start if need be) and the pooled client to
//! call it with, says which upstream model name to send, what kind it is,
//! whether it can serve without a start, and whether a failed call deserves
//! one more try. The local pool (one [`LocalModel`] per catalogued model)
//! and remote endpoints ([`RemoteEndpoint`]) implement it; adding a backend
//! kind means one more implementor and its entries in the routing table.

mod hosts;
mod local;
mod remote;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

pub use hosts::{HostGauges, HostPool};
pub use local::LocalModel;
pub use remote::{EndpointError, RemoteEndpoint};

use crate::domain::{BackendKind, Job, LoadProgress, ModelId};
use crate::error::RouterError;
use crate::executor::RouteLimiter;
use crate::pool::{Lease, ModelStatus};
use crate::upstream::{RetryPolicy, Target, UpstreamClient, UpstreamError};

/// Whoever answers a model's requests.
pub trait Backend: Send + Sync {
    /// Which kind answers.
    fn kind(&self) -> BackendKind;

    /// Name for spans, messages and stats: "local:tiny", "openrouter".
    fn name(&self) -> &str;

    /// The admission limiter every request to this backend shares.
    fn limiter(&self) -> &Arc<RouteLimiter>;

    /// The model name to send upstream for `id`.
    fn upstream_model<'a>(&'a self, id: &'a ModelId) -> &'a str;

    /// Whether it serves `upstream_model` (an endpoint may list its models).
    fn serves(&self, upstream_model: &str) -> bool {
        let _ = upstream_model;
        true
    }

    /// The first request feature this backend cannot do (`tools`,
    /// `response_format`...), if any; the request is then refused naming it.
    fn unsupported(&self, job: &Job) -> Option<&'static str> {
        let _ = job;
        None
    }

    /// Whether it answers embedding calls.
    fn embeds(&self) -> bool {
        true
    }

    /// A ready target for one request.
    fn acquire(&self) -> BoxFuture<'_, Result<Acquired, RouterError>>;

    /// The pooled client the target is called with.
    fn client(&self) -> &UpstreamClient;

    /// Whether it can serve now without starting anything.
    fn is_ready(&self) -> bool;

    /// When a call would wait for this backend to start (a cold local
    /// model), what it waits for; told to streaming callers first.
    fn load_progress(&self) -> Option<LoadProgress> {
        None
    }

    /// After a call failed with nothing sent to the caller: whether one more
    /// try on a fresh target can succeed. Looks for at most `patience`.
    fn diagnose<'a>(
        &'a self,
        acquired: &'a Acquired,
        error: &'a UpstreamError,
        patience: Duration,
    ) -> BoxFuture<'a, Diagnosis> {
        let _ = (acquired, error, patience);
        Box::pin(async { Diagnosis::Final })
    }

    /// What `ListModels` shows for it.
    fn listings(&self) -> Vec<Listing>;
}

/// A ready upstream for one request.
pub struct Acquired {
    /// Where to send the request.
    pub target: Target,
    /// How many attempts the upstream client may make.
    pub retry: RetryPolicy,
    /// Whether getting it waited for a model to start.
    pub cold: bool,
    /// Held for local models: keeps the process from being evicted.
    pub lease: Option<Lease>,
}

/// What a failure before any output says about trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnosis {
    /// Nothing to gain from another try.
    Final,
    /// The process serving it died; the next acquire gets a new one.
    Died,
    /// The connection broke but the server is alive: a new connection is safe.
    BrokenConnection,
    /// An operator unloaded the model with `force`: the call must not be
    /// retried (that would start the model again).
    Unloaded,
    /// The process hung and was killed: a retry gets a new one, and the
    /// hang's own error (which timeout) is the answer when none is made.
    Hung,
}

/// One line of `ListModels`.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Which kind serves it.
    pub kind: BackendKind,
    /// Its state.
    pub status: ModelStatus,
}
