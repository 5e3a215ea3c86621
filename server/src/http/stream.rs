//! Streamed answers as server-sent events, the gRPC `GenerateStream`
//! pattern: a producer task on the tracker runs the job and sends pieces
//! through a bounded channel; the response body reads it. When the caller
//! goes away hyper drops the body, the channel closes, the producer stops
//! and dropping its engine future aborts the upstream request.
//!
//! The handler waits for the first piece before it answers, so a request
//! that fails before any text (unknown model, queue full, upstream 429) gets
//! its own HTTP status and `Retry-After` instead of a 200 whose stream
//! fails. A failure after text has been sent ends the stream with an
//! `{"error": ...}` event, which the OpenAI SDKs raise as an error.

use std::convert::Infallible;

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

use super::AppState;
use super::caller::Caller;
use super::status::HttpError;
use crate::access::Metered;
use crate::api::outcome::OutcomeRecorder;
use crate::api::{auth, trace};
use crate::domain::{Completion, Delta, DeltaSink, Job, LoadProgress};
use crate::error::RouterError;

/// Pieces buffered towards a slow reader before the upstream is slowed down.
const CHANNEL: usize = 32;

/// What the producer hands the response body.
pub enum Piece {
    /// New output.
    Output(Delta),
    /// The end, with the summary.
    Done(Box<Completion>),
    /// The end, failed.
    Failed(HttpError),
}

/// How one route renders its pieces as events.
pub trait Render: Send + 'static {
    /// Events before the first text (the chat role chunk).
    fn opening(&self) -> Vec<Event>;
    /// One piece of output; None for a kind the route cannot show.
    fn delta(&self, delta: Delta) -> Option<Event>;
    /// The finish chunk, and the usage chunk when asked for.
    fn closing(&self, completion: &Completion) -> Vec<Event>;
}

/// One JSON event.
/// An SSE comment sent while the stream waits for its local model to
/// start: OpenAI clients skip comments, and someone reading the raw stream
/// (curl) sees why it waits.
pub fn loading_comment(progress: &LoadProgress) -> Event {
    Event::default().comment(format!(
        "loading model {} ({} other loads queued)",
        progress.model, progress.loads_queued
    ))
}

pub fn json_event(value: &impl Serialize) -> Event {
    // The wire types are plain structs with string keys: serialising them
    // cannot fail, and an empty event would be the harmless outcome anyway.
    Event::default().data(serde_json::to_string(value).unwrap_or_default())
}

/// Starts the job and answers with its event stream (see the module docs).
pub async fn respond(
    state: &AppState,
    caller: Caller,
    job: Job,
    metered: Metered,
    name: &'static str,
    render: impl Render,
) -> Result<Response, HttpError> {
    let (tx, mut rx) = mpsc::channel(CHANNEL);
    let span = trace::generation_span(name, &job, Some(&caller.trace_context));
    let engine = state.engine.clone();
    let hard_stop = state.hard_stop.clone();
    engine.clone().spawn_request_work(
        async move {
            let (text_tx, mut text_rx) = mpsc::channel::<Delta>(CHANNEL);
            let recorder = OutcomeRecorder::new(&engine, job.model.as_str());
            let work = engine.run(
                &job,
                DeltaSink::Forward(text_tx),
                caller.arrived,
                caller.deadline,
            );
            tokio::pin!(work);
            let result = loop {
                tokio::select! {
                    biased;
                    Some(text) = text_rx.recv() => {
                        if tx.send(Piece::Output(text)).await.is_err() {
                            return;
                        }
                    }
                    result = &mut work => break result,
                    _ = tx.closed() => return,
                    _ = hard_stop.cancelled() => {
                        let _ = tx.send(Piece::Failed(RouterError::ShuttingDown.into())).await;
                        return;
                    }
                }
            };
            while let Ok(text) = text_rx.try_recv() {
                if tx.send(Piece::Output(text)).await.is_err() {
                    return;
                }
            }
            recorder.finish(&result);
            auth::settle(metered, &result);
            trace::record_outcome(&tracing::Span::current(), &result);
            let result = result.map_err(|e| auth::scrub(&engine, &caller.principal, e));
            let last = match result {
                Ok(c) => Piece::Done(Box::new(c)),
                Err(e) => Piece::Failed(e.into()),
            };
            let _ = tx.send(last).await;
        }
        .instrument(span),
    );
    let first = match rx.recv().await {
        Some(Piece::Failed(e)) => return Err(e),
        Some(piece) => piece,
        // The producer stopped without a word: only at a hard stop.
        None => return Err(RouterError::ShuttingDown.into()),
    };
    let opening = futures::stream::iter(render.opening());
    let pieces = futures::stream::once(async { first })
        .chain(ReceiverStream::new(rx))
        .flat_map(move |piece| futures::stream::iter(events(&render, piece)));
    let body = opening.chain(pieces).map(Ok::<_, Infallible>);
    Ok(Sse::new(body).into_response())
}

fn events(render: &impl Render, piece: Piece) -> Vec<Event> {
    match piece {
        Piece::Output(delta) => render.delta(delta).into_iter().collect(),
        Piece::Done(c) => {
            let mut events = render.closing(&c);
            events.push(Event::default().data("[DONE]"));
            events
        }
        Piece::Failed(e) => vec![json_event(&e.body())],
    }
}
