//! Validation of the chat-completions request body.
//!
//! We parse `serde_json::Value` by hand instead of deriving, so every bad
//! field yields a precise OpenAI-style 400 message rather than a serde error
//! or a panic, and unknown fields (OpenRouter has many) are simply ignored.

use serde_json::Value;

/// The parts of a request the emulator acts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChatRequest {
    /// `model`, or the first of OpenRouter's `models` fallback list.
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    /// `max_tokens` / `max_completion_tokens` (the smaller if both).
    pub max_tokens: Option<u64>,
    pub stop: Vec<String>,
    /// Deterministic estimate: words of every text part, plus 4 per message
    /// (roughly OpenAI's per-message overhead).
    pub prompt_tokens: u64,
    /// The function the "model" calls instead of answering: the one
    /// `tool_choice` names, else the first tool, unless `tool_choice` is
    /// `"none"` or (with `"auto"`) the last message is already a tool result.
    pub tool: Option<String>,
    /// `response_format` asked for JSON (`json_object` or `json_schema`).
    pub json: bool,
    /// `logprobs: true`: Some(`top_logprobs`, 0 when unset).
    pub logprobs: Option<u64>,
}

impl ChatRequest {
    pub(crate) fn parse(body: &Value) -> Result<ChatRequest, String> {
        let obj = body
            .as_object()
            .ok_or("request body must be a JSON object")?;
        let model = model(obj.get("model"), obj.get("models"))?;
        let prompt_tokens = messages(obj.get("messages"))?;
        let stream = opt_bool(obj.get("stream"), "stream")?.unwrap_or(false);
        let include_usage = match obj.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(o)) => {
                opt_bool(o.get("include_usage"), "stream_options.include_usage")?.unwrap_or(false)
            }
            Some(_) => return Err("stream_options must be an object".into()),
        };
        let max_tokens = match (
            opt_positive(obj.get("max_tokens"), "max_tokens")?,
            opt_positive(obj.get("max_completion_tokens"), "max_completion_tokens")?,
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        opt_range(obj.get("temperature"), "temperature", 0.0, 2.0)?;
        opt_range(obj.get("top_p"), "top_p", 0.0, 1.0)?;
        match obj.get("seed") {
            None | Some(Value::Null) => {}
            Some(v) if v.is_i64() || v.is_u64() => {}
            Some(_) => return Err("seed must be an integer".into()),
        }
        Ok(ChatRequest {
            model,
            stream,
            include_usage,
            max_tokens,
            stop: stop(obj.get("stop"))?,
            prompt_tokens,
            tool: tool(obj)?,
            json: json_output(obj.get("response_format"))?,
            logprobs: opt_bool(obj.get("logprobs"), "logprobs")?
                .filter(|on| *on)
                .map(|_| obj.get("top_logprobs").and_then(Value::as_u64).unwrap_or(0)),
        })
    }
}

fn model(model: Option<&Value>, models: Option<&Value>) -> Result<String, String> {
    let fallbacks: Vec<&str> = match models {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|m| m.as_str().ok_or("models must be an array of strings"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("models must be an array of strings".into()),
    };
    match model {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err("model must not be empty".into()),
        None | Some(Value::Null) => fallbacks
            .first()
            .filter(|m| !m.is_empty())
            .map(|m| (*m).to_owned())
            .ok_or_else(|| "model is required".to_owned()),
        Some(_) => Err("model must be a string".into()),
    }
}

fn messages(messages: Option<&Value>) -> Result<u64, String> {
    let list = match messages {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) => return Err("messages must not be empty".into()),
        None | Some(Value::Null) => return Err("messages is required".into()),
        Some(_) => return Err("messages must be an array".into()),
    };
    let mut tokens = 0u64;
    for (i, m) in list.iter().enumerate() {
        let m = m
            .as_object()
            .ok_or_else(|| format!("messages[{i}] must be an object"))?;
        if !m.get("role").is_some_and(Value::is_string) {
            return Err(format!("messages[{i}].role must be a string"));
        }
        let words = match m.get("content") {
            None | Some(Value::Null) => 0,
            Some(Value::String(s)) => s.split_whitespace().count(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .map(|t| t.split_whitespace().count())
                .sum(),
            Some(_) => {
                return Err(format!(
                    "messages[{i}].content must be a string or an array"
                ));
            }
        };
        tokens = tokens.saturating_add(words as u64 + 4);
    }
    Ok(tokens)
}

fn tool(obj: &serde_json::Map<String, Value>) -> Result<Option<String>, String> {
    let names: Vec<&str> = match obj.get("tools") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(tools)) => tools
            .iter()
            .map(|t| match (t.get("type"), t.pointer("/function/name")) {
                (Some(Value::String(kind)), Some(Value::String(name))) if kind == "function" => {
                    Ok(name.as_str())
                }
                _ => {
                    Err("each tool must be {\"type\": \"function\", \"function\": {\"name\": ...}}")
                }
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("tools must be an array".into()),
    };
    let last_is_tool_result = obj
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str)
        == Some("tool");
    let first = names.first().map(|n| n.to_string());
    match obj.get("tool_choice") {
        None | Some(Value::Null) => Ok(first.filter(|_| !last_is_tool_result)),
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => Ok(first.filter(|_| !last_is_tool_result)),
            "none" => Ok(None),
            "required" => Ok(first),
            _ => Err("tool_choice must be auto, none, required or a function".into()),
        },
        Some(choice) => match choice.pointer("/function/name").and_then(Value::as_str) {
            Some(name) if names.contains(&name) => Ok(Some(name.to_string())),
            _ => Err("tool_choice names a function that is not in tools".into()),
        },
    }
}

