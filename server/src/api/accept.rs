//! What every single-generation RPC does first: note the arrival time, take
//! the caller's deadline, validate the message into a job (counting a
//! rejection in the stats), and keep the metadata for trace context.

use std::time::Instant;

use ai_router_proto::v1 as pb;
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use super::outcome::record_invalid;
use super::{deadline, validate};
use crate::domain::Job;
use crate::engine::Engine;
use crate::error::RouterError;

/// An accepted request.
pub struct Accepted {
    /// When it arrived (timing starts here).
    pub arrived: Instant,
    /// The caller's deadline, if any.
    pub deadline: Option<Instant>,
    /// Its metadata (trace context).
    pub metadata: MetadataMap,
    /// The validated job.
    pub job: Job,
}

/// Validates a `GenerateRequest`; a rejection is counted and returned as a status.
pub fn accept(engine: &Engine, request: Request<pb::GenerateRequest>) -> Result<Accepted, Status> {
    let arrived = Instant::now();
    let deadline = deadline::deadline(request.metadata(), arrived);
    let (metadata, _, message) = request.into_parts();
    match validate(message, &engine.config().limits) {
        Ok(job) => Ok(Accepted {
            arrived,
            deadline,
            metadata,
            job,
        }),
        Err(e) => {
            let e = RouterError::from(e);
            record_invalid(engine, &e);
            Err(e.into())
        }
    }
}
