//! How gRPC outcomes are named in text, shared by the server (stats keys,
//! metrics labels) and the client (error lines), so a code reads the same
//! everywhere: the upper-case names of the gRPC spec (`DEADLINE_EXCEEDED`)
//! that grpcurl and other gRPC tooling print, rather than tonic's `Display`,
//! which is a sentence.

use std::error::Error;

/// The canonical upper-case name of a gRPC code, e.g. `"NOT_FOUND"`.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// An error and its sources joined with `": "`, skipping a source whose text
/// the line already contains.
///
/// Transport errors (tonic's, reqwest's, hyper's) say little at the top
/// ("transport error", "error sending request") and keep what a person can
/// act on ("Connection refused") further down the chain, while some layers
/// repeat their source's text in their own, hence the skipping.
pub fn error_chain(err: &dyn Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_spec_name() {
        // The numbering is the spec's, so the name table can be checked
        // against tonic's own code-from-number mapping.
        let names = [
            "OK",
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
        ];
        for (number, name) in (0..).zip(names) {
            assert_eq!(code_name(tonic::Code::from_i32(number)), name);
        }
    }

    /// An error with an optional source, for building chains.
    #[derive(Debug)]
    struct Layer {
        text: &'static str,
        source: Option<Box<Layer>>,
    }

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.text)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source.as_deref().map(|s| s as &(dyn Error + 'static))
        }
    }

    fn chain(texts: &[&'static str]) -> Layer {
        texts
            .iter()
            .rev()
            .fold(None, |source, text| {
                Some(Layer {
                    text,
                    source: source.map(Box::new),
                })
            })
            .unwrap()
    }

    #[test]
    fn chain_joins_sources_and_skips_repeats() {
        let err = chain(&[
            "transport error",
            "tcp connect error: Connection refused",
            "Connection refused",
        ]);
        assert_eq!(
            error_chain(&err),
            "transport error: tcp connect error: Connection refused"
        );
        assert_eq!(error_chain(&chain(&["alone"])), "alone");
    }
}
