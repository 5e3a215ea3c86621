//! `BatchGenerate`: items run concurrently (bounded by the batch's
//! concurrency and, through the executor, by every route's limits) and each
//! result is sent the moment it is ready, in completion order. Every item
//! gets exactly one result: a response, or its own error status.

use std::sync::Arc;
use std::time::Instant;

use ai_router_proto::v1 as pb;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::outcome::{OutcomeRecorder, record_invalid};
use super::{auth, convert, deadline, trace, validate};
use crate::access::Principal;
use crate::domain::DeltaSink;
use crate::domain::{Job, ValidationError};
use crate::engine::Engine;
use crate::error::RouterError;

/// Results buffered towards a slow reader; beyond it the batch slows down
/// instead of holding every result in memory.
const CHANNEL: usize = 16;

type ResultStream = ReceiverStream<Result<pb::BatchItemResult, Status>>;

pub fn handle(
    engine: Arc<Engine>,
    request: Request<pb::BatchGenerateRequest>,
) -> Result<Response<ResultStream>, Status> {
    let arrived = Instant::now();
    let deadline = deadline::deadline(request.metadata(), arrived);
    let (request_metadata, _, batch) = request.into_parts();
    let principal = auth::principal(&engine, &request_metadata)
        .and_then(|p| {
            engine.access().check_batch(&p, batch.items.len())?;
            Ok(p)
        })
        .map_err(|e| {
            record_invalid(&engine, &e);
            Status::from(e)
        })?;
    let limits = &engine.config().limits;
    if batch.items.is_empty() {
        return Err(RouterError::from(ValidationError::EmptyBatch).into());
    }
    if batch.items.len() > limits.max_batch_items {
        return Err(RouterError::from(ValidationError::BatchTooLarge {
            items: batch.items.len(),
            max: limits.max_batch_items,
        })
        .into());
    }
    let exec = engine.executor().config();
    let concurrency = match batch.max_concurrency as usize {
        0 => exec.batch_concurrency,
        n => n.min(exec.max_batch_concurrency),
    };
    // A key's own concurrency limit throttles its batch instead of failing
    // the items beyond it.
    let concurrency = principal
        .max_concurrency
        .map_or(concurrency, |max| concurrency.min(max));
    let total = batch.items.len();
    let (tx, rx) = mpsc::channel(CHANNEL);
    let span = tracing::info_span!(
        "batch_generate",
        otel.name = "batch_generate",
        items = total,
        concurrency
    );
    crate::telemetry::extract_parent(&span, &request_metadata);
    // `hard_stop` ends the work if it outlives the shutdown grace.
    let hard_stop = engine.lifecycle().requests_stop().clone();
    engine.clone().spawn_request_work(
        async move {
            let mut delivered = vec![false; total];
            let ordered = schedule(&engine, batch.items);
            let results = futures::stream::iter(ordered)
                .map(|(index, item)| run_item(&engine, &principal, index, item, deadline))
                .buffer_unordered(concurrency);
            tokio::pin!(results);
            loop {
                tokio::select! {
                    next = results.next() => match next {
                        Some(result) => {
                            let index = result.index as usize;
                            if tx.send(Ok(result)).await.is_err() {
                                return;
                            }
                            delivered[index] = true;
                        }
                        None => return,
                    },
                    _ = tx.closed() => return,
                    _ = hard_stop.cancelled() => break,
                }
            }
            // The shutdown grace ran out: every item still owed gets an error.
            for (index, _) in delivered.iter().enumerate().filter(|(_, d)| !**d) {
                let status = Status::from(RouterError::ShuttingDown);
                if tx.send(Ok(error_result(index, &status))).await.is_err() {
                    return;
                }
            }
        }
        .instrument(span),
    );
    Ok(Response::new(ReceiverStream::new(rx)))
}

/// The order items start in (results still carry their own index and
/// stream in completion order). Invalid items go first (they finish at
/// once); then items for models that are ready now (warm local models and
/// remote endpoints); then cold local models grouped by model, so each cold
/// model is started once and runs its items together, and an item never
/// waits behind a start it does not need. Within a group the caller's order
/// is kept. A model with items in flight is never evicted, so grouping also
/// keeps a model loaded until its items are done.
fn schedule(
    engine: &Engine,
    items: Vec<pb::GenerateRequest>,
) -> Vec<(usize, Result<Job, RouterError>)> {
    let mut jobs: Vec<(usize, Result<Job, RouterError>)> = items
        .into_iter()
        .map(|item| validate(item, &engine.config().limits).map_err(RouterError::from))
        .enumerate()
        .collect();
    jobs.sort_by_cached_key(|(_, job)| match job {
        Err(_) => (0, String::new()),
        Ok(job) if engine.is_ready(&job.model) => (1, String::new()),
        Ok(job) => (2, job.model.to_string()),
    });
    jobs
}

async fn run_item(
    engine: &Engine,
    principal: &Arc<Principal>,
    index: usize,
    job: Result<Job, RouterError>,
    deadline: Option<Instant>,
) -> pb::BatchItemResult {
    let started = Instant::now();
    let admitted = job.and_then(|mut job| {
        job.priority = principal.priority;
        let metered = auth::admit(engine, principal, &job)?;
        Ok((job, metered))
    });
    let (job, metered) = match admitted {
        Ok(admitted) => admitted,
        Err(e) => {
            record_invalid(engine, &e);
            return error_result(index, &Status::from(e));
        }
    };
    let recorder = OutcomeRecorder::new(engine, job.model.as_str());
    let span = trace::generation_span("batch_item", &job, None);
    span.record("batch.index", index as i64);
    let result = engine
        .run(&job, DeltaSink::Collect, started, deadline)
        .instrument(span.clone())
        .await;
    span.in_scope(|| recorder.finish(&result));
    auth::settle(metered, &result);
    trace::record_outcome(&span, &result);
    let trace_id = crate::telemetry::trace_id_of(&span);
    match result.map_err(|e| auth::scrub(engine, principal, e)) {
        Ok(c) => pb::BatchItemResult {
            index: index as u32,
            outcome: Some(pb::batch_item_result::Outcome::Response(convert::response(
                c,
                job.client_request_id,
                trace_id,
            ))),
        },
        Err(e) => error_result(index, &Status::from(e)),
    }
}

fn error_result(index: usize, status: &Status) -> pb::BatchItemResult {
    pb::BatchItemResult {
        index: index as u32,
        outcome: Some(pb::batch_item_result::Outcome::Error(pb::ItemError {
            code: status.code() as i32,
            message: status.message().to_string(),
        })),
    }
}
