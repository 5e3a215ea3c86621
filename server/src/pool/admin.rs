//! Operator actions on the pool, behind the Admin API: start a model now
//! (optionally pinned, so it is never evicted), stop one (letting its calls
//! finish, or failing them at once), pin or unpin. Each is reported on the
//! pool's event channel like any other state change.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

use super::entry::{ModelEntry, Phase};
use super::{Pool, PoolError, PoolEvent, capacity};
use crate::pool::ModelStatus;

/// What a load did.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// The model afterwards.
    pub status: ModelStatus,
    /// Whether this call waited for a start (false: it was already warm).
    pub started: bool,
    /// How long the call waited.
    pub waited: Duration,
}

/// What an unload did.
#[derive(Debug, Clone, Copy)]
pub struct UnloadReport {
    /// Whether a process was stopped.
    pub stopped: bool,
    /// Leases held when the unload began.
    pub in_flight: u32,
}

impl Pool {
    fn admin_entry(&self, id: &str) -> Result<Arc<ModelEntry>, PoolError> {
        self.model(id).ok_or_else(|| PoolError::UnknownModel {
            model: id.to_string(),
        })
    }

    /// Pins or unpins `id`. A pinned model is never evicted, and is started
    /// again when it dies, like a preloaded one.
    pub fn set_pinned(&self, id: &str, pinned: bool) -> Result<ModelStatus, PoolError> {
        let entry = self.admin_entry(id)?;
        self.pin_entry(&entry, pinned);
        Ok(self.status(&entry))
    }

    fn pin_entry(&self, entry: &ModelEntry, pinned: bool) {
        if entry.pinned.swap(pinned, Ordering::AcqRel) != pinned {
            self.inner.events.send(PoolEvent::Pinned {
                model: entry.spec.id.clone(),
                pinned,
            });
            if !pinned {
                // It may be the room a queued loader waits for.
                capacity::make_room(&self.inner);
            }
        }
    }

    /// Starts `id` unless it is warm, and waits until it is ready. With
    /// `pin`, the pin is set first, so the model cannot be evicted between
    /// becoming ready and this call returning.
    pub async fn load(&self, id: &str, pin: bool) -> Result<LoadReport, PoolError> {
        let entry = self.admin_entry(id)?;
        if pin {
            self.pin_entry(&entry, true);
        }
        let began = Instant::now();
        let lease = self.acquire(&entry).await?;
        let started = lease.cold;
        drop(lease);
        Ok(LoadReport {
            status: self.status(&entry),
            started,
            waited: began.elapsed(),
        })
    }

    /// Stops `id` and unpins it. Without `force` it waits until no call
    /// holds the model (calls that arrive meanwhile are served and extend
    /// the wait; the caller's deadline bounds it). With `force` the process
    /// is stopped at once and its calls fail with [`PoolError::Unloaded`]
    /// instead of being retried on a new process.
    pub async fn unload_model(&self, id: &str, force: bool) -> Result<UnloadReport, PoolError> {
        let entry = self.admin_entry(id)?;
        self.pin_entry(&entry, false);
        let in_flight = entry.in_flight.load(Ordering::Acquire);
        let stopped = if force {
            self.unload_now(&entry).await
        } else {
            self.unload_when_idle(&entry).await
        };
        Ok(UnloadReport { stopped, in_flight })
    }

    pub(super) async fn unload_now(&self, entry: &Arc<ModelEntry>) -> bool {
        let child = {
            let mut phase = entry.phase();
            let Phase::Warm(child) = &*phase else {
                return false;
            };
            let child = child.clone();
            // Marked before the process is told to stop, so a call that sees
            // the connection drop also sees why.
            child.unloaded.store(true, Ordering::Release);
            *phase = Phase::Cold;
            child
        };
        capacity::stop_taken(&self.inner, entry, &child, "unload");
        child.exited().await;
        true
    }

    pub(super) async fn unload_when_idle(&self, entry: &Arc<ModelEntry>) -> bool {
        loop {
            let released = entry.released.notified();
            tokio::pin!(released);
            // Registered before the check, so a release in between is seen.
            released.as_mut().enable();
            if let Some(child) = capacity::evict_if_idle_for(&self.inner, entry, 0, "unload") {
                child.exited().await;
                return true;
            }
            let loading = match &*entry.phase() {
                Phase::Warm(_) => None,
                Phase::Loading(rx) => Some(rx.clone()),
                Phase::Cold | Phase::Failed { .. } => return false,
            };
            match loading {
                // Let the start finish, then stop what it started.
                Some(mut rx) => {
                    let _ = rx.wait_for(Option::is_some).await;
                }
                None => released.await,
            }
        }
    }
}
