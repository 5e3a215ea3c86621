//! Turns one HTTP response into a completion: SSE events parsed by
//! `eventsource-stream` (comments such as `: OPENROUTER PROCESSING` are
//! skipped by the parser), per-attempt first-token and token-gap timeouts,
//! and in-stream errors that fail the call instead of truncating it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use http::header::RETRY_AFTER;
use http::{HeaderMap, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::call::{ChatOutcome, Target};
use super::error::UpstreamError;
use super::types::{ChatCompletionBody, WireError, WireTimings, WireToolCallIn, cached_tokens};
use crate::domain::{Delta, DeltaSink, ToolCall, ToolCallDelta};

/// Why one attempt ended without a completion.
#[derive(Debug)]
pub(super) enum AttemptError {
    /// The upstream failed.
    Upstream(UpstreamError),
    /// The forwarding channel closed: the client went away.
    ClientGone,
}

impl From<UpstreamError> for AttemptError {
    fn from(e: UpstreamError) -> Self {
        AttemptError::Upstream(e)
    }
}

/// Longest upstream error message passed on, in characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// Reads an SSE response to its end.
pub(super) async fn read_stream(
    response: Response<Incoming>,
    target: &Target,
    sink: &mut DeltaSink,
    first_token_deadline: Instant,
    emitted: &mut bool,
) -> Result<ChatOutcome, AttemptError> {
    let mut events = response.into_body().into_data_stream().eventsource();
    let mut out = ChatOutcome::default();
    let mut done = false;
    loop {
        let until = match out.first_token_at {
            None => first_token_deadline,
            Some(_) => Instant::now() + target.timeouts.token_gap,
        };
        let event = match tokio::time::timeout_at(until.into(), events.next()).await {
            Err(_) => return Err(silence_error(target, out.first_token_at.is_none()).into()),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(disconnected(target, e.to_string()).into()),
            Ok(Some(Ok(event))) => event,
        };
        let data = event.data.trim();
        if data == "[DONE]" {
            done = true;
            break;
        }
        if data.is_empty() {
            continue;
        }
        let chunk: ChatCompletionBody =
            serde_json::from_str(data).map_err(|e| protocol(target, e))?;
        apply_chunk(chunk, target, sink, &mut out, emitted).await?;
    }
    if !done && out.finish_reason.is_none() {
        return Err(disconnected(
            target,
            "the stream ended before the upstream said it was finished".into(),
        )
        .into());
    }
    Ok(out)
}

async fn apply_chunk(
    chunk: ChatCompletionBody,
    target: &Target,
    sink: &mut DeltaSink,
    out: &mut ChatOutcome,
    emitted: &mut bool,
) -> Result<(), AttemptError> {
    if let Some(error) = chunk.error {
        return Err(in_stream(target, &error).into());
    }
    if out.upstream_id.is_none() {
        out.upstream_id = chunk.id;
    }
    if out.upstream_model.is_none() {
        out.upstream_model = chunk.model;
    }
    if let Some(cached) = cached_tokens(chunk.usage.as_ref(), chunk.timings.as_ref()) {
        out.cached_tokens = Some(cached);
    }
    if let Some(usage) = chunk.usage {
        out.usage = usage;
    }
    if chunk.timings.is_some() {
        out.timings = chunk.timings;
    }
    let Some(choice) = chunk.choices.into_iter().next() else {
        return Ok(());
    };
    if let Some(mut delta) = choice.delta {
        let mut pieces = Vec::new();
        if let Some(reasoning) = delta.take_reasoning() {
            pieces.push(Delta::Reasoning(reasoning));
        }
        if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
            pieces.push(Delta::Text(text));
        }
        for (position, call) in delta.tool_calls.into_iter().enumerate() {
            let index = call.index.unwrap_or(position as u32);
            pieces.push(Delta::ToolCall(merge_call(out, index, call)));
        }
        let logprobs = choice.logprobs.map(|l| l.into_domain()).unwrap_or_default();
        if !logprobs.is_empty() {
            pieces.push(Delta::Logprobs(logprobs));
        }
        for piece in pieces {
            out.first_token_at.get_or_insert_with(Instant::now);
            emit(sink, out, piece, emitted).await?;
        }
    }
    match choice.finish_reason.as_deref() {
        Some("error") => Err(UpstreamError::InStream {
            endpoint: target.endpoint.clone(),
            message: "the provider ended the generation with an error".into(),
        }
        .into()),
        Some(reason) => {
            out.finish_reason = Some(reason.to_string());
            Ok(())
        }
        None => Ok(()),
    }
}

