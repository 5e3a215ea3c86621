//! Shared helpers for integration tests (included with `mod common;`).
#![allow(dead_code)]

use ai_router_proto::v1::{GenerateRequest, GenerationParams, generate_request::Input};

/// A prompt request with a small max_tokens.
pub fn prompt(model: &str, text: &str, max_tokens: u32) -> GenerateRequest {
    GenerateRequest {
        model: model.into(),
        input: Some(Input::Prompt(text.into())),
        params: Some(GenerationParams {
            max_tokens: Some(max_tokens),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Adds a gRPC deadline to a request.
pub fn with_timeout<T>(msg: T, timeout: std::time::Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(timeout);
    r
}
