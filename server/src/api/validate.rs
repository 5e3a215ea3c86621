//! Request validation: every rule in one file, every message says what to
//! change. Prompt text is never echoed back.

use ai_router_proto::v1::{GenerateRequest, generate_request::Input};

use crate::config::RequestLimits;
use crate::error::RouterError;
use crate::job::{Job, Params};
use crate::routing::check_model_id;
use crate::upstream::types::WireMessage;

/// Most fallback models per request.
const MAX_FALLBACKS: usize = 8;
/// Most stop sequences.
const MAX_STOP: usize = 16;
/// Longest stop sequence, bytes.
const MAX_STOP_BYTES: usize = 256;
/// Longest client request id, bytes.
const MAX_CLIENT_ID_BYTES: usize = 128;
/// Roles accepted in chat messages.
const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

fn invalid(message: impl Into<String>) -> RouterError {
    RouterError::InvalidArgument(message.into())
}

/// Checks a request and turns it into a job.
pub fn validate(request: GenerateRequest, limits: &RequestLimits) -> Result<Job, RouterError> {
    check_model_id(&request.model).map_err(|why| invalid(format!("model: {why}")))?;
    if request.fallback_models.len() > MAX_FALLBACKS {
        return Err(invalid(format!(
            "at most {MAX_FALLBACKS} fallback_models are allowed"
        )));
    }
    for fallback in &request.fallback_models {
        check_model_id(fallback).map_err(|why| invalid(format!("fallback_models: {why}")))?;
    }
    if request.client_request_id.len() > MAX_CLIENT_ID_BYTES
        || request.client_request_id.chars().any(char::is_control)
    {
        return Err(invalid(format!(
            "client_request_id must be at most {MAX_CLIENT_ID_BYTES} bytes of printable text"
        )));
    }
    let messages = match request.input {
        None => return Err(invalid("set either prompt or messages")),
        Some(Input::Prompt(prompt)) => {
            if prompt.trim().is_empty() {
                return Err(invalid("prompt is empty"));
            }
            vec![WireMessage {
                role: "user".into(),
                content: prompt,
            }]
        }
        Some(Input::Messages(list)) => messages(list.messages)?,
    };
    let params = params(request.params.unwrap_or_default(), limits)?;
    Ok(Job {
        model: request.model,
        fallbacks: request.fallback_models,
        messages,
        params,
        client_request_id: request.client_request_id,
    })
}

fn messages(list: Vec<ai_router_proto::v1::ChatMessage>) -> Result<Vec<WireMessage>, RouterError> {
    if list.is_empty() {
        return Err(invalid("messages is empty"));
    }
    if list.iter().all(|m| m.content.trim().is_empty()) {
        return Err(invalid("every message is empty"));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, m)| {
            if !ROLES.contains(&m.role.as_str()) {
                return Err(invalid(format!(
                    "messages[{i}].role must be one of {}",
                    ROLES.join(", ")
                )));
            }
            Ok(WireMessage {
                role: m.role,
                content: m.content,
            })
        })
        .collect()
}

fn params(
    p: ai_router_proto::v1::GenerationParams,
    limits: &RequestLimits,
) -> Result<Params, RouterError> {
    let max_tokens = match p.max_tokens {
        Some(0) => return Err(invalid("max_tokens must be at least 1")),
        Some(n) if n > limits.max_tokens => {
            return Err(invalid(format!(
                "max_tokens {n} is above this router's limit of {}",
                limits.max_tokens
            )));
        }
        Some(n) => n,
        None => limits.default_max_tokens.min(limits.max_tokens),
    };
    if let Some(t) = p.temperature
        && !(t.is_finite() && (0.0..=2.0).contains(&t))
    {
        return Err(invalid("temperature must be a number from 0 to 2"));
    }
    if let Some(top_p) = p.top_p
        && !(top_p.is_finite() && top_p > 0.0 && top_p <= 1.0)
    {
        return Err(invalid("top_p must be greater than 0 and at most 1"));
    }
    if p.stop.len() > MAX_STOP {
        return Err(invalid(format!(
            "at most {MAX_STOP} stop sequences are allowed"
        )));
    }
    if p.stop
        .iter()
        .any(|s| s.is_empty() || s.len() > MAX_STOP_BYTES)
    {
        return Err(invalid(format!(
            "stop sequences must be 1 to {MAX_STOP_BYTES} bytes long"
        )));
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
    use ai_router_proto::v1::{ChatMessages, GenerationParams};

    fn req(params: GenerationParams) -> GenerateRequest {
        GenerateRequest {
            model: "tiny".into(),
            input: Some(Input::Prompt("hi".into())),
            params: Some(params),
            ..Default::default()
        }
    }

    fn rejects(r: GenerateRequest, needle: &str) {
        let err = validate(r, &RequestLimits::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "expected {needle:?} in {err:?}");
    }

    #[test]
    fn each_bad_field_is_named() {
        rejects(
            req(GenerationParams {
                max_tokens: Some(0),
                ..Default::default()
            }),
            "max_tokens",
        );
        rejects(
            req(GenerationParams {
                max_tokens: Some(1 << 30),
                ..Default::default()
            }),
            "max_tokens",
        );
        rejects(
            req(GenerationParams {
                temperature: Some(f32::NAN),
                ..Default::default()
            }),
            "temperature",
        );
        rejects(
            req(GenerationParams {
                temperature: Some(-1.0),
                ..Default::default()
            }),
            "temperature",
        );
        rejects(
            req(GenerationParams {
                top_p: Some(1.5),
                ..Default::default()
            }),
            "top_p",
        );
        rejects(
            req(GenerationParams {
                top_p: Some(0.0),
                ..Default::default()
            }),
            "top_p",
        );
        let mut r = req(GenerationParams::default());
        r.input = Some(Input::Prompt("  ".into()));
        rejects(r, "prompt is empty");
        let mut r = req(GenerationParams::default());
        r.input = Some(Input::Messages(ChatMessages { messages: vec![] }));
        rejects(r, "messages is empty");
        let mut r = req(GenerationParams::default());
        r.input = None;
        rejects(r, "prompt or messages");
        let mut r = req(GenerationParams::default());
        r.model = "../etc/passwd".into();
        rejects(r, "model");
    }

    #[test]
    fn defaults_fill_max_tokens() {
        let job = validate(req(GenerationParams::default()), &RequestLimits::default()).unwrap();
        assert_eq!(
            job.params.max_tokens,
            RequestLimits::default().default_max_tokens
        );
        assert_eq!(job.messages[0].role, "user");
    }
}
