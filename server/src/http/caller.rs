//! Everything a request says about its caller outside the body, read from
//! the headers in this one place: the credentials (for the access-control
//! check, which plugs in here), the deadline, the W3C trace context and the
//! client's request id.

use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use secrecy::SecretString;
use tonic::metadata::MetadataMap;

use super::AppState;
use super::status::HttpError;

/// Header giving the caller's deadline in milliseconds (HTTP has no
/// standard one; gRPC's `grpc-timeout` is its counterpart).
pub const TIMEOUT_HEADER: &str = "x-request-timeout-ms";
/// Header carrying the caller's own request id (the OpenAI SDKs' name).
pub const CLIENT_REQUEST_ID_HEADER: &str = "x-client-request-id";

/// The key a caller presented, typed so it cannot be logged by accident
/// (`SecretString` prints as `[REDACTED]`).
#[derive(Debug, Clone)]
pub enum Credentials {
    /// No `Authorization` and no `x-api-key` header.
    Anonymous,
    /// `Authorization: Bearer <key>` or `x-api-key: <key>`.
    ApiKey(SecretString),
    /// A credential header that is not a usable key (another scheme, not
    /// text, empty); an access check refuses it with this reason.
    Malformed(&'static str),
}

impl Credentials {
    /// Reads `Authorization: Bearer` first, then `x-api-key` (Anthropic's
    /// and several gateways' header).
    pub fn from_headers(headers: &HeaderMap) -> Credentials {
        if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
            let Ok(text) = value.to_str() else {
                return Credentials::Malformed("the Authorization header is not text");
            };
            return match text.split_once(' ') {
                Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => key_of(key),
                _ => Credentials::Malformed("the Authorization header must be `Bearer <key>`"),
            };
        }
        match headers.get("x-api-key").map(|v| v.to_str()) {
            None => Credentials::Anonymous,
            Some(Ok(key)) => key_of(key),
            Some(Err(_)) => Credentials::Malformed("the x-api-key header is not text"),
        }
    }
}

fn key_of(text: &str) -> Credentials {
    match text.trim() {
        "" => Credentials::Malformed("the key is empty"),
        key => Credentials::ApiKey(SecretString::from(key)),
    }
}

/// The caller of one request.
#[derive(Debug)]
pub struct Caller {
    /// When the request arrived (its timing starts here).
    pub arrived: Instant,
    /// The key it presented.
    pub credentials: Credentials,
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

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Caller, HttpError> {
        let arrived = Instant::now();
        let headers = &parts.headers;
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
            credentials: Credentials::from_headers(headers),
            deadline,
            trace_context: MetadataMap::from_headers(trace_context),
            client_request_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn credentials_come_from_bearer_or_x_api_key() {
        let key = |c: Credentials| match c {
            Credentials::ApiKey(k) => k.expose_secret().to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            key(Credentials::from_headers(&headers(&[(
                "authorization",
                "Bearer sk-1"
            )]))),
            "sk-1"
        );
        assert_eq!(
            key(Credentials::from_headers(&headers(&[(
                "x-api-key",
                "sk-2"
            )]))),
            "sk-2"
        );
        assert!(matches!(
            Credentials::from_headers(&headers(&[])),
            Credentials::Anonymous
        ));
        assert!(matches!(
            Credentials::from_headers(&headers(&[("authorization", "Basic abc")])),
            Credentials::Malformed(_)
        ));
        assert!(matches!(
            Credentials::from_headers(&headers(&[("authorization", "Bearer  ")])),
            Credentials::Malformed(_)
        ));
        let printed = format!(
            "{:?}",
            Credentials::from_headers(&headers(&[("x-api-key", "sk-secret")]))
        );
        assert!(!printed.contains("sk-secret"), "{printed}");
    }
}
