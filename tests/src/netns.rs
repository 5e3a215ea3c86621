//! Linux network namespaces, so a test's upstream hosts are separate
//! machines as far as the network goes: each [`NetNs`] is a namespace joined
//! to this one by a veth pair with addresses from a private /30
//! (10.213.0.0/16, a block no interface here uses yet). A host process runs
//! inside with `ip netns exec` ([`crate::netns_host`]) and binds the
//! namespace's address; taking the link down inside the namespace makes
//! connects and reads hang (packets are dropped, nothing answers or
//! refuses), which loopback cannot show.
//!
//! Dropping a [`NetNs`] (also while a test panics) kills what still runs in
//! it and removes the namespace and the pair. Namespaces left by a test
//! process that was killed (its pid is in the name) are swept by the next
//! one. Needs root and iproute2's `ip`; [`unavailable`] says why not.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context as _, bail};

/// Names of this kit's namespaces start with this, then `{pid}-{n}`.
const PREFIX: &str = "air-";

/// Second octet of the private range the /30 blocks come from (10.213/16).
const RANGE_OCTET: u8 = 213;

/// /30 blocks in the range.
const BLOCKS: u32 = 1 << 14;

/// Namespaces this process has created (for unique names).
static CREATED: AtomicU32 = AtomicU32::new(0);

/// Why namespaced hosts cannot run here (not root, no `ip`, namespaces
/// refused), or None when they can. Checked once per process, by creating
/// and removing one namespace.
pub fn unavailable() -> Option<String> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Some("not root: network namespaces and veth links need CAP_NET_ADMIN".into());
        }
        if Command::new("ip").arg("-V").output().is_err() {
            return Some("`ip` (iproute2) is not installed".into());
        }
        match NetNs::create() {
            Ok(ns) => {
                drop(ns);
                None
            }
            Err(e) => Some(format!("cannot create a network namespace: {e:#}")),
        }
    })
    .clone()
}

/// One namespace and its veth pair.
#[derive(Debug)]
pub struct NetNs {
    /// The namespace's name (`ip netns exec NAME`).
    pub name: String,
    /// The pair's end in this namespace.
    host_if: String,
    /// The pair's end inside the namespace.
    ns_if: String,
    /// The address of this side.
    pub host_ip: Ipv4Addr,
    /// The address inside the namespace, which its processes bind.
    pub ns_ip: Ipv4Addr,
}

impl NetNs {
    /// Creates a namespace joined to this one by a veth pair, both ends up.
    pub fn create() -> anyhow::Result<NetNs> {
        sweep_stale();
        let pid = std::process::id();
        let n = CREATED.fetch_add(1, Ordering::Relaxed);
        let block = free_block(pid, n)?;
        let ns = NetNs {
            name: format!("{PREFIX}{pid}-{n}"),
            // Interface names have at most 15 bytes: "air" + pid (≤ 7) + 1 + n.
            host_if: format!("air{pid}h{n}"),
            ns_if: format!("air{pid}n{n}"),
            host_ip: block_ip(block, 1),
            ns_ip: block_ip(block, 2),
        };
        // From here on, a failed step is cleaned up by Drop.
        ns.setup()
            .with_context(|| format!("setting up namespace {}", ns.name))?;
        Ok(ns)
    }

    fn setup(&self) -> anyhow::Result<()> {
        let (name, host_if, ns_if) = (&self.name, &self.host_if, &self.ns_if);
        ip(&["netns", "add", name])?;
        ip(&[
            "link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", name,
        ])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/30", self.host_ip),
            "dev",
            host_if,
        ])?;
        ip(&["link", "set", host_if, "up"])?;
        ip(&[
            "-n",
            name,
            "addr",
            "add",
            &format!("{}/30", self.ns_ip),
            "dev",
            ns_if,
        ])?;
        ip(&["-n", name, "link", "set", ns_if, "up"])?;
        ip(&["-n", name, "link", "set", "lo", "up"])?;
        // A permanent neighbour entry: with the link down, packets to the
        // host are then sent and dropped (connects hang until the caller's
        // timeout) instead of failing fast once ARP gives up.
        let mac = ip(&["-n", name, "-br", "link", "show", ns_if])?
            .split_whitespace()
            .nth(2)
            .map(str::to_owned)
            .context("no MAC address in `ip -br link show`")?;
        ip(&[
            "neigh",
            "replace",
            &self.ns_ip.to_string(),
            "lladdr",
            &mac,
            "dev",
            host_if,
            "nud",
            "permanent",
        ])?;
        Ok(())
    }

    /// Sets the namespace's end of the link up or down. Down: nothing
    /// arrives or leaves; connects and reads to its hosts hang.
    pub fn set_link(&self, up: bool) -> anyhow::Result<()> {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.name, "link", "set", &self.ns_if, state]).map(drop)
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        remove(&self.name);
        // The namespace outlives its name while sockets in it still close
        // (over a dead link, for minutes), and the pair with it: delete
        // the pair now.
        let _ = ip(&["link", "del", &self.host_if]);
    }
}

/// Kills what runs in namespace `name`, then deletes it (its veth pair goes
/// with it). Errors are ignored: this is clean-up of what may be half made.
fn remove(name: &str) {
    if let Ok(pids) = ip(&["netns", "pids", name]) {
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
        {
            let _ = crate::procs::signal(pid, libc::SIGKILL);
        }
    }
    let _ = ip(&["netns", "del", name]);
}

/// Removes this kit's namespaces whose test process no longer runs (it was
/// killed before its Drops ran). Once per process.
fn sweep_stale() {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let Ok(list) = ip(&["netns", "list"]) else {
            return;
        };
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            let owner = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            if owner.is_some_and(|pid| !crate::procs::is_running(pid)) {
                remove(name);
            }
        }
    });
}

/// A /30 block of 10.213/16 no local interface uses, starting the search at
/// one derived from the pid so concurrent test processes rarely meet.
fn free_block(pid: u32, n: u32) -> anyhow::Result<u32> {
    let used = ip(&["-o", "-4", "addr", "show"])?;
    let start = pid.wrapping_mul(64).wrapping_add(n) % BLOCKS;
    (0..BLOCKS)
        .map(|i| (start + i) % BLOCKS)
        .find(|&b| {
            let taken = |host| format!(" {}/", block_ip(b, host));
            !used.contains(&taken(1)) && !used.contains(&taken(2))
        })
        .context("every /30 of 10.213.0.0/16 is in use")
}

/// Address `host` (1 or 2) of /30 block `block` of 10.213/16.
fn block_ip(block: u32, host: u32) -> Ipv4Addr {
    let low = block * 4 + host;
    Ipv4Addr::new(10, RANGE_OCTET, (low >> 8) as u8, (low & 0xff) as u8)
}

/// Runs `ip ARGS`; its stdout, or an error with its stderr.
fn ip(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running `ip`")?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_distinct_thirty_twos_of_the_range() {
        assert_eq!(block_ip(0, 1), Ipv4Addr::new(10, 213, 0, 1));
        assert_eq!(block_ip(0, 2), Ipv4Addr::new(10, 213, 0, 2));
        assert_eq!(block_ip(70, 2), Ipv4Addr::new(10, 213, 1, 26));
        assert_eq!(block_ip(BLOCKS - 1, 2), Ipv4Addr::new(10, 213, 255, 254));
    }
}
