//! `GenerateStream`: text, reasoning and tool-call deltas as the upstream
//! produces them, then a summary chunk. The producer task sends through a bounded channel; when
//! the client goes away the send fails, the task ends, and dropping the
//! engine future aborts the upstream request.

use std::sync::Arc;

use ai_router_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::accept::{Accepted, accept};
use super::outcome::OutcomeRecorder;
use super::{auth, convert, trace};
use crate::domain::{Delta, DeltaSink};
use crate::engine::Engine;
use crate::error::RouterError;

/// Chunks buffered towards a slow reader before the upstream is slowed down.
const CHANNEL: usize = 32;

type ChunkStream = ReceiverStream<Result<pb::GenerateChunk, Status>>;

pub fn handle(
    engine: Arc<Engine>,
    request: Request<pb::GenerateRequest>,
) -> Result<Response<ChunkStream>, Status> {
    let Accepted {
        arrived,
        deadline,
        metadata,
        job,
        principal,
        mut metered,
    } = accept(&engine, request)?;
    let (tx, rx) = mpsc::channel(CHANNEL);
    let span = trace::generation_span("generate_stream", &job, Some(&metadata));
    // `hard_stop` ends the work if it outlives the shutdown grace.
    let hard_stop = engine.lifecycle().requests_stop().clone();
    engine.clone().spawn_request_work(
        async move {
            let (delta_tx, mut delta_rx) = mpsc::channel::<Delta>(CHANNEL);
            let recorder = OutcomeRecorder::new(&engine, job.model.as_str());
            let work = engine.run(&job, DeltaSink::Forward(delta_tx), arrived, deadline);
            tokio::pin!(work);
            let result = loop {
                tokio::select! {
                    biased;
                    Some(delta) = delta_rx.recv() => {
                        if delta.is_output() {
                            metered.note_delta();
                        }
                        if tx.send(Ok(delta_chunk(delta))).await.is_err() {
                            return;
                        }
                    }
                    result = &mut work => break result,
                    _ = tx.closed() => return,
                    _ = hard_stop.cancelled() => {
                        let _ = tx.send(Err(RouterError::ShuttingDown.into())).await;
                        return;
                    }
                }
            };
            // Deltas the upstream produced before the call ended: counted
            // and the call settled before they are sent, so a client that
            // leaves now does not turn a finished call into a cancelled one.
            let mut rest = Vec::new();
            while let Ok(delta) = delta_rx.try_recv() {
                if delta.is_output() {
                    metered.note_delta();
                }
                rest.push(delta);
            }
            auth::settle(metered, &result);
            for delta in rest {
                if tx.send(Ok(delta_chunk(delta))).await.is_err() {
                    return;
                }
            }
            recorder.finish(&result);
            let current = tracing::Span::current();
            trace::record_outcome(&current, &result);
            let trace_id = crate::telemetry::trace_id_of(&current);
            let last = result
                .map(|c| pb::GenerateChunk {
                    done: Some(convert::response(
                        c,
                        job.client_request_id.clone(),
                        trace_id,
                    )),
                    ..Default::default()
                })
                .map_err(|e| Status::from(auth::scrub(&engine, &principal, e)));
            let _ = tx.send(last).await;
        }
        .instrument(span),
    );
    Ok(Response::new(ReceiverStream::new(rx)))
}

fn delta_chunk(delta: Delta) -> pb::GenerateChunk {
    match delta {
        Delta::Text(delta) => pb::GenerateChunk {
            delta,
            ..Default::default()
        },
        Delta::Reasoning(reasoning_delta) => pb::GenerateChunk {
            reasoning_delta,
            ..Default::default()
        },
        Delta::ToolCall(call) => pb::GenerateChunk {
            tool_calls: vec![convert::tool_call_delta(call)],
            ..Default::default()
        },
        Delta::Logprobs(list) => pb::GenerateChunk {
            logprobs: convert::logprobs(list),
            ..Default::default()
        },
        Delta::Loading(progress) => pb::GenerateChunk {
            loading: Some(pb::LoadProgress {
                model: progress.model,
                loads_queued: progress.loads_queued,
            }),
            ..Default::default()
        },
    }
}
