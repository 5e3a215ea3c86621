//! `POST /v1/completions` (the legacy text-completion API): the prompt is
//! sent as one user message, as the gRPC `prompt` is. Whole or streamed.

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
use super::wire::CompletionRequest;
use crate::domain::{Completion, Delta};

const SPAN: &str = "completions";

pub async fn handle(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CompletionRequest>,
) -> Result<Response, HttpError> {
    let include_usage = body
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    let (request, streamed) = super::request::completion(body, &caller)?;
    let (job, metered) = unary::accept(&state.engine, &caller, request)?;
    let id = AnswerId::new("cmpl", job.model.as_str());
    if streamed {
        let render = TextRender { id, include_usage };
        return stream::respond(&state, caller, job, metered, SPAN, render).await;
    }
    let c = unary::run(&state, &caller, &job, metered, SPAN).await?;
    let finish = response::finish_reason(c.finish_reason.as_deref());
    let id = AnswerId {
        model: c.model.clone(),
        ..id
    };
    let usage = Some(response::usage(&c));
    Ok(Json(response::text_completion(&id, c.text, Some(finish), usage)).into_response())
}

struct TextRender {
    id: AnswerId,
    include_usage: bool,
}

impl Render for TextRender {
    fn opening(&self) -> Vec<Event> {
        Vec::new()
    }

    /// Only answer text: the text-completion API has no field for
    /// reasoning, and its requests cannot ask for tools or (here)
    /// log-probabilities.
    fn delta(&self, delta: Delta) -> Option<Event> {
        match delta {
            Delta::Text(text) => Some(json_event(&response::text_completion(
                &self.id, text, None, None,
            ))),
            Delta::Loading(progress) => Some(loading_comment(&progress)),
            Delta::Reasoning(_) | Delta::ToolCall(_) | Delta::Logprobs(_) => None,
        }
    }

    fn closing(&self, c: &Completion) -> Vec<Event> {
        let finish = response::finish_reason(c.finish_reason.as_deref());
        let mut events = vec![json_event(&response::text_completion(
            &self.id,
            String::new(),
            Some(finish),
            None,
        ))];
        if self.include_usage {
            let mut last =
                response::text_completion(&self.id, String::new(), None, Some(response::usage(c)));
            last.choices.clear();
            events.push(json_event(&last));
        }
        events
    }
}
