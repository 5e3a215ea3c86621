//! Request validation: every rule in one file, each broken rule a typed
//! [`ValidationError`] whose message says what to change. Proto in, domain
//! [`Job`] out. Prompt text is never echoed back.

use ai_router_proto::v1::{GenerateRequest, generate_request::Input};

use crate::config::RequestLimits;
use crate::domain::{ChatMessage, Job, ModelId, Params, Role, ValidationError};

/// Most fallback models per request.
const MAX_FALLBACKS: usize = 8;
/// Most stop sequences.
const MAX_STOP: usize = 16;
/// Longest stop sequence, bytes.
const MAX_STOP_BYTES: usize = 256;
/// Longest client request id, bytes.
const MAX_CLIENT_ID_BYTES: usize = 128;

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
    if request.client_request_id.len() > MAX_CLIENT_ID_BYTES
        || request.client_request_id.chars().any(char::is_control)
    {
        return Err(ValidationError::ClientRequestId {
            max: MAX_CLIENT_ID_BYTES,
        });
    }
    let messages = match request.input {
        None => return Err(ValidationError::NoInput),
        Some(Input::Prompt(prompt)) => {
            if prompt.trim().is_empty() {
                return Err(ValidationError::EmptyPrompt);
            }
            vec![ChatMessage {
                role: Role::User,
                content: prompt,
            }]
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

fn messages(
    list: Vec<ai_router_proto::v1::ChatMessage>,
) -> Result<Vec<ChatMessage>, ValidationError> {
    if list.is_empty() {
        return Err(ValidationError::NoMessages);
    }
    if list.iter().all(|m| m.content.trim().is_empty()) {
        return Err(ValidationError::BlankMessages);
    }
    list.into_iter()
        .enumerate()
        .map(|(index, m)| match Role::parse(&m.role) {
            Some(role) => Ok(ChatMessage {
                role,
                content: m.content,
            }),
            None => Err(ValidationError::UnknownRole { index }),
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
    Ok(Params {
        max_tokens,
        temperature: p.temperature,
        top_p: p.top_p,
        stop: p.stop,
        seed: p.seed,
    })
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
