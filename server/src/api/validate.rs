//! Request validation: every rule in one file, each broken rule a typed
//! [`ValidationError`] whose message says what to change. Proto in, domain
//! [`Job`] out. Prompt text is never echoed back.

use ai_router_proto::v1::{GenerateRequest, generate_request::Input};

use ai_router_proto::v1 as pb;

use crate::config::RequestLimits;
use crate::domain::{
    ChatMessage, EmbedJob, Job, ModelId, Params, ResponseFormat, Role, Tool, ToolCall, ToolChoice,
    ValidationError,
};

/// Most fallback models per request.
const MAX_FALLBACKS: usize = 8;
/// Most stop sequences.
const MAX_STOP: usize = 16;
/// Longest stop sequence, bytes.
const MAX_STOP_BYTES: usize = 256;
/// Longest client request id, bytes.
const MAX_CLIENT_ID_BYTES: usize = 128;
/// Most tools per request (OpenAI's limit).
const MAX_TOOLS: usize = 128;
/// Longest tool name (OpenAI's limit).
const MAX_TOOL_NAME: usize = 64;
/// Most alternatives per position (OpenAI's limit).
const MAX_TOP_LOGPROBS: u32 = 20;

fn model_id(field: &'static str, id: String) -> Result<ModelId, ValidationError> {
    ModelId::parse(id).map_err(|reason| ValidationError::ModelId { field, reason })
}

/// Checks a request and turns it into a job.
pub fn validate(request: GenerateRequest, limits: &RequestLimits) -> Result<Job, ValidationError> {
    let model = model_id("model", request.model)?;
    if request.fallback_models.len() > MAX_FALLBACKS {
        return Err(ValidationError::TooManyFallbacks { max: MAX_FALLBACKS });
    }
    let fallbacks = request
        .fallback_models
        .into_iter()
        .map(|id| model_id("fallback_models", id))
        .collect::<Result<Vec<_>, _>>()?;
    check_client_request_id(&request.client_request_id)?;
    let messages = match request.input {
        None => return Err(ValidationError::NoInput),
        Some(Input::Prompt(prompt)) => {
            if prompt.trim().is_empty() {
                return Err(ValidationError::EmptyPrompt);
            }
            vec![ChatMessage::text(Role::User, prompt)]
        }
        Some(Input::Messages(list)) => messages(list.messages)?,
    };
    let params = params(request.params.unwrap_or_default(), limits)?;
    Ok(Job {
        model,
        fallbacks,
        messages,
        params,
        client_request_id: request.client_request_id,
        priority: crate::domain::Priority::Interactive,
    })
}

/// Checks an embedding request (its model id, client id and inputs; at
/// most `limits.max_batch_items` texts, none empty).
pub fn validate_embed(
    request: pb::EmbedRequest,
    limits: &RequestLimits,
) -> Result<EmbedJob, ValidationError> {
    let model = model_id("model", request.model)?;
    check_client_request_id(&request.client_request_id)?;
    if request.inputs.is_empty() {
        return Err(ValidationError::NoInputs);
    }
    if request.inputs.len() > limits.max_batch_items {
        return Err(ValidationError::TooManyInputs {
            inputs: request.inputs.len(),
            max: limits.max_batch_items,
        });
    }
    if let Some(index) = request.inputs.iter().position(|t| t.is_empty()) {
        return Err(ValidationError::EmptyInput { index });
    }
    Ok(EmbedJob {
        model,
        inputs: request.inputs,
        client_request_id: request.client_request_id,
        // The door sets the caller's class once it knows the key.
        priority: crate::domain::Priority::Interactive,
    })
}

fn check_client_request_id(id: &str) -> Result<(), ValidationError> {
    if id.len() > MAX_CLIENT_ID_BYTES || id.chars().any(char::is_control) {
        return Err(ValidationError::ClientRequestId {
            max: MAX_CLIENT_ID_BYTES,
        });
    }
    Ok(())
}

fn messages(
    list: Vec<ai_router_proto::v1::ChatMessage>,
) -> Result<Vec<ChatMessage>, ValidationError> {
    if list.is_empty() {
        return Err(ValidationError::NoMessages);
    }
    if list
        .iter()
        .all(|m| m.content.trim().is_empty() && m.tool_calls.is_empty())
    {
        return Err(ValidationError::BlankMessages);
    }
    list.into_iter()
        .enumerate()
        .map(|(index, m)| {
            let role = Role::parse(&m.role).ok_or(ValidationError::UnknownRole { index })?;
            if role == Role::Tool && m.tool_call_id.is_empty() {
                return Err(ValidationError::ToolCallId { index });
            }
            Ok(ChatMessage {
                role,
                content: m.content,
                tool_calls: m
                    .tool_calls
                    .into_iter()
                    .map(|c| ToolCall {
                        id: c.id,
                        name: c.name,
                        arguments: c.arguments,
                    })
                    .collect(),
                tool_call_id: Some(m.tool_call_id).filter(|id| !id.is_empty()),
            })
        })
        .collect()
}

