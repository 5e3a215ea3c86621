//! The streaming (SSE) response body.
//!
//! The body is a state machine driven by hyper polling it, not a spawned
//! task feeding a channel: when the client goes away hyper drops the body,
//! which drops the [`RequestGuard`] (→ `cancelled`, `in_flight`) and the slot
//! permit *immediately*, even while the stream is hanging (`silent_after`).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use serde_json::json;
use tokio::sync::OwnedSemaphorePermit;

use super::generate::{self, Meta, Plan};
use super::stats::RequestGuard;

/// Everything the stream needs to know up front.
#[derive(Debug)]
pub(crate) struct StreamSpec {
    pub meta: Meta,
    pub plan: Plan,
    pub gap: Duration,
    pub include_usage: bool,
    pub prompt_tokens: u64,
    pub silent_after: Option<u64>,
    pub midstream_error: Option<u64>,
    /// Stream the tokens as the arguments of a call of this function.
    pub tool: Option<String>,
    /// Stream [`generate::REASONING`] first, in OpenRouter's `reasoning` field.
    pub reasoning: bool,
    /// Each token chunk carries its log-probability, with this many alternatives.
    pub logprobs: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Comment,
    Reasoning(usize),
    Token(usize),
    Usage,
    Done,
    End,
}

struct State {
    spec: StreamSpec,
    step: Step,
    guard: RequestGuard,
    /// Held until the stream ends or is dropped: a streaming request occupies
    /// its slot for the whole generation.
    _permit: Option<OwnedSemaphorePermit>,
}

/// Builds the SSE byte stream for one request.
pub(crate) fn body(
    spec: StreamSpec,
    guard: RequestGuard,
    permit: Option<OwnedSemaphorePermit>,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let state = State {
        spec,
        step: Step::Comment,
        guard,
        _permit: permit,
    };
    futures::stream::unfold(state, |mut st| async move {
        let event = st.next_event().await?;
        Some((Ok(Bytes::from(event)), st))
    })
}

fn data(v: &serde_json::Value) -> String {
    format!("data: {v}\n\n")
}

impl State {
    async fn next_event(&mut self) -> Option<String> {
        match self.step {
            Step::Comment => {
                self.step = if self.spec.reasoning {
                    Step::Reasoning(0)
                } else {
                    Step::Token(0)
                };
                // OpenRouter sends this while it waits for the provider;
                // SSE clients must ignore comment lines.
                Some(": OPENROUTER PROCESSING\n\n".to_owned())
            }
            Step::Reasoning(k) => {
                self.step = if k + 1 < generate::REASONING.len() {
                    Step::Reasoning(k + 1)
                } else {
                    Step::Token(0)
                };
                let choices = json!([{
                    "index": 0,
                    "delta": {"role": "assistant", "content": "", "reasoning": generate::REASONING[k]},
                    "finish_reason": null,
                }]);
                Some(data(&generate::chunk(&self.spec.meta, choices, None)))
            }
            Step::Token(i) => {
                let total = self.spec.plan.pieces.len();
                // Past the last token, any pending fault fires now.
                let at_end = i >= total;
                let sent = i as u64;
                if self.spec.silent_after == Some(sent)
                    || (at_end && self.spec.silent_after.is_some())
                {
                    std::future::pending::<()>().await;
                }
                if self.spec.midstream_error == Some(sent)
                    || (at_end && self.spec.midstream_error.is_some())
                {
                    self.step = Step::End;
                    self.guard.finish();
                    let choices =
                        json!([{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]);
                    let chunk = generate::chunk(
                        &self.spec.meta,
                        choices,
                        Some(("error", generate::midstream_error())),
                    );
                    return Some(data(&chunk));
                }
                if at_end {
                    self.step = if self.spec.include_usage {
                        Step::Usage
                    } else {
                        Step::Done
                    };
                    let reason = self.spec.plan.finish_reason;
                    let choices = json!([{
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "finish_reason": reason,
                        "native_finish_reason": reason,
                    }]);
                    return Some(data(&generate::chunk(&self.spec.meta, choices, None)));
                }
                if !self.spec.gap.is_zero() {
                    tokio::time::sleep(self.spec.gap).await;
                }
                self.step = Step::Token(i + 1);
                let piece = &self.spec.plan.pieces[i];
                let delta = match &self.spec.tool {
                    None => json!({"role": "assistant", "content": piece}),
                    // The first piece of a call names it; later ones add arguments.
                    Some(name) if i == 0 => json!({"role": "assistant", "tool_calls": [{
                        "index": 0, "id": generate::TOOL_CALL_ID, "type": "function",
                        "function": {"name": name, "arguments": piece},
                    }]}),
                    Some(_) => {
                        json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                    }
                };
                let logprobs = self
                    .spec
                    .logprobs
                    .map(|top| generate::logprobs(std::slice::from_ref(piece), top));
                let choices = json!([{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": null}]);
                Some(data(&generate::chunk(&self.spec.meta, choices, None)))
            }
            Step::Usage => {
                self.step = Step::Done;
                let usage =
                    generate::usage(self.spec.prompt_tokens, self.spec.plan.pieces.len() as u64);
                Some(data(&generate::chunk(
                    &self.spec.meta,
                    json!([]),
                    Some(("usage", usage)),
                )))
            }
            Step::Done => {
                self.step = Step::End;
                self.guard.finish();
                Some("data: [DONE]\n\n".to_owned())
            }
            Step::End => None,
        }
    }
}
