//! `POST /v1/chat/completions`: whole or streamed (`stream: true`, with
//! `stream_options.include_usage` for a last usage chunk, then
//! `data: [DONE]`).

use axum::Json;
use axum::extract::State;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::body::JsonBody;
use super::caller::Caller;
use super::response::{self, AnswerId};
use super::status::HttpError;
use super::stream::{self, Render, json_event, loading_comment};
use super::unary;
use super::wire::{ChatRequest, Delta};
use crate::domain::{self, Completion};

/// The span name, as `generate` is on the gRPC door.
const SPAN: &str = "chat_completions";

pub async fn handle(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ChatRequest>,
) -> Result<Response, HttpError> {
    let include_usage = body
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    let (request, streamed) = super::request::chat(body, &caller)?;
    let (job, metered) = unary::accept(&state.engine, &caller, request)?;
    let id = AnswerId::new("chatcmpl", job.model.as_str());
    if streamed {
        let render = ChatRender { id, include_usage };
        return stream::respond(&state, caller, job, metered, SPAN, render).await;
    }
    let completion = unary::run(&state, &caller, &job, metered, SPAN).await?;
    Ok(Json(response::chat_completion(id, completion)).into_response())
}

struct ChatRender {
    id: AnswerId,
    include_usage: bool,
}

impl Render for ChatRender {
    fn opening(&self) -> Vec<Event> {
        let delta = Delta {
            role: Some("assistant"),
            content: Some(String::new()),
            ..Delta::default()
        };
        vec![json_event(&response::chat_chunk(&self.id, delta, None))]
    }

    fn delta(&self, delta: domain::Delta) -> Option<Event> {
        let delta = match delta {
            domain::Delta::Text(text) => Delta {
                content: Some(text),
                ..Delta::default()
            },
            domain::Delta::Reasoning(text) => Delta {
                reasoning_content: Some(text),
                ..Delta::default()
            },
            domain::Delta::ToolCall(call) => Delta {
                tool_calls: Some(vec![response::tool_call_chunk(call)]),
                ..Delta::default()
            },
            domain::Delta::Logprobs(list) => {
                let chunk = response::chat_chunk_with(
                    &self.id,
                    Delta::default(),
                    response::logprobs(list),
                    None,
                );
                return Some(json_event(&chunk));
            }
            domain::Delta::Loading(progress) => return Some(loading_comment(&progress)),
        };
        Some(json_event(&response::chat_chunk(&self.id, delta, None)))
    }

    fn closing(&self, c: &Completion) -> Vec<Event> {
        let finish = response::finish_reason(c.finish_reason.as_deref());
        let mut events = vec![json_event(&response::chat_chunk(
            &self.id,
            Delta::default(),
            Some(finish),
        ))];
        if self.include_usage {
            events.push(json_event(&response::chat_usage_chunk(&self.id, c)));
        }
        events
    }
}
