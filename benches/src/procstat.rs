//! CPU time and resident memory of *another* process, read from
//! `/proc/PID/stat` and `/proc/PID/status`, so a harness can charge each
//! server process for its own work only (the router's CPU apart from the
//! upstream's and the load generator's).

use std::time::Duration;

use ai_router_testkit::procs::descendants;

/// Clock ticks per second of the `utime`/`stime` fields.
fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// User + system CPU time of process `pid` itself (all its threads, not its
/// children); `None` once it is gone.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = stat_cpu_ticks(&stat)?;
    Some(Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000) / ticks_per_second(),
    ))
}

/// `utime + stime` (fields 14 and 15) of a `/proc/PID/stat` line. The
/// command name may hold spaces and parentheses, so fields are counted from
/// the last `)`.
pub fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split_whitespace();
    // After ")" come field 3 (state) ... ; utime is field 14, so index 11.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time of `pid` and every live descendant (a peer that runs worker
/// processes is charged for all of them).
pub fn tree_cpu_time(pid: u32) -> Duration {
    std::iter::once(pid)
        .chain(descendants(pid).into_iter().map(|p| p.pid))
        .filter_map(cpu_time)
        .sum()
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`) in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field_bytes(&status, field)
}

/// Parses `FIELD:   1234 kB` out of a status text, in bytes.
pub fn status_field_bytes(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        let kib: u64 = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kib * 1024)
    })
}

/// Resident memory of `pid` and every live descendant, in bytes.
pub fn tree_rss(pid: u32) -> u64 {
    std::iter::once(pid)
        .chain(descendants(pid).into_iter().map(|p| p.pid))
        .filter_map(|p| status_bytes(p, "VmRSS"))
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_fields_14_and_15_even_with_odd_command_names() {
        let stat = "4242 (we ird) name)) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    123 45 0 0 20 0 3 0 100 1000 200 18446744073709551615";
        assert_eq!(stat_cpu_ticks(stat), Some(168));
        assert_eq!(stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn status_fields_are_read_in_bytes() {
        let status = "Name:\tai-router\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_field_bytes(status, "VmRSS"), Some(10 * 1024 * 1024));
        assert_eq!(status_field_bytes(status, "VmHWM"), Some(20 * 1024 * 1024));
        assert_eq!(status_field_bytes(status, "VmSwap"), None);
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let me = std::process::id();
        // Burn a little CPU so at least one tick is on the clock.
        let mut x = 0u64;
        let until = std::time::Instant::now() + Duration::from_millis(30);
        while std::time::Instant::now() < until {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(cpu_time(me).unwrap() > Duration::ZERO);
        assert!(status_bytes(me, "VmRSS").unwrap() > 0);
        assert!(tree_rss(me) >= status_bytes(me, "VmRSS").unwrap());
    }
}
