//! Deterministic "generation": token `i` is the word `tok{i}`, so tests can
//! predict the exact text, and streamed deltas concatenate to exactly the
//! non-streamed content. Also builds the JSON bodies shared by both modes.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

/// What to send back for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Content pieces, one per token (`"tok0"`, `" tok1"`, ...); the last may
    /// be cut short by a stop sequence.
    pub pieces: Vec<String>,
    pub finish_reason: &'static str,
}

impl Plan {
    /// `natural`: how many tokens the "model" wants to say (`tokens=`
    /// directive, else `default`); `limit`: the client's `max_tokens`.
    /// `finish_reason` is `"length"` when the limit cut the answer short, as
    /// a real server does when the limit is hit before end-of-sequence.
    pub(crate) fn new(
        natural: Option<u64>,
        limit: Option<u64>,
        default: u64,
        stop: &[String],
    ) -> Plan {
        let natural = natural.unwrap_or(default);
        let (count, mut finish_reason) = match limit {
            Some(l) if l <= natural => (l, "length"),
            _ => (natural, "stop"),
        };
        let mut pieces: Vec<String> = (0..count)
            .map(|i| {
                if i == 0 {
                    "tok0".to_owned()
                } else {
                    format!(" tok{i}")
                }
            })
            .collect();
        if !stop.is_empty() {
            let text = pieces.concat();
            if let Some(cut) = stop.iter().filter_map(|s| text.find(s.as_str())).min() {
                pieces = truncate(pieces, cut);
                finish_reason = "stop";
            }
        }
        Plan {
            pieces,
            finish_reason,
        }
    }

    pub(crate) fn text(&self) -> String {
        self.pieces.concat()
    }

    /// Makes the text a JSON object, `{"text":"tok0 tok1"}`, keeping one
    /// piece per token (for `response_format` and tool-call arguments).
    pub(crate) fn wrap_json(&mut self) {
        match self.pieces.len() {
            0 => self.pieces.push("{\"text\":\"\"}".to_owned()),
            n => {
                self.pieces[0].insert_str(0, "{\"text\":\"");
                self.pieces[n - 1].push_str("\"}");
            }
        }
    }
}

/// The reasoning pieces a `reasoning` request streams before its answer.
pub(crate) const REASONING: [&str; 2] = ["think0", " think1"];

/// `logprobs.content` for `pieces`: every token at log-probability -0.5,
/// its `top` alternatives the token itself then `alt1`, `alt2`... at -1.5,
/// -2.5...
pub(crate) fn logprobs(pieces: &[String], top: u64) -> Value {
    let content: Vec<Value> = pieces
        .iter()
        .map(|piece| {
            let alternatives: Vec<Value> = (0..top)
                .map(|k| match k {
                    0 => json!({"token": piece, "logprob": -0.5, "bytes": piece.as_bytes()}),
                    k => json!({"token": format!("alt{k}"), "logprob": -0.5 - k as f64, "bytes": null}),
                })
                .collect();
            json!({"token": piece, "logprob": -0.5, "bytes": piece.as_bytes(), "top_logprobs": alternatives})
        })
        .collect();
    json!({"content": content})
}

/// Id of the (one) tool call an answer makes.
pub(crate) const TOOL_CALL_ID: &str = "call_0";

/// The assistant message of a whole answer: text, or a call of `tool`
/// whose arguments are `content`; OpenRouter's `reasoning` field first
/// when asked for.
pub(crate) fn message(content: &str, tool: Option<&str>, reasoning: bool) -> Value {
    let mut m = match tool {
        None => json!({"role": "assistant", "content": content}),
        Some(name) => json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": TOOL_CALL_ID, "type": "function",
            "function": {"name": name, "arguments": content},
        }]}),
    };
    if reasoning {
        m["reasoning"] = json!(REASONING.concat());
    }
    m
}

/// Keeps the first `cut` bytes of the concatenated pieces (pieces are ASCII).
fn truncate(pieces: Vec<String>, cut: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut used = 0;
    for mut p in pieces {
        if used >= cut {
            break;
        }
        let room = cut - used;
        if p.len() > room {
            p.truncate(room);
        }
        used += p.len();
        out.push(p);
    }
    out
}

/// Identity shared by every chunk of one response.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub id: String,
    pub created: u64,
    pub model: String,
}

impl Meta {
    /// Ids look like OpenRouter's: `gen-<unix secs>-<20 alphanumerics>`.
    pub(crate) fn new(model: &str) -> Meta {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let suffix: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(20)
            .map(char::from)
            .collect();
        Meta {
            id: format!("gen-{created}-{suffix}"),
            created,
            model: model.to_owned(),
        }
    }
}

/// OpenRouter-style usage, with a deterministic `cost` ($1/M prompt tokens,
/// $2/M completion tokens) so cost accounting can be asserted.
pub(crate) fn usage(prompt_tokens: u64, completion_tokens: u64) -> Value {
    let cost = (prompt_tokens as f64 + 2.0 * completion_tokens as f64) / 1_000_000.0;
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "cost": cost,
    })
}

/// The `error` object carried by mid-stream failures.
pub(crate) fn midstream_error() -> Value {
    json!({"code": 502, "message": "provider disconnected"})
}

/// Non-streaming `chat.completion` body.
pub(crate) fn completion_body(
    meta: &Meta,
    message: Value,
    finish_reason: &str,
    usage: Value,
) -> Value {
    json!({
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "provider": "Emulator",
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": usage,
    })
}

/// One `chat.completion.chunk`; `extra` fields (e.g. `usage`, `error`) are
/// merged into the top level.
pub(crate) fn chunk(meta: &Meta, choices: Value, extra: Option<(&str, Value)>) -> Value {
    let mut v = json!({
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "provider": "Emulator",
        "choices": choices,
    });
    if let (Some((k, x)), Some(obj)) = (extra, v.as_object_mut()) {
        obj.insert(k.to_owned(), x);
    }
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn default_and_limits() {
        let p = Plan::new(None, None, 8, &[]);
        assert_eq!(p.pieces.len(), 8);
        assert_eq!(p.finish_reason, "stop");
        let p = Plan::new(None, Some(3), 8, &[]);
        assert_eq!(p.text(), "tok0 tok1 tok2");
        assert_eq!(p.finish_reason, "length");
        let p = Plan::new(Some(2), Some(5), 8, &[]);
        assert_eq!((p.text().as_str(), p.finish_reason), ("tok0 tok1", "stop"));
        let p = Plan::new(Some(20), None, 8, &[]);
        assert_eq!(p.pieces.len(), 20);
        let p = Plan::new(Some(0), None, 8, &[]);
        assert!(p.pieces.is_empty());
    }

    #[test]
    fn stop_sequences_cut_mid_token() {
        let p = Plan::new(None, Some(5), 8, &["k2".into(), "tok4".into()]);
        assert_eq!(p.pieces, vec!["tok0", " tok1", " to"]);
        assert_eq!(p.finish_reason, "stop");
        let p = Plan::new(None, None, 3, &[" tok1".into()]);
        assert_eq!(p.pieces, vec!["tok0"]);
        let p = Plan::new(None, None, 3, &["zzz".into()]);
        assert_eq!(p.pieces.len(), 3);
    }

    #[test]
    fn usage_has_cost() {
        let u = usage(10, 5);
        assert_eq!(u["total_tokens"], 15);
        assert!((u["cost"].as_f64().unwrap() - 0.00002).abs() < 1e-12);
    }
}