fn json_output(format: Option<&Value>) -> Result<bool, String> {
    match format {
        None | Some(Value::Null) => Ok(false),
        Some(f) => match f.get("type").and_then(Value::as_str) {
            Some("text") => Ok(false),
            Some("json_object") => Ok(true),
            Some("json_schema")
                if f.pointer("/json_schema/schema")
                    .is_some_and(Value::is_object) =>
            {
                Ok(true)
            }
            _ => Err(
                "response_format must be text, json_object, or json_schema with a schema object"
                    .into(),
            ),
        },
    }
}

fn opt_bool(v: Option<&Value>, name: &str) -> Result<Option<bool>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("{name} must be a boolean")),
    }
}

fn opt_positive(v: Option<&Value>, name: &str) -> Result<Option<u64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Ok(Some(n)),
            _ => Err(format!("{name} must be a positive integer")),
        },
    }
}

fn opt_range(v: Option<&Value>, name: &str, lo: f64, hi: f64) -> Result<(), String> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(v) => match v.as_f64() {
            Some(x) if (lo..=hi).contains(&x) => Ok(()),
            _ => Err(format!("{name} must be a number between {lo} and {hi}")),
        },
    }
}

fn stop(v: Option<&Value>) -> Result<Vec<String>, String> {
    let list = match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or("stop must be a string or an array of strings")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("stop must be a string or an array of strings".into()),
    };
    Ok(list.into_iter().filter(|s| !s.is_empty()).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_full_request() {
        let r = ChatRequest::parse(&json!({
            "model": "m", "messages": [{"role": "user", "content": "hello there"}],
            "max_tokens": 5, "max_completion_tokens": 3, "temperature": 0.5, "top_p": 1,
            "stop": ["x", ""], "seed": 42, "stream": true,
            "stream_options": {"include_usage": true}, "provider": {"sort": "price"}
        }))
        .unwrap();
        assert_eq!(
            r,
            ChatRequest {
                model: "m".into(),
                stream: true,
                include_usage: true,
                max_tokens: Some(3),
                stop: vec!["x".into()],
                prompt_tokens: 6,
                tool: None,
                json: false,
                logprobs: None,
            }
        );
    }

    #[test]
    fn openrouter_models_fallback_list() {
        let r = ChatRequest::parse(&json!({
            "models": ["a", "b"], "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        }))
        .unwrap();
        assert_eq!(r.model, "a");
        assert_eq!(r.prompt_tokens, 5);
    }

    #[test]
    fn rejects_bad_fields() {
        let msgs = json!([{"role": "user", "content": "x"}]);
        for bad in [
            json!([]),
            json!({"messages": msgs}),
            json!({"model": 3, "messages": msgs}),
            json!({"model": "", "messages": msgs}),
            json!({"model": "m"}),
            json!({"model": "m", "messages": []}),
            json!({"model": "m", "messages": [1]}),
            json!({"model": "m", "messages": [{"content": "x"}]}),
            json!({"model": "m", "messages": msgs, "max_tokens": 0}),
            json!({"model": "m", "messages": msgs, "max_tokens": -3}),
            json!({"model": "m", "messages": msgs, "max_tokens": "7"}),
            json!({"model": "m", "messages": msgs, "temperature": 3}),
            json!({"model": "m", "messages": msgs, "top_p": "1"}),
            json!({"model": "m", "messages": msgs, "stop": 1}),
            json!({"model": "m", "messages": msgs, "seed": 1.5}),
            json!({"model": "m", "messages": msgs, "stream": "yes"}),
            json!({"model": "m", "messages": msgs, "stream_options": 1}),
            json!({"model": "m", "messages": msgs, "models": "a"}),
        ] {
            assert!(
                ChatRequest::parse(&bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }
}
