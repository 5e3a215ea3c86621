//! Resident memory of the router process, from sysinfo.

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// The router's current RSS in bytes (0 if it cannot be read).
pub fn process_rss_bytes() -> u64 {
    let pid = Pid::from_u32(std::process::id());
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing().with_memory(),
    );
    system.process(pid).map(|p| p.memory()).unwrap_or(0)
}
