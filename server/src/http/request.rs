//! OpenAI request bodies → the proto `GenerateRequest` the gRPC door takes,
//! so one validator (`api::validate`) holds every rule for both doors.
//! What the OpenAI API can say but the router cannot do is refused here
//! with a 400 naming the field, never silently dropped; fields that do not
//! change the answer (`user`, `store`, `metadata`, `service_tier`) are
//! accepted and ignored.

use ai_router_proto::v1 as pb;
use ai_router_proto::v1::generate_request::Input;
use serde_json::Value;

use super::caller::Caller;
use super::status::HttpError;
use super::wire::{
    ChatRequest, CompletionRequest, OtherFields, RequestMessage, ResponseFormatIn, ToolIn,
};

/// Fields accepted and ignored: they label or bill a request, they do not
/// change the answer. (`parallel_tool_calls`: the model may make several
/// calls in one answer either way; every call it makes is returned.)
const IGNORED: [&str; 5] = [
    "user",
    "store",
    "metadata",
    "service_tier",
    "parallel_tool_calls",
];

/// A chat request as the proto request, and whether to stream.
pub fn chat(body: ChatRequest, caller: &Caller) -> Result<(pb::GenerateRequest, bool), HttpError> {
    refuse_other(&body.other, "")?;
    let messages = body
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| message(i, m))
        .collect::<Result<Vec<_>, _>>()?;
    let fallback_models = body
        .models
        .unwrap_or_default()
        .into_iter()
        .filter(|m| *m != body.model)
        .collect();
    let tools = body
        .tools
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| tool(i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let request = pb::GenerateRequest {
        model: body.model,
        input: Some(Input::Messages(pb::ChatMessages { messages })),
        params: Some(pb::GenerationParams {
            max_tokens: body.max_completion_tokens.or(body.max_tokens),
            temperature: body.temperature,
            top_p: body.top_p,
            stop: body.stop.map(|s| s.into_vec()).unwrap_or_default(),
            seed: body.seed,
            presence_penalty: body.presence_penalty,
            frequency_penalty: body.frequency_penalty,
            response_format: body.response_format.map(response_format).transpose()?,
            tools,
            tool_choice: body.tool_choice.map(tool_choice).transpose()?,
            logprobs: body.logprobs.unwrap_or(false),
            top_logprobs: body.top_logprobs,
        }),
        fallback_models,
        client_request_id: caller.client_request_id.clone(),
    };
    Ok((request, body.stream.unwrap_or(false)))
}

/// A text-completion request as the proto request (its prompt is sent as
/// one user message, as the gRPC `prompt` is), and whether to stream.
pub fn completion(
    body: CompletionRequest,
    caller: &Caller,
) -> Result<(pb::GenerateRequest, bool), HttpError> {
    refuse_other(&body.other, "")?;
    let prompt = match body.prompt {
        Value::String(s) => s,
        Value::Array(mut list) if list.len() == 1 && list[0].is_string() => list
            .pop()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        _ => {
            return Err(HttpError::unsupported(
                "prompt",
                "send one string per request (lists of prompts and token ids are not taken)",
            ));
        }
    };
    let request = pb::GenerateRequest {
        model: body.model,
        input: Some(Input::Prompt(prompt)),
        params: Some(pb::GenerationParams {
            max_tokens: body.max_tokens,
            temperature: body.temperature,
            top_p: body.top_p,
            stop: body.stop.map(|s| s.into_vec()).unwrap_or_default(),
            seed: body.seed,
            ..Default::default()
        }),
        fallback_models: Vec::new(),
        client_request_id: caller.client_request_id.clone(),
    };
    Ok((request, body.stream.unwrap_or(false)))
}

