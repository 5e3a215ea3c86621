//! The backend seam: a route's backend turns into an upstream [`Target`]
//! (base URL, key, dialect, timeouts) plus whatever must be held while the
//! request runs (a pool lease for local models). The API layer never sees
//! which kind it was; a new backend kind plugs in here.

mod local;
mod remote;

pub use local::local_target;
pub use remote::RemoteEndpoint;

use crate::pool::Lease;
use crate::upstream::{RetryPolicy, Target};

/// A ready upstream for one request.
pub struct Acquired {
    /// Where to send the request.
    pub target: Target,
    /// How many attempts the upstream client may make.
    pub retry: RetryPolicy,
    /// Held for local models: keeps the process from being evicted.
    pub lease: Option<Lease>,
}