/// Adds a piece of tool call `index` to the calls assembled so far and
/// returns it as a delta.
fn merge_call(out: &mut ChatOutcome, index: u32, call: WireToolCallIn) -> ToolCallDelta {
    let slot = index as usize;
    if out.tool_calls.len() <= slot {
        out.tool_calls.resize_with(slot + 1, ToolCall::default);
    }
    let whole = &mut out.tool_calls[slot];
    let arguments = call.function.arguments.unwrap_or_default();
    whole.arguments.push_str(&arguments);
    if let Some(id) = &call.id {
        whole.id.clone_from(id);
    }
    if let Some(name) = &call.function.name {
        whole.name.push_str(name);
    }
    ToolCallDelta {
        index,
        id: call.id,
        name: call.function.name,
        arguments,
    }
}

async fn emit(
    sink: &mut DeltaSink,
    out: &mut ChatOutcome,
    piece: Delta,
    emitted: &mut bool,
) -> Result<(), AttemptError> {
    match sink {
        DeltaSink::Collect => match piece {
            Delta::Text(text) => out.text.push_str(&text),
            Delta::Reasoning(text) => out.reasoning.push_str(&text),
            // Assembled in `out.tool_calls` already.
            Delta::ToolCall(_) => {}
            Delta::Logprobs(list) => out.logprobs.extend(list),
            // Never produced by an upstream.
            Delta::Loading(_) => {}
        },
        DeltaSink::Forward(tx) => {
            // Marked before the send: once a send is attempted the client may
            // have the text, so the call must not be retried.
            *emitted = true;
            tx.send(piece).await.map_err(|_| AttemptError::ClientGone)?;
        }
    }
    Ok(())
}

/// Reads a whole (non-streaming) JSON response, sent at `sent`.
pub(super) async fn read_whole(
    response: Response<Incoming>,
    target: &Target,
    sink: &mut DeltaSink,
    sent: Instant,
    deadline: Instant,
    emitted: &mut bool,
) -> Result<ChatOutcome, AttemptError> {
    let bytes = match tokio::time::timeout_at(deadline.into(), body_bytes(response)).await {
        Err(_) => return Err(silence_error(target, true).into()),
        Ok(Err(e)) => return Err(disconnected(target, e.to_string()).into()),
        Ok(Ok(b)) => b,
    };
    let body: ChatCompletionBody =
        serde_json::from_slice(&bytes).map_err(|e| protocol(target, e))?;
    if let Some(error) = &body.error {
        return Err(in_stream(target, error).into());
    }
    let mut out = ChatOutcome {
        cached_tokens: cached_tokens(body.usage.as_ref(), body.timings.as_ref()),
        upstream_id: body.id,
        upstream_model: body.model,
        usage: body.usage.unwrap_or_default(),
        first_token_at: Some(first_token_at(sent, body.timings)),
        timings: body.timings,
        ..ChatOutcome::default()
    };
    let choice = body
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| protocol(target, "the answer has no choices"))?;
    out.finish_reason = choice.finish_reason;
    let mut message = choice.message.unwrap_or_default();
    if let Some(reasoning) = message.take_reasoning() {
        emit(sink, &mut out, Delta::Reasoning(reasoning), emitted).await?;
    }
    if let Some(text) = message.content.filter(|t| !t.is_empty()) {
        emit(sink, &mut out, Delta::Text(text), emitted).await?;
    }
    for (index, call) in message.tool_calls.into_iter().enumerate() {
        let piece = merge_call(&mut out, index as u32, call);
        emit(sink, &mut out, Delta::ToolCall(piece), emitted).await?;
    }
    let logprobs = choice.logprobs.map(|l| l.into_domain()).unwrap_or_default();
    if !logprobs.is_empty() {
        emit(sink, &mut out, Delta::Logprobs(logprobs), emitted).await?;
    }
    Ok(out)
}

