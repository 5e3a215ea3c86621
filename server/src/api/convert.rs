//! Engine results → protobuf messages.

use std::time::Duration;

use ai_router_proto::v1 as pb;

use crate::domain::{
    BackendKind, Completion, RequestTiming, TokenLogprob, ToolCall, ToolCallDelta,
};
use crate::metrics::Summary;

/// A `google.protobuf.Duration`.
pub fn duration(d: Duration) -> pb::Duration {
    pb::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// The protobuf response for a completion.
pub fn response(
    c: Completion,
    client_request_id: String,
    trace_id: String,
) -> pb::GenerateResponse {
    let t = c.timing;
    pb::GenerateResponse {
        text: c.text,
        model: c.model,
        backend: backend(c.backend) as i32,
        finish_reason: finish_reason(c.finish_reason.as_deref()) as i32,
        usage: Some(pb::Usage {
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
            cost_usd: c.cost_usd,
        }),
        timing: Some(timing(&t)),
        trace_id,
        client_request_id,
        upstream_id: c.upstream_id.unwrap_or_default(),
        tool_calls: c.tool_calls.into_iter().map(tool_call).collect(),
        reasoning: c.reasoning,
        logprobs: logprobs(c.logprobs),
    }
}

/// Log-probability messages.
pub fn logprobs(list: Vec<TokenLogprob>) -> Vec<pb::TokenLogprob> {
    list.into_iter()
        .map(|t| pb::TokenLogprob {
            token: t.token,
            logprob: t.logprob,
            top_logprobs: t
                .top
                .into_iter()
                .map(|(token, logprob)| pb::TopLogprob { token, logprob })
                .collect(),
        })
        .collect()
}

/// A tool call message.
pub fn tool_call(c: ToolCall) -> pb::ToolCall {
    pb::ToolCall {
        id: c.id,
        name: c.name,
        arguments: c.arguments,
    }
}

/// A streamed tool-call piece.
pub fn tool_call_delta(d: ToolCallDelta) -> pb::ToolCallDelta {
    pb::ToolCallDelta {
        index: d.index,
        id: d.id.unwrap_or_default(),
        name: d.name.unwrap_or_default(),
        arguments: d.arguments,
    }
}

/// The timing message.
pub fn timing(t: &RequestTiming) -> pb::Timing {
    pb::Timing {
        queue_wait: Some(duration(t.queue_wait)),
        model_acquire: Some(duration(t.model_acquire)),
        cold_start: t.cold_start,
        time_to_first_token: t.time_to_first_token.map(duration),
        total: Some(duration(t.total)),
        attempts: t.attempts,
    }
}

/// Backend kind enum.
pub fn backend(kind: BackendKind) -> pb::BackendKind {
    match kind {
        BackendKind::Local => pb::BackendKind::Local,
        BackendKind::OpenAi => pb::BackendKind::Openai,
        BackendKind::OpenRouter => pb::BackendKind::Openrouter,
    }
}

fn finish_reason(reason: Option<&str>) -> pb::FinishReason {
    match reason {
        Some("stop") | Some("eos") => pb::FinishReason::Stop,
        Some("length") => pb::FinishReason::Length,
        Some("content_filter") => pb::FinishReason::ContentFilter,
        Some("tool_calls") | Some("function_call") => pb::FinishReason::ToolCalls,
        _ => pb::FinishReason::Unspecified,
    }
}

/// A latency summary message.
pub fn summary(s: Summary) -> pb::LatencySummary {
    pb::LatencySummary {
        count: s.count,
        p50_us: s.p50_us,
        p90_us: s.p90_us,
        p99_us: s.p99_us,
        max_us: s.max_us,
    }
}
