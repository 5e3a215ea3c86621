//! Everything a request says about its caller outside the body, read from
//! the headers in this one place: who is calling (the credentials, judged by
//! the access layer shared with the gRPC door), the deadline, the W3C trace
//! context and the client's request id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use tonic::metadata::MetadataMap;

use super::AppState;
use super::status::HttpError;
use crate::access::{Credentials, Principal};
use crate::error::RouterError;

/// Header giving the caller's deadline in milliseconds (HTTP has no
/// standard one; gRPC's `grpc-timeout` is its counterpart).
pub const TIMEOUT_HEADER: &str = "x-request-timeout-ms";
/// Header carrying the caller's own request id (the OpenAI SDKs' name).
pub const CLIENT_REQUEST_ID_HEADER: &str = "x-client-request-id";

/// The caller of one request.
#[derive(Debug)]
pub struct Caller {
    /// When the request arrived (its timing starts here).
    pub arrived: Instant,
    /// Who is calling: the key's tenant (or the open service's anonymous
    /// caller), judged by the same access layer as on the gRPC door.
    pub principal: Arc<Principal>,
    /// Its deadline, from [`TIMEOUT_HEADER`].
    pub deadline: Option<Instant>,
    /// The headers as gRPC metadata, for the trace context (`traceparent`,
    /// `tracestate`) the span continues, exactly as on the gRPC door.
    pub trace_context: MetadataMap,
    /// From [`CLIENT_REQUEST_ID_HEADER`]; empty when not sent.
    pub client_request_id: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, HttpError> {
        let arrived = Instant::now();
        let headers = &parts.headers;
        // The raw header bytes go to the access layer, which parses and
        // judges them exactly as it does gRPC metadata.
        let credentials = Credentials {
            authorization: headers
                .get(axum::http::header::AUTHORIZATION)
                .map(|v| v.as_bytes()),
            api_key: headers.get("x-api-key").map(|v| v.as_bytes()),
        };
        let principal = state
            .engine
            .access()
            .authenticate(credentials)
            .map_err(|e| {
                let e = RouterError::from(e);
                crate::api::outcome::record_invalid(&state.engine, &e);
                HttpError::from(e)
            })?;
        let deadline = match headers.get(TIMEOUT_HEADER) {
            None => None,
            Some(v) => match v.to_str().ok().and_then(|t| t.trim().parse::<u64>().ok()) {
                Some(ms) => Some(arrived + Duration::from_millis(ms)),
                None => {
                    return Err(HttpError::invalid_field(
                        TIMEOUT_HEADER,
                        "must be a whole number of milliseconds",
                    ));
                }
            },
        };
        let client_request_id = headers
            .get(CLIENT_REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut trace_context = HeaderMap::new();
        for name in ["traceparent", "tracestate"] {
            if let Some(v) = headers.get(name) {
                trace_context.insert(name, v.clone());
            }
        }
        Ok(Caller {
            arrived,
            principal,
            deadline,
            trace_context: MetadataMap::from_headers(trace_context),
            client_request_id,
        })
    }
}
