//! One embedding call: the model's route (no fallbacks: vectors from two
//! models do not mix), the same admission and backend acquire as a
//! generation, the upstream call, and the vectors with their timing, all
//! under the caller's deadline.

use std::time::Instant;

use tracing::Instrument;

use super::Engine;
use crate::domain::{EmbedJob, Embeddings, RequestTiming, ValidationError};
use crate::error::RouterError;

impl Engine {
    /// Embeds a job's inputs. `arrived` starts the timing; `deadline` is
    /// the caller's.
    pub async fn embed(
        &self,
        job: &EmbedJob,
        arrived: Instant,
        deadline: Option<Instant>,
    ) -> Result<Embeddings, RouterError> {
        let work = self.embed_once(job, arrived, deadline);
        super::within_deadline(deadline, "embedding", work).await
    }

    async fn embed_once(
        &self,
        job: &EmbedJob,
        arrived: Instant,
        deadline: Option<Instant>,
    ) -> Result<Embeddings, RouterError> {
        let route = self.routes().resolve(&job.model)?;
        let backend = &route.backend;
        if !backend.embeds() {
            return Err(ValidationError::Unsupported {
                feature: "embeddings",
                backend: backend.name().to_string(),
            }
            .into());
        }
        let limiter = backend.limiter();
        let admission = self
            .executor
            .admit(limiter, deadline, job.priority)
            .instrument(tracing::info_span!("queue", otel.name = "queue", route = %limiter.name()))
            .await?;
        let acquire_started = Instant::now();
        let acquired = backend
            .acquire()
            .instrument(tracing::info_span!("acquire", otel.name = "model_acquire"))
            .await?;
        let model_acquire = acquire_started.elapsed();
        let outcome = backend
            .client()
            .embed(&acquired.target, route.upstream_model(), &job.inputs)
            .instrument(tracing::info_span!(
                "upstream",
                otel.name = "upstream_call",
                otel.kind = "client",
                server.endpoint = %acquired.target.endpoint
            ))
            .await?;
        Ok(Embeddings {
            vectors: outcome.vectors,
            model: route.model_id.to_string(),
            backend: backend.kind(),
            prompt_tokens: outcome.prompt_tokens,
            timing: RequestTiming {
                queue_wait: admission.queue_wait,
                model_acquire,
                cold_start: acquired.cold,
                time_to_first_token: None,
                total: arrived.elapsed(),
                attempts: 1,
            },
        })
    }
}
