//! The gRPC door's side of access control, kept thin: it reads the raw
//! `authorization` / `x-api-key` metadata and hands the bytes to
//! [`crate::access`], which judges them the same way for every door. Also
//! keeps a NOT_FOUND from listing models the caller's key may not see.

use std::sync::Arc;

use tonic::metadata::MetadataMap;

use crate::access::{Credentials, Metered, Principal, estimate_prompt_tokens};
use crate::domain::{EmbedJob, Embeddings, Job};
use crate::engine::Engine;
use crate::error::RouterError;

/// The caller behind the request's metadata.
pub fn principal(engine: &Engine, metadata: &MetadataMap) -> Result<Arc<Principal>, RouterError> {
    let get = |key: &str| metadata.get(key).map(|v| v.as_bytes());
    let credentials = Credentials {
        authorization: get("authorization"),
        api_key: get("x-api-key"),
    };
    Ok(engine.access().authenticate(credentials)?)
}

/// Checks that the key may use the job's model and fallbacks, then admits
/// the call against its limits and budget.
pub fn admit(
    engine: &Engine,
    principal: &Arc<Principal>,
    job: &Job,
) -> Result<Metered, RouterError> {
    let access = engine.access();
    let models = std::iter::once(&job.model).chain(&job.fallbacks);
    access.authorize(principal, models.map(|m| m.as_str()))?;
    let estimate = estimate_prompt_tokens(&job.messages);
    Ok(access.admit(principal, job.model.as_str(), estimate)?)
}

/// [`admit`] for an embedding call: its model, then its limits and budget,
/// with the inputs' estimated tokens charged up front.
pub fn admit_embed(
    engine: &Engine,
    principal: &Arc<Principal>,
    job: &EmbedJob,
) -> Result<Metered, RouterError> {
    let access = engine.access();
    access.authorize(principal, std::iter::once(job.model.as_str()))?;
    let bytes: usize = job.inputs.iter().map(String::len).sum();
    let estimate = u32::try_from(bytes.div_ceil(4)).unwrap_or(u32::MAX);
    Ok(access.admit(principal, job.model.as_str(), estimate)?)
}

/// Records how a metered embedding call ended (no completion tokens; the
/// router knows no embedding prices, so no cost).
pub fn settle_embed(metered: Metered, result: &Result<Embeddings, RouterError>) {
    match result {
        Ok(e) => metered.finish_ok(backend_label(e.backend), e.prompt_tokens, 0, 0.0),
        Err(e) => metered.finish_failed(e.label()),
    }
}

/// Records how a metered call ended.
pub fn settle(metered: Metered, result: &Result<crate::domain::Completion, RouterError>) {
    match result {
        Ok(c) => metered.finish_ok(
            backend_label(c.backend),
            c.prompt_tokens,
            c.completion_tokens,
            c.cost_usd.unwrap_or(0.0),
        ),
        Err(e) => metered.finish_failed(e.label()),
    }
}

fn backend_label(kind: crate::domain::BackendKind) -> &'static str {
    match kind {
        crate::domain::BackendKind::Local => "local",
        crate::domain::BackendKind::OpenAi => "openai",
        crate::domain::BackendKind::OpenRouter => "openrouter",
    }
}

/// A NOT_FOUND for a key limited to some models lists only those models.
pub fn scrub(engine: &Engine, principal: &Principal, error: RouterError) -> RouterError {
    match error {
        RouterError::ModelNotFound { model, .. } if !principal.sees_everything() => {
            let known: Vec<String> = engine
                .routes()
                .listings()
                .into_iter()
                .map(|l| l.status.id)
                .filter(|id| principal.may_use(id))
                .collect();
            RouterError::ModelNotFound {
                model,
                known: known.join(", "),
            }
        }
        other => other,
    }
}
