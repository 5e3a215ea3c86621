//! Child processes and zombies, read from /proc, so tests can prove that the
//! router starts exactly the processes it should and leaves none behind.

use std::fs;

/// One process as seen in /proc/PID/stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    /// Process id.
    pub pid: u32,
    /// Short command name.
    pub comm: String,
    /// State letter (R, S, D, Z, T...).
    pub state: char,
    /// Parent pid.
    pub ppid: u32,
}

/// Parses /proc/PID/stat; None if the process is gone.
pub fn proc_info(pid: u32) -> Option<ProcInfo> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ..."; comm may contain spaces and parentheses,
    // so split at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 2..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some(ProcInfo {
        pid,
        comm,
        state,
        ppid,
    })
}

/// Every live process whose parent is `parent`.
pub fn children_of(parent: u32) -> Vec<ProcInfo> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter_map(proc_info)
        .filter(|p| p.ppid == parent)
        .collect()
}

/// Children of this process running llama-server (zombies included).
pub fn llama_children() -> Vec<ProcInfo> {
    children_of(std::process::id())
        .into_iter()
        .filter(|p| p.comm.starts_with("llama-server"))
        .collect()
}

/// Zombie children of this process.
pub fn zombie_children() -> Vec<ProcInfo> {
    children_of(std::process::id())
        .into_iter()
        .filter(|p| p.state == 'Z')
        .collect()
}

/// Whether a pid is alive (not gone and not a zombie).
pub fn is_running(pid: u32) -> bool {
    proc_info(pid).is_some_and(|p| p.state != 'Z')
}

/// Sends a signal.
pub fn signal(pid: u32, sig: i32) -> std::io::Result<()> {
    let pid = i32::try_from(pid).map_err(|_| std::io::Error::other("pid out of range"))?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Pids of the direct children of `pid` (zombies included), read from
/// `/proc/PID/task/*/children` (one small file per thread); falls back to a
/// scan of all of /proc when the kernel lacks that file. Empty if `pid` is
/// gone.
pub fn child_pids(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for task in tasks.filter_map(Result::ok) {
        match fs::read_to_string(task.path().join("children")) {
            Ok(list) => pids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            ),
            // No CONFIG_PROC_CHILDREN: the slow path sees every process.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return children_of(pid).into_iter().map(|p| p.pid).collect();
            }
            // The thread exited while we read: its children moved to another
            // thread of the same process, which this loop also reads.
            Err(_) => {}
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Every descendant of `root` (children, their children, ...; not `root`
/// itself), zombies included. A process that exits during the walk is
/// simply missing from the answer.
pub fn descendants(root: u32) -> Vec<ProcInfo> {
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(pid) = frontier.pop() {
        for child in child_pids(pid) {
            if let Some(info) = proc_info(child) {
                // A zombie has no children of its own to walk.
                if info.state != 'Z' {
                    frontier.push(child);
                }
                found.push(info);
            }
        }
    }
    found
}

/// Descendants of `root` running llama-server, zombies (exited, not yet
/// reaped) included. A llama-server below `root` counts as a leaf: the walk
/// does not read its (many) threads' children, which keeps a frequent
/// sampler cheap; to see the model processes of llama.cpp's router mode,
/// make the router itself the root.
pub fn llama_descendants(root: u32) -> Vec<ProcInfo> {
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(pid) = frontier.pop() {
        for child in child_pids(pid) {
            let Some(info) = proc_info(child) else {
                continue;
            };
            if info.comm.starts_with("llama-server") {
                found.push(info);
            } else if info.state != 'Z' {
                frontier.push(child);
            }
        }
    }
    found
}
