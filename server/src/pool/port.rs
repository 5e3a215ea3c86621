//! Free loopback ports for children. The port is free when chosen; another
//! process may take it before the child binds, which the start-up logic
//! detects (the child reports the bind failure and exits) and retries.

use std::net::{Ipv4Addr, TcpListener};

/// Asks the OS for a currently free port on 127.0.0.1.
pub fn pick_free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
