//! Short, stable names for protobuf enums in the tables and the timing
//! summary, instead of the generated `BACKEND_KIND_LOCAL`-style names (too
//! long for a column; `--json` prints those). Unknown numeric values, which a
//! newer server may send, are shown as `unknown(N)` rather than hidden.

use ai_router_client::proto::{BackendKind, FinishReason, ModelState};

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
        assert_eq!(backend_name(BackendKind::Openrouter as i32), "openrouter");
        assert_eq!(backend_name(42), "unknown(42)");
        assert_eq!(state_name(ModelState::Warm as i32), "warm");
        assert_eq!(finish_reason_name(FinishReason::Length as i32), "length");
        assert_eq!(finish_reason_name(-1), "unknown(-1)");
    }
}
