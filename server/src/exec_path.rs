//! Finding an executable by name on `PATH`, for the binaries the router runs
//! or queries (llama-server, nvidia-smi).

use std::path::PathBuf;

/// The first file named `name` in a `PATH` directory.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
