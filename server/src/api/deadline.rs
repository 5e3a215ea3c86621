//! The caller's deadline, from the `grpc-timeout` request header.

use std::time::{Duration, Instant};

use tonic::metadata::MetadataMap;

/// Our own deadline fires this much before the caller's, so the answer is
/// our DEADLINE_EXCEEDED with its explanation (and the stats record it as
/// such) rather than tonic's bare timeout, which fires at the exact instant.
const ANSWER_MARGIN: Duration = Duration::from_millis(20);

/// The absolute deadline a request carries, if any.
pub fn deadline(metadata: &MetadataMap, arrived: Instant) -> Option<Instant> {
    let raw = metadata.get("grpc-timeout")?.to_str().ok()?;
    parse_timeout(raw).map(|t| arrived + t.saturating_sub(ANSWER_MARGIN.min(t / 10)))
}

/// Parses the gRPC timeout format: up to 8 digits and a unit (H M S m u n).
fn parse_timeout(raw: &str) -> Option<Duration> {
    if raw.len() < 2 || raw.len() > 9 {
        return None;
    }
    let (digits, unit) = raw.split_at(raw.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_timeout;
    use std::time::Duration;

    #[test]
    fn parses_grpc_timeouts() {
        assert_eq!(parse_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("5"), None);
        assert_eq!(parse_timeout("xxS"), None);
        assert_eq!(parse_timeout("123456789S"), None);
    }
}