fn message(index: usize, m: RequestMessage) -> Result<pb::ChatMessage, HttpError> {
    let field = |name: &str| format!("messages[{index}].{name}");
    // `name` (a participant's name) does not change the answer.
    if let Some(name) = m.other.keys().find(|n| n.as_str() != "name") {
        return Err(HttpError::unsupported(
            &field(name),
            "this router does not take this message field",
        ));
    }
    // OpenAI's newer name for the system role.
    let role = match m.role.as_str() {
        "developer" => "system".to_string(),
        _ => m.role,
    };
    let content = match m.content {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(Value::Array(parts)) => text_parts(&field("content"), parts)?,
        Some(_) => {
            return Err(HttpError::invalid_field(
                &field("content"),
                "must be a string, a list of content parts or null",
            ));
        }
    };
    let tool_calls = m
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .map(|c| pb::ToolCall {
            id: c.id,
            name: c.function.name,
            arguments: c.function.arguments,
        })
        .collect();
    Ok(pb::ChatMessage {
        role,
        content,
        tool_calls,
        tool_call_id: m.tool_call_id.unwrap_or_default(),
    })
}

fn tool(index: usize, t: ToolIn) -> Result<pb::Tool, HttpError> {
    if t.kind != "function" {
        return Err(HttpError::unsupported(
            &format!("tools[{index}].type"),
            "only function tools are taken",
        ));
    }
    Ok(pb::Tool {
        name: t.function.name,
        description: t.function.description.unwrap_or_default(),
        parameters_json: t
            .function
            .parameters
            .map(|p| p.to_string())
            .unwrap_or_default(),
    })
}