fn params(
    p: ai_router_proto::v1::GenerationParams,
    limits: &RequestLimits,
) -> Result<Params, ValidationError> {
    let max_tokens = match p.max_tokens {
        Some(0) => return Err(ValidationError::ZeroMaxTokens),
        Some(n) if n > limits.max_tokens => {
            return Err(ValidationError::MaxTokensOverLimit {
                requested: n,
                limit: limits.max_tokens,
            });
        }
        Some(n) => n,
        None => limits.default_max_tokens.min(limits.max_tokens),
    };
    if let Some(t) = p.temperature
        && !(t.is_finite() && (0.0..=2.0).contains(&t))
    {
        return Err(ValidationError::Temperature);
    }
    if let Some(top_p) = p.top_p
        && !(top_p.is_finite() && top_p > 0.0 && top_p <= 1.0)
    {
        return Err(ValidationError::TopP);
    }
    if p.stop.len() > MAX_STOP {
        return Err(ValidationError::TooManyStops { max: MAX_STOP });
    }
    if p.stop
        .iter()
        .any(|s| s.is_empty() || s.len() > MAX_STOP_BYTES)
    {
        return Err(ValidationError::StopLength {
            max_bytes: MAX_STOP_BYTES,
        });
    }
    for (field, value) in [
        ("presence_penalty", p.presence_penalty),
        ("frequency_penalty", p.frequency_penalty),
    ] {
        if value.is_some_and(|v| !(v.is_finite() && (-2.0..=2.0).contains(&v))) {
            return Err(ValidationError::Penalty { field });
        }
    }
    let tools = tools(p.tools)?;
    let tool_choice = tool_choice(p.tool_choice, &tools)?;
    let logprobs = match (p.logprobs, p.top_logprobs) {
        (false, None) => None,
        (true, top) if top.unwrap_or(0) <= MAX_TOP_LOGPROBS => Some(top.unwrap_or(0)),
        _ => return Err(ValidationError::TopLogprobs),
    };
    Ok(Params {
        max_tokens,
        temperature: p.temperature,
        top_p: p.top_p,
        stop: p.stop,
        seed: p.seed,
        presence_penalty: p.presence_penalty,
        frequency_penalty: p.frequency_penalty,
        response_format: response_format(p.response_format)?,
        tools,
        tool_choice,
        logprobs,
    })
}

fn tools(list: Vec<pb::Tool>) -> Result<Vec<Tool>, ValidationError> {
    if list.len() > MAX_TOOLS {
        return Err(ValidationError::TooManyTools { max: MAX_TOOLS });
    }
    let mut seen = std::collections::HashSet::new();
    list.into_iter()
        .enumerate()
        .map(|(index, t)| {
            let good_name = (1..=MAX_TOOL_NAME).contains(&t.name.len())
                && t.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !good_name || !seen.insert(t.name.clone()) {
                return Err(ValidationError::ToolName { index });
            }
            let parameters = match t.parameters_json.trim() {
                "" => None,
                text => Some(json_object(text, || format!("tools[{index}].parameters"))?),
            };
            Ok(Tool {
                name: t.name,
                description: t.description,
                parameters,
            })
        })
        .collect()
}

fn tool_choice(
    choice: Option<pb::ToolChoice>,
    tools: &[Tool],
) -> Result<Option<ToolChoice>, ValidationError> {
    use pb::tool_choice::{Choice, Mode};
    let Some(choice) = choice.and_then(|c| c.choice) else {
        return Ok(None);
    };
    if tools.is_empty() {
        return Err(ValidationError::ToolChoice("is only allowed with tools"));
    }
    Ok(Some(match choice {
        Choice::Function(name) if tools.iter().any(|t| t.name == name) => {
            ToolChoice::Function(name)
        }
        Choice::Function(_) => {
            return Err(ValidationError::ToolChoice(
                "names a function that is not in tools",
            ));
        }
        Choice::Mode(m) => match Mode::try_from(m) {
            Ok(Mode::None) => ToolChoice::None,
            Ok(Mode::Required) => ToolChoice::Required,
            Ok(Mode::AutoUnspecified) | Err(_) => ToolChoice::Auto,
        },
    }))
}

fn response_format(
    format: Option<pb::ResponseFormat>,
) -> Result<Option<ResponseFormat>, ValidationError> {
    use pb::response_format::Format;
    Ok(match format.and_then(|f| f.format) {
        None => None,
        Some(Format::JsonObject(_)) => Some(ResponseFormat::JsonObject),
        Some(Format::JsonSchema(s)) => Some(ResponseFormat::JsonSchema {
            name: if s.name.is_empty() {
                "response".to_string()
            } else {
                s.name
            },
            schema: json_object(&s.schema_json, || {
                "response_format.json_schema.schema".to_string()
            })?,
            strict: s.strict,
        }),
    })
}

