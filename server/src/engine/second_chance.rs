//! One second chance per call, used only while nothing has reached the
//! caller: a replacement process if the first died, or a fresh connection
//! if a pooled one broke under the send. The backend diagnoses; this
//! decides. The first look for a death is short (a killed child is reaped
//! within milliseconds, and a broken connection should be retried at once);
//! when the retry fails too, the second look waits longer before the answer
//! says the child died.

use std::time::Duration;

use crate::backend::{Acquired, Diagnosis};
use crate::routing::Route;
use crate::upstream::UpstreamError;

/// How long the first failure looks for the child's exit.
const QUICK_LOOK: Duration = Duration::from_millis(25);
/// How long the failure after the retry looks.
const CONFIRMATION: Duration = Duration::from_millis(500);

/// What to do after a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Acquire again and repeat the call.
    Retry,
    /// Answer that the model's process died.
    ChildDied,
    /// Answer with the upstream's error.
    GiveUp,
    /// Answer that an operator unloaded the model.
    Unloaded,
}

/// The state of one call's second chance.
#[derive(Debug)]
pub(super) struct SecondChance {
    unused: bool,
}

impl Default for SecondChance {
    fn default() -> Self {
        SecondChance { unused: true }
    }
}

impl SecondChance {
    /// Judges a failed call; `emitted` says whether output reached the caller.
    pub(super) async fn judge(
        &mut self,
        route: &Route,
        acquired: &Acquired,
        error: &UpstreamError,
        emitted: bool,
    ) -> Verdict {
        let patience = if self.unused {
            QUICK_LOOK
        } else {
            CONFIRMATION
        };
        let diagnosis = route.backend.diagnose(acquired, error, patience).await;
        decide(&mut self.unused, diagnosis, emitted, route)
    }
}

fn decide(unused: &mut bool, diagnosis: Diagnosis, emitted: bool, route: &Route) -> Verdict {
    if diagnosis == Diagnosis::Unloaded {
        return Verdict::Unloaded;
    }
    if *unused && !emitted && diagnosis != Diagnosis::Final {
        *unused = false;
        tracing::warn!(model = %route.model_id, ?diagnosis, "call failed before any output; retrying once");
        return Verdict::Retry;
    }
    match diagnosis {
        Diagnosis::Died => Verdict::ChildDied,
        Diagnosis::Final | Diagnosis::BrokenConnection | Diagnosis::Hung => Verdict::GiveUp,
        Diagnosis::Unloaded => Verdict::Unloaded,
    }
}