/// When the first token of a whole answer was ready: now, less the time
/// llama-server says it spent on the tokens after it (never before `sent`).
/// Other upstreams report no timings: then the answer's arrival.
fn first_token_at(sent: Instant, timings: Option<WireTimings>) -> Instant {
    let now = Instant::now();
    timings
        .and_then(|t| t.predicted_ms)
        .filter(|ms| ms.is_finite() && *ms > 0.0)
        .and_then(|ms| now.checked_sub(Duration::from_secs_f64(ms / 1e3)))
        .map_or(now, |t| t.max(sent))
}

/// A whole response body.
pub(super) async fn body_bytes(response: Response<Incoming>) -> Result<Bytes, hyper::Error> {
    Ok(response.into_body().collect().await?.to_bytes())
}

/// The `X-Generation-Id` header (OpenRouter), when present and not empty.
pub(super) fn generation_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-generation-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The most of an error body read: messages are a few hundred bytes.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Builds the error for a non-2xx answer from its body and headers.
pub(super) async fn http_error(response: Response<Incoming>, target: &Target) -> UpstreamError {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // A body that breaks off, or is larger than any error message (a
    // proxy's HTML page, say), leaves the status to speak for itself.
    let body = Limited::new(response.into_body(), MAX_ERROR_BODY)
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    let message = serde_json::from_str::<ChatCompletionBody>(&body)
        .ok()
        .and_then(|b| b.error)
        .and_then(|e| e.message)
        .unwrap_or(body);
    UpstreamError::Http {
        endpoint: target.endpoint.clone(),
        status,
        message: clean_message(target, &message),
        retry_after,
    }
}

fn in_stream(target: &Target, error: &WireError) -> UpstreamError {
    let code = error
        .code
        .as_ref()
        .map(|c| format!(" (code {c})"))
        .unwrap_or_default();
    let message = error
        .message
        .clone()
        .unwrap_or_else(|| "unspecified error".into());
    UpstreamError::InStream {
        endpoint: target.endpoint.clone(),
        message: clean_message(target, &format!("{message}{code}")),
    }
}

fn silence_error(target: &Target, before_first_token: bool) -> UpstreamError {
    let endpoint = target.endpoint.clone();
    if before_first_token {
        UpstreamError::FirstTokenTimeout {
            endpoint,
            after: target.timeouts.first_token,
        }
    } else {
        UpstreamError::TokenGapTimeout {
            endpoint,
            after: target.timeouts.token_gap,
        }
    }
}

pub(super) fn disconnected(target: &Target, detail: String) -> UpstreamError {
    UpstreamError::Disconnected {
        endpoint: target.endpoint.clone(),
        detail: clean_message(target, &detail),
    }
}

fn protocol(target: &Target, e: impl std::fmt::Display) -> UpstreamError {
    UpstreamError::Protocol {
        endpoint: target.endpoint.clone(),
        detail: e.to_string(),
    }
}

/// Scrubs the key and bounds the length of text that came from outside.
pub(super) fn clean_message(target: &Target, text: &str) -> String {
    let scrubbed = match &target.api_key {
        Some(key) => key.scrub(text),
        None => text.to_string(),
    };
    let trimmed = scrubbed.trim();
    match trimmed.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}
