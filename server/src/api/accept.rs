//! What every single-generation RPC does first: note the arrival time, take
//! the caller's deadline, authenticate the caller, validate the message into
//! a job (counting a rejection in the stats), admit it against the key's
//! allowlist, limits and budget, and keep the metadata for trace context.

use std::sync::Arc;
use std::time::Instant;

use ai_router_proto::v1 as pb;
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use super::outcome::record_invalid;
use super::{auth, deadline, validate};
use crate::access::{Metered, Principal};
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
    /// Who is calling.
    pub principal: Arc<Principal>,
    /// The call's usage account, settled when it ends.
    pub metered: Metered,
}

/// Authenticates, validates and admits a `GenerateRequest`; a rejection is
/// counted and returned as a status.
pub fn accept(engine: &Engine, request: Request<pb::GenerateRequest>) -> Result<Accepted, Status> {
    let arrived = Instant::now();
    let deadline = deadline::deadline(request.metadata(), arrived);
    let (metadata, _, message) = request.into_parts();
    let admitted = auth::principal(engine, &metadata).and_then(|principal| {
        let mut job = validate(message, &engine.config().limits).map_err(RouterError::from)?;
        job.priority = principal.priority;
        let metered = auth::admit(engine, &principal, &job)?;
        Ok((principal, job, metered))
    });
    match admitted {
        Ok((principal, job, metered)) => Ok(Accepted {
            arrived,
            deadline,
            metadata,
            job,
            principal,
            metered,
        }),
        Err(e) => {
            record_invalid(engine, &e);
            Err(e.into())
        }
    }
}
