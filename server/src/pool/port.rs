//! Free loopback ports for children. The port is free when chosen; another
//! process may take it before the child binds, which the start-up logic
//! detects (the child reports the bind failure and exits) and retries.

use std::net::{Ipv4Addr, TcpListener};

/// Whether process `pid` holds the socket listening on 127.0.0.1:`port`
/// (read from /proc: the listening socket's inode in `/proc/net/tcp`, then
/// the process's open descriptors). A stranger that took the port first can
/// never pass for our child, whatever it answers.
pub fn listens_on(pid: u32, port: u16) -> bool {
    let Some(inode) = listening_inode(port) else {
        return false;
    };
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let socket = format!("socket:[{inode}]");
    fds.filter_map(Result::ok).any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == socket.as_str())
    })
}

/// The inode of the socket listening on 127.0.0.1:`port`, if any.
fn listening_inode(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    // `local_address` is hex, the address little-endian: 127.0.0.1 is
    // 0100007F. State 0A is LISTEN; the inode is the tenth column.
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.get(1) == Some(&local.as_str()) && cols.get(3) == Some(&"0A") {
            cols.get(9)?.parse().ok()
        } else {
            None
        }
    })
}

/// Asks the OS for a currently free port on 127.0.0.1.
pub fn pick_free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_is_found_on_its_own_process_only() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(listens_on(std::process::id(), port));
        // pid 1 (init) does not hold it.
        assert!(!listens_on(1, port));
        drop(listener);
        assert!(!listens_on(std::process::id(), port));
    }
}
