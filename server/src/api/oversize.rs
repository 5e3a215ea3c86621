//! gRPC says an over-limit message is RESOURCE_EXHAUSTED; tonic's decoder
//! answers OUT_OF_RANGE. This response mapper corrects the code of exactly
//! that error and leaves every other response untouched. Every RPC here
//! takes a single request message, which tonic decodes before any response
//! is sent, so the error always arrives as a trailers-only response whose
//! status is in the headers.

use tonic::codegen::http::{self, HeaderValue};

/// Rewrites tonic's oversized-message status to RESOURCE_EXHAUSTED.
pub fn remap_oversized<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let is_out_of_range = headers
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes() == b"11");
    let is_too_large = headers
        .get("grpc-message")
        // grpc-message is percent-encoded on the wire.
        .is_some_and(|v| {
            String::from_utf8_lossy(v.as_bytes()).contains("message%20length%20too%20large")
        });
    if is_out_of_range && is_too_large {
        headers.insert("grpc-status", HeaderValue::from_static("8"));
    }
    response
}
