//! The official `openai` Python package, as a real client of the HTTP
//! door: [`run_sdk`] runs one case of `tests/python/openai_sdk.py` against a
//! router and returns the JSON line it printed. The interpreter comes from
//! `$AI_ROUTER_TEST_PYTHON` (set by `scripts/test`) or, when unset, from
//! `scripts/ensure-openai-python`, which creates the venv on first use.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};

/// Longest one SDK case may take (it makes one or two calls on loopback).
const CASE_TIMEOUT: Duration = Duration::from_secs(120);

fn repo_root() -> &'static Path {
    // tests/ is one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(".."))
}

/// The Python interpreter with `openai` installed (set up once per process).
pub fn openai_python() -> anyhow::Result<PathBuf> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("AI_ROUTER_TEST_PYTHON") {
                return Ok(PathBuf::from(p));
            }
            let out = std::process::Command::new(repo_root().join("scripts/ensure-openai-python"))
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| format!("cannot run scripts/ensure-openai-python: {e}"))?;
            if !out.status.success() {
                return Err("scripts/ensure-openai-python failed (see its output above)".into());
            }
            Ok(PathBuf::from(
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            ))
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// Runs `openai_sdk.py CASE BASE_URL MODEL [ARG]` and parses its output.
/// Fails with the script's stderr when it exits non-zero (the SDK raised).
pub async fn run_sdk(
    case: &str,
    base_url: &str,
    model: &str,
    arg: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let python = openai_python()?;
    let script = repo_root().join("tests/python/openai_sdk.py");
    let mut command = tokio::process::Command::new(python);
    command
        .arg(script)
        .args([case, base_url, model])
        .args(arg)
        // Hermetic: no proxy or key from the environment reaches the SDK.
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(CASE_TIMEOUT, command.output())
        .await
        .with_context(|| format!("openai_sdk.py {case} did not finish in {CASE_TIMEOUT:?}"))??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "openai_sdk.py {case} failed ({}):\n{}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| format!("openai_sdk.py {case} printed {stdout:?}"))
}
