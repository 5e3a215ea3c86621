//! Corrects two statuses tonic produces on its own, before our handlers can
//! answer, and leaves every other response untouched:
//! - an over-limit message: gRPC says RESOURCE_EXHAUSTED, tonic's decoder
//!   answers OUT_OF_RANGE;
//! - an expired `grpc-timeout`: gRPC says DEADLINE_EXCEEDED, tonic's server
//!   timeout layer answers CANCELLED "Timeout expired".
//!
//! Both happen before any response message is sent, so they always arrive
//! as trailers-only responses whose status is in the headers.

use tonic::codegen::http::{self, HeaderValue};

/// Rewrites tonic's own statuses to the codes gRPC specifies.
pub fn remap_tonic_statuses<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let status = headers.get("grpc-status").map(|v| v.as_bytes().to_vec());
    // grpc-message is percent-encoded on the wire.
    let message = headers
        .get("grpc-message")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let corrected = match status.as_deref() {
        Some(b"11") if message.contains("message%20length%20too%20large") => Some("8"),
        Some(b"1") if message == "Timeout%20expired" => Some("4"),
        _ => None,
    };
    if let Some(code) = corrected {
        headers.insert("grpc-status", HeaderValue::from_static(code));
    }
    response
}
