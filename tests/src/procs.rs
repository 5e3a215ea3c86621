//! Child processes and zombies, read from /proc, so tests can prove that the
//! router starts exactly the processes it should and leaves none behind.
//!
//! Tests share one process, so a count of *all* this process's children
//! would see the routers of the tests running beside it. [`ProcScope`] and
//! [`ChildWatch`] narrow the count to one router's llama-server children:
//! those whose command line names a model inside that router's own models
//! directory.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;

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

/// Which llama-server processes to count: descendants of `root`, and with
/// `cmdline_contains`, only those whose command line contains it (one
/// router's models directory, so tests running side by side in one process
/// do not count each other's children).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcScope {
    /// Whose descendants.
    pub root: u32,
    /// Only processes whose command line contains this.
    pub cmdline_contains: Option<String>,
}

impl From<u32> for ProcScope {
    fn from(root: u32) -> ProcScope {
        ProcScope {
            root,
            cmdline_contains: None,
        }
    }
}

impl ProcScope {
    /// The llama-server children of the router serving `models_dir` from
    /// this process.
    pub fn router_in_this_process(models_dir: &Path) -> ProcScope {
        ProcScope {
            root: std::process::id(),
            cmdline_contains: Some(models_dir.display().to_string()),
        }
    }
}

/// A scope's processes over time. A running process is judged by its
/// command line at every sample; a pid judged in scope is remembered, so it
/// still counts once it is a zombie (whose command line is empty). A
/// process first seen as a zombie cannot be judged and is not counted.
#[derive(Debug)]
pub(crate) struct ScopeFilter {
    scope: ProcScope,
    ours: BTreeSet<u32>,
}

impl ScopeFilter {
    pub(crate) fn new(scope: ProcScope) -> ScopeFilter {
        ScopeFilter {
            scope,
            ours: BTreeSet::new(),
        }
    }

    /// The scope's processes now, zombies included.
    pub(crate) fn sample(&mut self) -> Vec<ProcInfo> {
        let all = llama_descendants(self.scope.root);
        let Some(needle) = &self.scope.cmdline_contains else {
            self.ours.extend(all.iter().map(|p| p.pid));
            return all;
        };
        all.into_iter()
            .filter(|p| {
                let cmdline = (p.state != 'Z')
                    .then(|| fs::read(format!("/proc/{}/cmdline", p.pid)).ok())
                    .flatten()
                    .filter(|cmd| !cmd.is_empty());
                match cmdline {
                    Some(cmd) => {
                        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                        if cmd.contains(needle.as_str()) {
                            self.ours.insert(p.pid);
                            true
                        } else {
                            // Not ours, or a remembered pid reused by another
                            // test's child.
                            self.ours.remove(&p.pid);
                            false
                        }
                    }
                    // A zombie (or a process exiting): ours only if it was
                    // seen running as ours.
                    None => self.ours.contains(&p.pid),
                }
            })
            .collect()
    }

    /// Every pid judged in scope so far.
    pub(crate) fn seen(&self) -> &BTreeSet<u32> {
        &self.ours
    }
}

/// How often a [`ChildWatch`] samples: far shorter than a llama-server
/// lives (it takes longer than this to load even the tiny test model).
const WATCH_INTERVAL: Duration = Duration::from_millis(5);

/// Watches one router's llama-server children from before its first spawn
/// until dropped: a thread samples the router's [`ProcScope`] every few
/// milliseconds, so every child it ever had is known by pid, and a child
/// left behind as a zombie (no command line any more) is still recognised.
///
/// Start it before the router serves its first request:
///
/// ```no_run
/// # fn demo(models: &ai_router_testkit::models::ModelDir) -> anyhow::Result<()> {
/// use ai_router_testkit::procs::ChildWatch;
/// let children = ChildWatch::start(models.path())?;
/// // ... start the router, make calls, stop it ...
/// assert!(children.current().is_empty(), "a child or zombie was left");
/// # Ok(())
/// # }
/// ```
pub struct ChildWatch {
    filter: Arc<Mutex<ScopeFilter>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ChildWatch {
    /// Watches the children of the router in this process whose models
    /// directory is `models_dir`; the first sample is taken before this
    /// returns.
    pub fn start(models_dir: &Path) -> anyhow::Result<ChildWatch> {
        let mut filter = ScopeFilter::new(ProcScope::router_in_this_process(models_dir));
        filter.sample();
        let filter = Arc::new(Mutex::new(filter));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, flag) = (filter.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("child-watch".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    lock(&shared).sample();
                    // Woken early by drop; a spurious wake-up only means
                    // one extra sample.
                    std::thread::park_timeout(WATCH_INTERVAL);
                }
            })
            .context("starting the child watch thread")?;
        Ok(ChildWatch {
            filter,
            stop,
            thread: Some(thread),
        })
    }

    /// The router's llama-server children that exist now, running or
    /// zombie (sampled at the call).
    pub fn current(&self) -> Vec<ProcInfo> {
        lock(&self.filter).sample()
    }

    /// Every child of the router seen so far, by pid, gone ones included
    /// (sampled at the call).
    pub fn seen(&self) -> BTreeSet<u32> {
        let mut filter = lock(&self.filter);
        filter.sample();
        filter.seen().clone()
    }
}

impl Drop for ChildWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// The filter, even if a sampling thread panicked while holding it.
fn lock(filter: &Mutex<ScopeFilter>) -> MutexGuard<'_, ScopeFilter> {
    filter.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A child named llama-server (`sleep` run through a symlink of that
    /// name) whose command line starts with a path inside `dir`, as a
    /// router's children name a model inside its models directory. A link,
    /// not a copy: a copy's write handle, inherited by a process another
    /// test forks meanwhile, would make the exec fail with ETXTBSY.
    fn fake_llama(dir: &Path) -> std::process::Child {
        let fake = dir.join("llama-server");
        std::os::unix::fs::symlink("/bin/sleep", &fake).unwrap();
        std::process::Command::new(&fake).arg("30").spawn().unwrap()
    }

    #[test]
    fn a_watch_sees_only_its_routers_children_and_their_zombies() {
        let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let watch = ChildWatch::start(ours.path()).unwrap();
        let mut mine = fake_llama(ours.path());
        let mut other = fake_llama(theirs.path());
        let pids = |procs: Vec<ProcInfo>| procs.into_iter().map(|p| p.pid).collect::<Vec<_>>();

        // spawn() returns after the exec, so the command line is set.
        assert_eq!(pids(watch.current()), [mine.id()]);
        // Killed and not reaped: a zombie, with no command line, still ours.
        mine.kill().unwrap();
        let zombie = (0..1000)
            .find_map(|_| {
                let now = watch.current();
                if now.iter().any(|p| p.pid == mine.id() && p.state == 'Z') {
                    return Some(now);
                }
                std::thread::sleep(Duration::from_millis(1));
                None
            })
            .expect("the killed child shows as a zombie");
        assert_eq!(pids(zombie), [mine.id()]);
        mine.wait().unwrap();
        assert!(watch.current().is_empty());
        assert_eq!(watch.seen(), BTreeSet::from([mine.id()]));

        other.kill().unwrap();
        other.wait().unwrap();
    }
}
