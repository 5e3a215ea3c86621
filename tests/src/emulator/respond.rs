//! Turning a validated request into its outcome: a fault, a hang, or a
//! generated answer (streamed or not), with slots and delays applied.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, TryAcquireError};

use super::behaviour::Behaviour;
use super::conn::ConnHandle;
use super::errors::{error_response, message_for, with_retry_after};
use super::generate::{self, Meta, Plan};
use super::handlers::Prepared;
use super::sse::{self, StreamSpec};
use super::state::AppState;
use super::stats::{QueuedGuard, RequestGuard};

/// What the emulator decided to do with a valid request.
enum Outcome {
    Reset,
    Fail {
        status: u16,
        retry_after: Option<u64>,
    },
    Silent,
    Generate,
}

/// Fault precedence: reset, status, flaky, rate_limit, silent, then
/// generation (where silent_after / midstream_error apply). `flaky=N` and
/// `rate_limit=M` share one counter: requests 1..N get 503, the next M 429.
fn decide(st: &AppState, b: &Behaviour, key: &str) -> Outcome {
    if b.reset {
        return Outcome::Reset;
    }
    if let Some(status) = b.status {
        let retry_after = b.retry_after.or((status == 429).then_some(1));
        return Outcome::Fail {
            status,
            retry_after,
        };
    }
    if b.flaky.is_some() || b.rate_limit.is_some() {
        let seen = st.next_attempt(key);
        let flaky = b.flaky.unwrap_or(0);
        if seen < flaky {
            return Outcome::Fail {
                status: 503,
                retry_after: b.retry_after,
            };
        }
        if seen < flaky + b.rate_limit.unwrap_or(0) {
            return Outcome::Fail {
                status: 429,
                retry_after: Some(b.retry_after.unwrap_or(1)),
            };
        }
    }
    if b.silent {
        return Outcome::Silent;
    }
    Outcome::Generate
}

async fn pause(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

fn times(gap: Duration, n: u64) -> Duration {
    gap.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX))
}

pub(crate) async fn respond(
    st: AppState,
    conn: ConnHandle,
    p: Prepared,
    mut guard: RequestGuard,
) -> Response {
    let b = &p.behaviour;
    let delay = b.delay.unwrap_or(st.config.delay);
    match decide(&st, b, &p.key) {
        Outcome::Reset => {
            pause(delay).await;
            guard.finish();
            conn.reset();
            // Never reaches the client: the connection's IO now fails, so
            // hyper drops the connection as soon as it polls it.
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "connection reset")
        }
        Outcome::Fail {
            status,
            retry_after,
        } => {
            pause(delay).await;
            guard.finish();
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let resp = error_response(code, message_for(status));
            match retry_after {
                Some(secs) => with_retry_after(resp, secs),
                None => resp,
            }
        }
        Outcome::Silent => {
            let _permit = acquire_slot(&st).await;
            pause(delay).await;
            // Hang until hyper drops us (client gone or shutdown).
            std::future::pending::<Response>().await
        }
        Outcome::Generate => {
            let permit = match acquire_slot(&st).await {
                Ok(p) => p,
                Err(resp) => {
                    guard.finish();
                    return resp;
                }
            };
            pause(delay).await;
            generate(&st, p, guard, permit).await
        }
    }
}

/// Waits for a generation slot; `queued` counts only requests that wait.
async fn acquire_slot(st: &AppState) -> Result<Option<OwnedSemaphorePermit>, Response> {
    let Some(sem) = &st.slots else {
        return Ok(None);
    };
    let closed = || error_response(StatusCode::SERVICE_UNAVAILABLE, "emulator is shutting down");
    match sem.clone().try_acquire_owned() {
        Ok(p) => return Ok(Some(p)),
        Err(TryAcquireError::Closed) => return Err(closed()),
        Err(TryAcquireError::NoPermits) => {}
    }
    let _queued = QueuedGuard::new(st.shared.clone());
    sem.clone()
        .acquire_owned()
        .await
        .map(Some)
        .map_err(|_| closed())
}

async fn generate(
    st: &AppState,
    p: Prepared,
    mut guard: RequestGuard,
    permit: Option<OwnedSemaphorePermit>,
) -> Response {
    let b = p.behaviour;
    let mut plan = Plan::new(
        b.tokens,
        p.req.max_tokens,
        st.config.default_tokens,
        &p.req.stop,
    );
    // JSON output and tool-call arguments are the same tokens as a JSON object.
    if p.req.json || p.req.tool.is_some() {
        plan.wrap_json();
    }
    if p.req.tool.is_some() {
        plan.finish_reason = "tool_calls";
    }
    let tool = p.req.tool.clone();
    let gap = b.gap.unwrap_or(st.config.token_gap);
    let meta = Meta::new(&p.req.model);
    if p.req.stream {
        let id = meta.id.clone();
        let spec = StreamSpec {
            meta,
            plan,
            gap,
            include_usage: p.req.include_usage,
            prompt_tokens: p.req.prompt_tokens,
            silent_after: b.silent_after,
            midstream_error: b.midstream_error,
            tool,
            reasoning: b.reasoning,
            logprobs: p.req.logprobs,
        };
        let body = Body::from_stream(sse::body(spec, guard, permit));
        return (
            [
                (header::CONTENT_TYPE, "text/event-stream".to_owned()),
                (header::CACHE_CONTROL, "no-cache".to_owned()),
                (header::HeaderName::from_static("x-generation-id"), id),
            ],
            body,
        )
            .into_response();
    }

    // Non-streaming: the whole answer takes `tokens * gap`; a fault fires
    // after the tokens "generated" before it (a tie hangs, as in streaming).
    let _permit = permit;
    let n = plan.pieces.len() as u64;
    let hang_at = b.silent_after.map(|s| s.min(n));
    let error_at = b.midstream_error.map(|e| e.min(n));
    let prompt = p.req.prompt_tokens;
    let body = match (hang_at, error_at) {
        (Some(h), e) if e.is_none_or(|e| h <= e) => {
            pause(times(gap, h)).await;
            return std::future::pending::<Response>().await;
        }
        (_, Some(e)) => {
            pause(times(gap, e)).await;
            let k = usize::try_from(e).unwrap_or(usize::MAX);
            let content: String = plan.pieces.iter().take(k).map(String::as_str).collect();
            let message = generate::message(&content, tool.as_deref(), b.reasoning);
            let mut v =
                generate::completion_body(&meta, message, "error", generate::usage(prompt, e));
            if let Some(obj) = v.as_object_mut() {
                obj.insert("error".to_owned(), generate::midstream_error());
            }
            v
        }
        _ => {
            pause(times(gap, n)).await;
            let mut body = generate::completion_body(
                &meta,
                generate::message(&plan.text(), tool.as_deref(), b.reasoning),
                plan.finish_reason,
                generate::usage(prompt, n),
            );
            if let Some(top) = p.req.logprobs {
                body["choices"][0]["logprobs"] = generate::logprobs(&plan.pieces, top);
            }
            body
        }
    };
    guard.finish();
    (
        [(header::HeaderName::from_static("x-generation-id"), meta.id)],
        Json(body),
    )
        .into_response()
}
