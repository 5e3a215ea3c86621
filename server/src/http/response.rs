//! Finished completions and streamed pieces → OpenAI answers: ids, the
//! creation time, finish reasons in OpenAI's words, usage.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand::distr::Alphanumeric;

use super::wire::{
    AssistantMessage, ChatChoice, ChatChunk, ChatCompletion, ChoiceLogprobs, ChunkChoice, Delta,
    FunctionCall, FunctionChunk, LogprobOut, TextChoice, TextCompletion, ToolCallChunk,
    ToolCallOut, TopLogprobOut, Usage,
};
use crate::domain::{Completion, TokenLogprob, ToolCall, ToolCallDelta};

/// Identity shared by every chunk of one answer.
#[derive(Debug, Clone)]
pub struct AnswerId {
    /// `chatcmpl-…` or `cmpl-…`.
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    /// The requested model id (chunks before the last name it).
    pub model: String,
}

impl AnswerId {
    /// A fresh id with `prefix`.
    pub fn new(prefix: &str, model: &str) -> AnswerId {
        let suffix: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        AnswerId {
            id: format!("{prefix}-{suffix}"),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            model: model.to_string(),
        }
    }
}

/// The upstream's finish reason in OpenAI's words (llama-server may say
/// `eos`; a missing one was a natural end).
pub fn finish_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("length") => "length",
        Some("content_filter") => "content_filter",
        Some("tool_calls") | Some("function_call") => "tool_calls",
        _ => "stop",
    }
}

/// Token counts of a completion.
pub fn usage(c: &Completion) -> Usage {
    Usage {
        prompt_tokens: c.prompt_tokens,
        completion_tokens: c.completion_tokens,
        total_tokens: c.prompt_tokens.saturating_add(c.completion_tokens),
        cost: c.cost_usd,
    }
}

/// A whole chat answer.
pub fn chat_completion(id: AnswerId, c: Completion) -> ChatCompletion {
    ChatCompletion {
        id: id.id,
        object: "chat.completion",
        created: id.created,
        usage: usage(&c),
        choices: vec![ChatChoice {
            index: 0,
            finish_reason: finish_reason(c.finish_reason.as_deref()),
            logprobs: logprobs(c.logprobs),
            message: AssistantMessage {
                role: "assistant",
                // OpenAI's shape: null content when the model only called tools.
                content: (!c.text.is_empty() || c.tool_calls.is_empty()).then_some(c.text),
                reasoning_content: Some(c.reasoning).filter(|r| !r.is_empty()),
                tool_calls: (!c.tool_calls.is_empty())
                    .then(|| c.tool_calls.into_iter().map(tool_call).collect()),
            },
        }],
        model: c.model,
    }
}

/// OpenAI's `logprobs` object; None when there are none.
pub fn logprobs(list: Vec<TokenLogprob>) -> Option<ChoiceLogprobs> {
    if list.is_empty() {
        return None;
    }
    let content = list
        .into_iter()
        .map(|t| LogprobOut {
            bytes: t.token.as_bytes().to_vec(),
            token: t.token,
            logprob: t.logprob,
            top_logprobs: t
                .top
                .into_iter()
                .map(|(token, logprob)| TopLogprobOut {
                    bytes: token.as_bytes().to_vec(),
                    token,
                    logprob,
                })
                .collect(),
        })
        .collect();
    Some(ChoiceLogprobs { content })
}

fn tool_call(c: ToolCall) -> ToolCallOut {
    ToolCallOut {
        id: c.id,
        kind: "function".to_string(),
        function: FunctionCall {
            name: c.name,
            arguments: c.arguments,
        },
    }
}

/// A streamed tool-call piece.
pub fn tool_call_chunk(d: ToolCallDelta) -> ToolCallChunk {
    ToolCallChunk {
        index: d.index,
        kind: d.id.is_some().then_some("function"),
        id: d.id,
        function: FunctionChunk {
            name: d.name,
            arguments: d.arguments,
        },
    }
}

/// A chat chunk with one choice.
pub fn chat_chunk(id: &AnswerId, delta: Delta, finish: Option<&'static str>) -> ChatChunk {
    chat_chunk_with(id, delta, None, finish)
}

/// A chat chunk with one choice and its tokens' log-probabilities.
pub fn chat_chunk_with(
    id: &AnswerId,
    delta: Delta,
    logprobs: Option<ChoiceLogprobs>,
    finish: Option<&'static str>,
) -> ChatChunk {
    ChatChunk {
        id: id.id.clone(),
        object: "chat.completion.chunk",
        created: id.created,
        model: id.model.clone(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            logprobs,
            finish_reason: finish,
        }],
        usage: None,
    }
}

/// The chat chunk that carries only usage (`stream_options.include_usage`).
pub fn chat_usage_chunk(id: &AnswerId, c: &Completion) -> ChatChunk {
    ChatChunk {
        id: id.id.clone(),
        object: "chat.completion.chunk",
        created: id.created,
        model: c.model.clone(),
        choices: Vec::new(),
        usage: Some(usage(c)),
    }
}

/// A whole text answer, or one streamed piece of it.
pub fn text_completion(
    id: &AnswerId,
    text: String,
    finish: Option<&'static str>,
    usage: Option<Usage>,
) -> TextCompletion {
    TextCompletion {
        id: id.id.clone(),
        object: "text_completion",
        created: id.created,
        model: id.model.clone(),
        choices: vec![TextChoice {
            index: 0,
            text,
            logprobs: None,
            finish_reason: finish,
        }],
        usage,
    }
}