/// `text` when it is a JSON object.
fn json_object(text: &str, field: impl Fn() -> String) -> Result<String, ValidationError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => Ok(text.to_string()),
        _ => Err(ValidationError::NotAJsonObject { field: field() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ModelIdError;
    use ai_router_proto::v1::{ChatMessages, GenerationParams};

    fn req(params: GenerationParams) -> GenerateRequest {
        GenerateRequest {
            model: "tiny".into(),
            input: Some(Input::Prompt("hi".into())),
            params: Some(params),
            ..Default::default()
        }
    }

    fn rejected(r: GenerateRequest) -> ValidationError {
        validate(r, &RequestLimits::default()).unwrap_err()
    }

    fn with(params: GenerationParams) -> ValidationError {
        rejected(req(params))
    }

    #[test]
    fn each_broken_rule_has_its_own_error_naming_the_field() {
        let limit = RequestLimits::default().max_tokens;
        let cases = [
            (
                with(GenerationParams {
                    max_tokens: Some(0),
                    ..Default::default()
                }),
                ValidationError::ZeroMaxTokens,
                "max_tokens",
            ),
            (
                with(GenerationParams {
                    max_tokens: Some(1 << 30),
                    ..Default::default()
                }),
                ValidationError::MaxTokensOverLimit {
                    requested: 1 << 30,
                    limit,
                },
                "max_tokens",
            ),
            (
                with(GenerationParams {
                    temperature: Some(f32::NAN),
                    ..Default::default()
                }),
                ValidationError::Temperature,
                "temperature",
            ),
            (
                with(GenerationParams {
                    temperature: Some(-1.0),
                    ..Default::default()
                }),
                ValidationError::Temperature,
                "temperature",
            ),
            (
                with(GenerationParams {
                    top_p: Some(1.5),
                    ..Default::default()
                }),
                ValidationError::TopP,
                "top_p",
            ),
            (
                with(GenerationParams {
                    top_p: Some(0.0),
                    ..Default::default()
                }),
                ValidationError::TopP,
                "top_p",
            ),
            (
                with(GenerationParams {
                    stop: vec![String::new()],
                    ..Default::default()
                }),
                ValidationError::StopLength {
                    max_bytes: MAX_STOP_BYTES,
                },
                "stop sequences",
            ),
        ];
        for (got, want, field) in cases {
            assert_eq!(got, want);
            assert!(got.to_string().contains(field), "{got}");
        }
    }

    #[test]
    fn input_and_ids_are_checked() {
        let mut r = req(GenerationParams::default());
        r.input = Some(Input::Prompt("  ".into()));
        assert_eq!(rejected(r), ValidationError::EmptyPrompt);
        let mut r = req(GenerationParams::default());
        r.input = Some(Input::Messages(ChatMessages { messages: vec![] }));
        assert_eq!(rejected(r), ValidationError::NoMessages);
        let mut r = req(GenerationParams::default());
        r.input = Some(Input::Messages(ChatMessages {
            messages: vec![ai_router_proto::v1::ChatMessage {
                role: "wizard".into(),
                content: "x".into(),
                ..Default::default()
            }],
        }));
        let err = rejected(r);
        assert_eq!(err, ValidationError::UnknownRole { index: 0 });
        assert!(err.to_string().contains("system, user, assistant, tool"));
        let mut r = req(GenerationParams::default());
        r.input = None;
        assert_eq!(rejected(r), ValidationError::NoInput);
        let mut r = req(GenerationParams::default());
        r.model = "../etc/passwd".into();
        assert_eq!(
            rejected(r),
            ValidationError::ModelId {
                field: "model",
                reason: ModelIdError::LooksLikeAPath
            }
        );
        let mut r = req(GenerationParams::default());
        r.fallback_models = vec!["--flag".into()];
        let err = rejected(r);
        assert!(err.to_string().starts_with("fallback_models: "), "{err}");
    }

    #[test]
    fn prompt_text_is_never_in_a_message() {
        let mut r = req(GenerationParams {
            max_tokens: Some(0),
            ..Default::default()
        });
        r.input = Some(Input::Prompt("secret-canary-text".into()));
        assert!(!rejected(r).to_string().contains("canary"));
    }

    #[test]
    fn defaults_fill_max_tokens() {
        let job = validate(req(GenerationParams::default()), &RequestLimits::default()).unwrap();
        assert_eq!(
            job.params.max_tokens,
            RequestLimits::default().default_max_tokens
        );
        assert_eq!(job.messages[0].role, Role::User);
    }
}
