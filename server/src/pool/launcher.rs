//! Bringing one process up under a granted slot: the seam between the pool's
//! bookkeeping and the operating system. The real launcher runs llama-server
//! (binary lookup, a free port retried if a stranger takes it, a readiness
//! wait that fails the moment the child exits); the model check swaps in a
//! simulated one with scripted timings and failures.

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::OnceCell;

use super::catalogue::LocalModelSpec;
use super::process::{ChildProcess, SpawnParams};
use super::slots::SlotPermit;
use super::{PoolError, PoolInner, binary, port};

/// Attempts when the chosen port turns out to be taken.
const PORT_ATTEMPTS: u32 = 3;

/// Starts a model's process under `slot` and returns it once it is ready.
/// On failure no process started by the call is left running; one that is
/// still exiting keeps the slot until it has been reaped.
pub(crate) trait Launcher: Send + Sync + 'static {
    /// Starts `spec` and waits until it serves.
    fn launch<'a>(
        &'a self,
        pool: &'a PoolInner,
        spec: &'a LocalModelSpec,
        slot: &'a Arc<SlotPermit>,
    ) -> BoxFuture<'a, Result<Arc<ChildProcess>, PoolError>>;
}

/// Runs the configured (or discovered) llama-server.
#[derive(Default)]
pub(crate) struct LlamaServer {
    binary: OnceCell<PathBuf>,
}

impl Launcher for LlamaServer {
    fn launch<'a>(
        &'a self,
        pool: &'a PoolInner,
        spec: &'a LocalModelSpec,
        slot: &'a Arc<SlotPermit>,
    ) -> BoxFuture<'a, Result<Arc<ChildProcess>, PoolError>> {
        Box::pin(self.start(pool, spec, slot))
    }
}

impl LlamaServer {
    async fn start(
        &self,
        pool: &PoolInner,
        spec: &LocalModelSpec,
        slot: &Arc<SlotPermit>,
    ) -> Result<Arc<ChildProcess>, PoolError> {
        let binary = self
            .binary
            .get_or_try_init(|| binary::locate(pool.config.llama_server.as_deref()))
            .await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = port::pick_free_port().map_err(|e| PoolError::SpawnFailed {
                model: spec.id.clone(),
                detail: format!("no free port: {e}"),
            })?;
            let child = ChildProcess::spawn(
                SpawnParams {
                    binary,
                    spec,
                    port,
                    stop_grace: pool.config.stop_grace,
                    slot,
                },
                &pool.tasks,
            )?;
            let ready = tokio::select! {
                r = child.wait_ready(&pool.http, pool.config.startup_timeout) => r,
                _ = pool.shutdown.cancelled() => Err(PoolError::ShuttingDown),
            };
            match ready {
                Ok(()) => return Ok(child),
                Err(PoolError::ExitedDuringStartup { stderr_tail, .. })
                    if attempt < PORT_ATTEMPTS && stderr_tail.contains("bind") =>
                {
                    // It has exited (that is how the error was seen), so the
                    // next attempt never overlaps it.
                    tracing::warn!(model = %spec.id, port, "port was taken before llama-server could bind it; retrying on another");
                }
                Err(e) => {
                    child.kill();
                    return Err(e);
                }
            }
        }
    }
}

/// The launcher the pool uses unless a test provides another.
pub(crate) fn default_launcher() -> Arc<dyn Launcher> {
    Arc::new(LlamaServer::default())
}
