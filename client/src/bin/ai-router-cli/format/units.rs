//! Unit conversions for the tables and the timing summary, so every view
//! shows a duration or a size the same way.

use ai_router_client::proto::Duration;

/// A protobuf duration in milliseconds. Negative durations (which the router
/// never sends) come out negative rather than wrapping.
pub fn duration_ms(d: &Duration) -> f64 {
    d.seconds as f64 * 1_000.0 + f64::from(d.nanos) / 1_000_000.0
}

/// Microseconds as milliseconds with two decimals, e.g. `1234` → `"1.23"`.
pub fn us_as_ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1_000.0)
}

/// Milliseconds with two decimals and a unit, or `-` when absent.
pub fn opt_ms(d: Option<&Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("{:.2} ms", duration_ms(d)))
}

/// Bytes as mebibytes with one decimal, e.g. `"12.5 MiB"`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A duration for people: `"350.00 ms"` below a second, `"12.34 s"` below a
/// minute, then `"3m 05s"`, `"2h 03m 05s"`, `"1d 02h 03m 05s"`.
pub fn human_duration(d: &Duration) -> String {
    let ms = duration_ms(d);
    if ms < 1_000.0 {
        return format!("{ms:.2} ms");
    }
    if ms < 60_000.0 {
        return format!("{:.2} s", ms / 1_000.0);
    }
    let total = d.seconds.max(0);
    let (days, rem) = (total / 86_400, total % 86_400);
    let (hours, rem) = (rem / 3_600, rem % 3_600);
    let (mins, secs) = (rem / 60, rem % 60);
    if days > 0 {
        format!("{days}d {hours:02}h {mins:02}m {secs:02}s")
    } else if hours > 0 {
        format!("{hours}h {mins:02}m {secs:02}s")
    } else {
        format!("{mins}m {secs:02}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dur(seconds: i64, nanos: i32) -> Duration {
        Duration { seconds, nanos }
    }

    #[test]
    fn conversions() {
        assert_eq!(duration_ms(&dur(1, 500_000_000)), 1_500.0);
        assert_eq!(us_as_ms(1_234), "1.23");
        assert_eq!(us_as_ms(0), "0.00");
        assert_eq!(opt_ms(None), "-");
        assert_eq!(opt_ms(Some(&dur(0, 12_345_678))), "12.35 ms");
        assert_eq!(mib(3 * 1024 * 1024 / 2), "1.5 MiB");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(&dur(0, 350_000_000)), "350.00 ms");
        assert_eq!(human_duration(&dur(12, 340_000_000)), "12.34 s");
        assert_eq!(human_duration(&dur(185, 0)), "3m 05s");
        assert_eq!(human_duration(&dur(7_385, 0)), "2h 03m 05s");
        assert_eq!(human_duration(&dur(93_785, 0)), "1d 02h 03m 05s");
    }
}
