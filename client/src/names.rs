//! Short, stable names for protobuf enums and gRPC codes.
//!
//! Tables and JSON output use these instead of the generated
//! `BACKEND_KIND_LOCAL`-style names (too long for a column) or tonic's
//! `Code` display (a sentence, not a name; the shared
//! `ai_router_proto::status::code_name` gives the spec's). Unknown numeric values, which a
//! newer server may send, are shown as `unknown(N)` rather than hidden.

use ai_router_proto::status::code_name;

use crate::proto::{BackendKind, FinishReason, ModelState};

/// Name of a numeric gRPC code as carried in `ItemError.code`. Numbers
/// outside the known range are kept visible instead of collapsing to UNKNOWN.
pub fn code_number_name(code: i32) -> String {
    if (0..=16).contains(&code) {
        code_name(tonic::Code::from_i32(code)).to_owned()
    } else {
        format!("CODE_{code}")
    }
}

/// `local`, `openai`, `openrouter` or `unspecified`.
pub fn backend_name(value: i32) -> String {
    match BackendKind::try_from(value) {
        Ok(BackendKind::Unspecified) => "unspecified".into(),
        Ok(BackendKind::Local) => "local".into(),
        Ok(BackendKind::Openai) => "openai".into(),
        Ok(BackendKind::Openrouter) => "openrouter".into(),
        Err(_) => format!("unknown({value})"),
    }
}

/// `cold`, `loading`, `warm`, `failed` or `unspecified`.
pub fn state_name(value: i32) -> String {
    match ModelState::try_from(value) {
        Ok(ModelState::Unspecified) => "unspecified".into(),
        Ok(ModelState::Cold) => "cold".into(),
        Ok(ModelState::Loading) => "loading".into(),
        Ok(ModelState::Warm) => "warm".into(),
        Ok(ModelState::Failed) => "failed".into(),
        Err(_) => format!("unknown({value})"),
    }
}

/// `stop`, `length`, `content_filter`, `tool_calls` or `unspecified`, the
/// same words OpenAI-compatible APIs use.
pub fn finish_reason_name(value: i32) -> String {
    match FinishReason::try_from(value) {
        Ok(FinishReason::Unspecified) => "unspecified".into(),
        Ok(FinishReason::Stop) => "stop".into(),
        Ok(FinishReason::Length) => "length".into(),
        Ok(FinishReason::ContentFilter) => "content_filter".into(),
        Ok(FinishReason::ToolCalls) => "tool_calls".into(),
        Err(_) => format!("unknown({value})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_known_and_unknown_values() {
        assert_eq!(code_number_name(5), "NOT_FOUND");
        assert_eq!(code_number_name(0), "OK");
        assert_eq!(code_number_name(99), "CODE_99");
        assert_eq!(backend_name(BackendKind::Openrouter as i32), "openrouter");
        assert_eq!(backend_name(42), "unknown(42)");
        assert_eq!(state_name(ModelState::Warm as i32), "warm");
        assert_eq!(finish_reason_name(FinishReason::Length as i32), "length");
        assert_eq!(finish_reason_name(-1), "unknown(-1)");
    }
}
