//! `POST {base}/embeddings`: one attempt (an embedding call is cheap to
//! repeat by the caller and has no stream to resume), its failures mapped
//! like a chat call's and counted by the endpoint's breaker.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::breaker::Verdict;
use super::call::{ChatCall, Target};
use super::client::UpstreamClient;
use super::error::UpstreamError;
use super::hosts::AttemptResult;
use super::response;
use super::types::WireUsage;
use super::uri::embeddings_uri;

/// Request body.
#[derive(Debug, Serialize)]
struct EmbeddingsRequest<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'static str,
}

/// Response body (OpenAI's shape; llama-server and OpenRouter answer it).
#[derive(Debug, Deserialize)]
struct EmbeddingsBody {
    #[serde(default)]
    data: Vec<EmbeddingData>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct EmbeddingData {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

/// The vectors, in input order, and the tokens counted.
#[derive(Debug, Clone, Default)]
pub struct EmbedOutcome {
    /// One per input.
    pub vectors: Vec<Vec<f32>>,
    /// Prompt tokens.
    pub prompt_tokens: u32,
}

impl UpstreamClient {
    /// Embeds `inputs` with `model` at `target`, within the target's
    /// first-token timeout (the whole answer is the first "token").
    pub async fn embed(
        &self,
        target: &Target,
        model: &str,
        inputs: &[String],
    ) -> Result<EmbedOutcome, UpstreamError> {
        let breaker = self.breaker_for(model);
        let permit = match &breaker {
            None => None,
            Some(breaker) => Some(breaker.try_acquire(Instant::now()).map_err(|retry_in| {
                UpstreamError::BreakerOpen {
                    endpoint: target.endpoint.clone(),
                    retry_in,
                }
            })?),
        };
        let result = self.embed_once(target, model, inputs).await;
        if let Some(permit) = permit {
            let verdict = match &result {
                Ok(_) => Verdict::Success,
                Err(e) if e.is_model_failure() => Verdict::Failure,
                Err(_) => Verdict::Neutral,
            };
            permit.record(verdict, Instant::now());
        }
        result
    }

    async fn embed_once(
        &self,
        target: &Target,
        model: &str,
        inputs: &[String],
    ) -> Result<EmbedOutcome, UpstreamError> {
        let body = EmbeddingsRequest {
            model,
            input: inputs,
            encoding_format: "float",
        };
        // A pooled endpoint's host is picked as for a chat call (no prompt
        // to match: load and rendezvous decide).
        let host = match &target.hosts {
            None => None,
            Some(hosts) => {
                let call = ChatCall {
                    model: model.to_string(),
                    ..ChatCall::default()
                };
                Some(hosts.pick(&call, &[])?)
            }
        };
        let chat_url = host.as_ref().map_or(&target.chat_url, |h| h.chat_url());
        let uri = embeddings_uri(chat_url).map_err(|detail| UpstreamError::Protocol {
            endpoint: target.endpoint.clone(),
            detail,
        })?;
        self.counters().requests_sent.inc();
        let timeout = target.timeouts.first_token;
        let answer = async {
            let response = self.http().post(target, &uri, &body).await?;
            if !response.status().is_success() {
                return Err(response::http_error(response, target).await);
            }
            let bytes = response::body_bytes(response)
                .await
                .map_err(|e| response::disconnected(target, e.to_string()))?;
            serde_json::from_slice::<EmbeddingsBody>(&bytes).map_err(|e| UpstreamError::Protocol {
                endpoint: target.endpoint.clone(),
                detail: e.to_string(),
            })
        };
        let body = tokio::time::timeout(timeout, answer)
            .await
            .unwrap_or_else(|_| {
                Err(UpstreamError::FirstTokenTimeout {
                    endpoint: target.endpoint.clone(),
                    after: timeout,
                })
            })
            .and_then(|body| in_order(body, inputs.len(), target));
        if let Some(host) = host {
            // Embeddings have no breaker: whom the host blamed is moot.
            let _blamed = match &body {
                Ok(outcome) => host.finish(AttemptResult::Answered {
                    prompt_tokens: outcome.prompt_tokens,
                    cached_tokens: None,
                    first_token_at: None,
                }),
                Err(e) => host.finish(AttemptResult::Failed(e)),
            };
        }
        body
    }
}

/// The vectors by their `index` (an upstream may answer out of order),
/// exactly one per input.
fn in_order(
    body: EmbeddingsBody,
    expected: usize,
    target: &Target,
) -> Result<EmbedOutcome, UpstreamError> {
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, item) in body.data.into_iter().enumerate() {
        let index = item.index.unwrap_or(position);
        if let Some(slot) = vectors.get_mut(index) {
            *slot = Some(item.embedding);
        }
    }
    let vectors = vectors
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| UpstreamError::Protocol {
            endpoint: target.endpoint.clone(),
            detail: format!(
                "the answer does not hold one vector for each of the {expected} inputs"
            ),
        })?;
    Ok(EmbedOutcome {
        vectors,
        prompt_tokens: body.usage.map_or(0, |u| u.prompt_tokens),
    })
}