fn tool_choice(choice: Value) -> Result<pb::ToolChoice, HttpError> {
    use pb::tool_choice::{Choice, Mode};
    let mode = |m: Mode| Choice::Mode(m as i32);
    let choice = match choice.as_str() {
        Some("auto") => mode(Mode::AutoUnspecified),
        Some("none") => mode(Mode::None),
        Some("required") => mode(Mode::Required),
        _ => match choice.pointer("/function/name").and_then(Value::as_str) {
            Some(name) if choice.get("type").and_then(Value::as_str) == Some("function") => {
                Choice::Function(name.to_string())
            }
            _ => {
                return Err(HttpError::invalid_field(
                    "tool_choice",
                    "must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                ));
            }
        },
    };
    Ok(pb::ToolChoice {
        choice: Some(choice),
    })
}

fn response_format(format: ResponseFormatIn) -> Result<pb::ResponseFormat, HttpError> {
    use pb::response_format::Format;
    let format = match format.kind.as_str() {
        "text" => None,
        "json_object" => Some(Format::JsonObject(pb::JsonObject {})),
        "json_schema" => {
            let spec = format.json_schema.ok_or_else(|| {
                HttpError::invalid_field(
                    "response_format.json_schema",
                    "is required with type json_schema",
                )
            })?;
            let schema = spec.schema.ok_or_else(|| {
                HttpError::invalid_field(
                    "response_format.json_schema.schema",
                    "is required with type json_schema",
                )
            })?;
            Some(Format::JsonSchema(pb::JsonSchema {
                name: spec.name.unwrap_or_default(),
                schema_json: schema.to_string(),
                strict: spec.strict.unwrap_or(false),
            }))
        }
        _ => {
            return Err(HttpError::invalid_field(
                "response_format.type",
                "must be text, json_object or json_schema",
            ));
        }
    };
    Ok(pb::ResponseFormat { format })
}

/// The text of a list of content parts, joined by newlines; any other kind
/// of part (image, audio, file) is refused.
fn text_parts(field: &str, parts: Vec<Value>) -> Result<String, HttpError> {
    let mut texts = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        match (
            part.get("type").and_then(Value::as_str),
            part.get("text").and_then(Value::as_str),
        ) {
            (Some("text"), Some(text)) => texts.push(text),
            (Some("text"), None) => {
                return Err(HttpError::invalid_field(
                    &format!("{field}[{i}].text"),
                    "a text part needs its text",
                ));
            }
            (Some(kind), _) => {
                return Err(HttpError::unsupported(
                    &format!("{field}[{i}]"),
                    &format!("content parts of type `{kind}`; only text parts are taken"),
                ));
            }
            (None, _) => {
                return Err(HttpError::invalid_field(
                    &format!("{field}[{i}].type"),
                    "every content part needs a type",
                ));
            }
        }
    }
    Ok(texts.join("\n"))
}

/// Refuses every field the door does not act on, unless it is ignorable or
/// holds the value that means "off".
fn refuse_other(other: &OtherFields, prefix: &str) -> Result<(), HttpError> {
    for (name, value) in other {
        if IGNORED.contains(&name.as_str()) || is_off(name, value) {
            continue;
        }
        let field = format!("{prefix}{name}");
        return Err(HttpError::unsupported(&field, why_unsupported(name)));
    }
    Ok(())
}

/// Whether a known field holds the value that asks for nothing.
fn is_off(name: &str, value: &Value) -> bool {
    value.is_null()
        || match name {
            "n" | "best_of" => value.as_u64() == Some(1),
            "logit_bias" => value.as_object().is_some_and(|o| o.is_empty()),
            "echo" | "logprobs" => value == &Value::Bool(false),
            "suffix" => value.as_str() == Some(""),
            "modalities" => value
                .as_array()
                .is_some_and(|m| m.iter().all(|x| x.as_str() == Some("text"))),
            _ => false,
        }
}

fn why_unsupported(name: &str) -> &'static str {
    match name {
        "n" | "best_of" => "one choice per request; send several requests instead",
        "logit_bias" => "the backends are not given token biases",
        "echo" | "suffix" => "the prompt is sent as a chat message, which has no echo or suffix",
        "functions" | "function_call" => "the legacy functions API is not taken; use tools",
        "logprobs" => "log-probabilities are returned on /v1/chat/completions only",
        "audio" | "modalities" | "prediction" | "web_search_options" => {
            "this router generates text only"
        }
        _ => "this router does not know this field",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tonic::metadata::MetadataMap;

    fn caller() -> Caller {
        Caller {
            arrived: std::time::Instant::now(),
            principal: std::sync::Arc::new(crate::access::Principal::anonymous()),
            deadline: None,
            trace_context: MetadataMap::new(),
            client_request_id: "r1".into(),
        }
    }

    fn chat_of(body: Value) -> Result<(pb::GenerateRequest, bool), HttpError> {
        chat(serde_json::from_value(body).unwrap(), &caller())
    }

    #[test]
    fn a_chat_request_becomes_the_proto_request() {
        let (r, stream) = chat_of(json!({
            "model": "m", "stream": true, "max_tokens": 9, "max_completion_tokens": 7,
            "temperature": 0.5, "stop": "x", "seed": 3, "user": "u", "n": 1,
            "models": ["m", "f1"],
            "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            ]
        }))
        .unwrap();
        assert!(stream);
        assert_eq!(r.model, "m");
        assert_eq!(r.fallback_models, ["f1"]);
        assert_eq!(r.client_request_id, "r1");
        let p = r.params.unwrap();
        assert_eq!((p.max_tokens, p.seed), (Some(7), Some(3)));
        assert_eq!(p.stop, ["x"]);
        let Some(Input::Messages(m)) = r.input else {
            panic!("messages expected")
        };
        assert_eq!(m.messages[0].role, "system");
        assert_eq!(m.messages[1].content, "a\nb");
    }

    #[test]
    fn what_cannot_be_done_is_refused_by_name() {
        for (body, field) in [
            (json!({"n": 2}), "n"),
            (json!({"logit_bias": {"1": 2}}), "logit_bias"),
            (json!({"frobnicate": true}), "frobnicate"),
            (json!({"functions": []}), "functions"),
        ] {
            let mut full = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
            full.as_object_mut()
                .unwrap()
                .extend(body.as_object().unwrap().clone());
            let e = chat_of(full).unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(e.param.as_deref(), Some(field));
            assert!(e.message.starts_with(field), "{}", e.message);
        }
        let e = chat_of(json!({"model": "m", "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
        ]}))
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0]"));
    }

    #[test]
    fn a_completion_takes_one_prompt() {
        let body = |prompt: Value| -> CompletionRequest {
            serde_json::from_value(json!({"model": "m", "prompt": prompt})).unwrap()
        };
        let (r, _) = completion(body(json!(["one"])), &caller()).unwrap();
        assert_eq!(r.input, Some(Input::Prompt("one".into())));
        let e = completion(body(json!(["a", "b"])), &caller()).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("prompt"));
        assert!(completion(body(json!([1, 2])), &caller()).is_err());
    }
}
