//! sglang-router (PyPI `sglang-router`, a Rust gateway with a cache-aware
//! policy), the peer the `overhead` and `prefix` benches run beside
//! ai-router. It comes from the bench venv (`scripts/bench-overhead`
//! installs it); a venv without it is an error whose message says so, and
//! the benches report the peer as not measured.

use std::path::Path;

use anyhow::bail;

use crate::server_proc::{Server, free_port, wait_until};

/// Starts `python -m sglang_router.launch_router` from `venv` on a free
/// loopback port over `workers` with `policy` (`round_robin`,
/// `cache_aware`, `power_of_two`...), logging to `log`; returns it and its
/// `http://127.0.0.1:PORT` once it forwards a chat call.
pub async fn start(
    venv: &Path,
    workers: &[String],
    policy: &str,
    log: &Path,
) -> anyhow::Result<(Server, String)> {
    let python = venv.join("bin/python");
    let probe = std::process::Command::new(&python)
        .args(["-c", "import sglang_router"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => bail!(
            "not installed: `import sglang_router` failed in {}: {}",
            venv.display(),
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => bail!("not installed: no python at {}: {e}", python.display()),
    }
    let port = free_port()?;
    let mut args: Vec<String> = vec![
        "-m".into(),
        "sglang_router.launch_router".into(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--worker-urls".into(),
    ];
    args.extend(workers.iter().cloned());
    args.extend([
        "--policy".into(),
        policy.into(),
        "--log-level".into(),
        "warn".into(),
    ]);
    let mut server = Server::spawn(&python, &args, log, port)?;
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build()?;
    // Ready once it forwards a chat call (it registers the workers after
    // probing them, a moment after it binds).
    wait_until(&mut server, "sglang-router", || async {
        Ok(http
            .post(format!("{url}/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(r#"{"model":"m","messages":[{"role":"user","content":"ready?"}],"max_tokens":1}"#)
            .send()
            .await?
            .status()
            .is_success())
    })
    .await?;
    Ok((server, url))
}
