//! A local model: a lease on a warm llama-server child from the pool, called
//! through the one loopback client shared by all children. A child that
//! dies or hangs under a request is diagnosed here, so the engine can retry
//! on its replacement without knowing what a child is.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use http::HeaderMap;

use super::{Acquired, Backend, Diagnosis, Listing};
use crate::config::{EndpointKind, LocalConfig};
use crate::domain::{BackendKind, Job, LoadProgress, ModelId};
use crate::error::RouterError;
use crate::executor::RouteLimiter;
use crate::pool::{ModelEntry, Pool};
use crate::upstream::{AttemptTimeouts, RetryPolicy, Target, UpstreamClient, UpstreamError};

/// How long to wait for a child killed as hung to be reaped (SIGKILL: it
/// cannot ignore it; this only bounds a slow reap on a loaded machine).
const HUNG_REAP: Duration = Duration::from_secs(2);
/// The longest unary answer asked of a child whole (one JSON body on a
/// kept-alive connection, no per-token events); longer ones are streamed,
/// so a caller that gives up stops the generation. Short answers are where
/// the whole form's saving counts, and their waste when abandoned is small.
const WHOLE_ANSWER_MAX_TOKENS: u32 = 64;
/// How long a child's main loop may take to answer `/slots` before a timed
/// out call counts as proof that it hangs: it answers between two decode
/// batches, which take well under this even for large prompts on a CPU.
const LOOP_PATIENCE: Duration = Duration::from_secs(5);

/// One catalogued local model.
pub struct LocalModel {
    name: String,
    entry: Arc<ModelEntry>,
    pool: Pool,
    limiter: Arc<RouteLimiter>,
    client: UpstreamClient,
    timeouts: AttemptTimeouts,
}

impl LocalModel {
    /// The backend for `entry`, admitting as many requests at once as the
    /// child has slots, plus `queue_ahead` to wait in its own queue.
    pub fn new(
        entry: Arc<ModelEntry>,
        pool: Pool,
        client: UpstreamClient,
        config: &LocalConfig,
        max_queue: usize,
    ) -> LocalModel {
        let settings = &entry.spec.settings;
        let limiter = Arc::new(RouteLimiter::new(
            &entry.spec.id,
            settings.slots as usize + settings.queue_ahead as usize,
            max_queue,
        ));
        LocalModel {
            name: format!("local:{}", entry.spec.id),
            entry,
            pool,
            limiter,
            client,
            timeouts: AttemptTimeouts {
                first_token: config.first_token_timeout,
                token_gap: config.token_gap_timeout,
            },
        }
    }

    /// The upstream target for a leased child. Streamed to streaming
    /// callers (time to first token, a hung child seen by its gaps); a whole
    /// JSON answer for short unary calls, which keeps the connection alive
    /// and spares the child formatting an event per token (its reported
    /// timings give the time to first token).
    fn target(&self, chat_url: &http::Uri) -> Target {
        Target {
            endpoint: self.name.clone(),
            chat_url: chat_url.clone(),
            api_key: None,
            kind: EndpointKind::OpenAi,
            stream: true,
            stream_unary: false,
            whole_max_tokens: Some(WHOLE_ANSWER_MAX_TOKENS),
            timeouts: self.timeouts,
            headers: HeaderMap::new(),
            hosts: None,
        }
    }
}

impl Backend for LocalModel {
    fn kind(&self) -> BackendKind {
        BackendKind::Local
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn limiter(&self) -> &Arc<RouteLimiter> {
        &self.limiter
    }

    fn upstream_model<'a>(&'a self, id: &'a ModelId) -> &'a str {
        id.as_str()
    }

    /// An embedding model does not generate; llama-server formats tools
    /// with its jinja chat templates, so a model started with `--no-jinja`
    /// cannot take them.
    fn unsupported(&self, job: &Job) -> Option<&'static str> {
        let settings = &self.entry.spec.settings;
        if settings.embeddings {
            return Some("generation (it is an embedding model)");
        }
        let no_jinja = settings.extra_args.iter().any(|a| a == "--no-jinja");
        (no_jinja && !job.params.tools.is_empty()).then_some("tools")
    }

    /// Only models configured with `embeddings = true` (started with
    /// llama-server's `--embeddings`).
    fn embeds(&self) -> bool {
        self.entry.spec.settings.embeddings
    }

    fn acquire(&self) -> BoxFuture<'_, Result<Acquired, RouterError>> {
        Box::pin(async move {
            let lease = self.pool.acquire(&self.entry).await?;
            Ok(Acquired {
                target: self.target(lease.chat_uri()),
                retry: RetryPolicy::none(),
                cold: lease.cold,
                lease: Some(lease),
            })
        })
    }

    fn client(&self) -> &UpstreamClient {
        &self.client
    }

    fn is_ready(&self) -> bool {
        self.entry.warm_child().is_some()
    }

    fn load_progress(&self) -> Option<LoadProgress> {
        (!self.is_ready()).then(|| LoadProgress {
            model: self.entry.spec.id.clone(),
            loads_queued: self.pool.loads_queued(),
        })
    }

    /// A hung child (first-token or gap timeout) is killed so the next
    /// request gets a fresh one, but not retried: it may have been slow
    /// rather than stuck. A broken connection is a death if the child's
    /// exit is seen within `patience`, else a closed connection.
    fn diagnose<'a>(
        &'a self,
        acquired: &'a Acquired,
        error: &'a UpstreamError,
        patience: Duration,
    ) -> BoxFuture<'a, Diagnosis> {
        Box::pin(async move {
            let Some(lease) = &acquired.lease else {
                return Diagnosis::Final;
            };
            if lease.unloaded() {
                return Diagnosis::Unloaded;
            }
            match error {
                // Hung mid-call: killed here, so the next acquire gets a new
                // process; a call that had sent nothing yet is retried on it.
                UpstreamError::FirstTokenTimeout { .. } | UpstreamError::TokenGapTimeout { .. } => {
                    // A child busy with long generations (or this call
                    // waiting in its queue) is slow, not hung: its main
                    // loop still answers `/slots`. Only a silent loop is
                    // killed.
                    if lease.main_loop_answers(LOOP_PATIENCE).await {
                        tracing::warn!(model = %self.entry.spec.id, "a call timed out on a child that is still working; the child is kept");
                        return Diagnosis::Final;
                    }
                    lease.report_hung();
                    if lease.child_exited_within(HUNG_REAP).await {
                        Diagnosis::Hung
                    } else {
                        Diagnosis::Final
                    }
                }
                UpstreamError::Connect { .. } | UpstreamError::Disconnected { .. } => {
                    if lease.child_exited_within(patience).await {
                        Diagnosis::Died
                    } else {
                        Diagnosis::BrokenConnection
                    }
                }
                _ => Diagnosis::Final,
            }
        })
    }

    fn listings(&self) -> Vec<Listing> {
        vec![Listing {
            kind: BackendKind::Local,
            status: self.pool.status(&self.entry),
        }]
    }
}
