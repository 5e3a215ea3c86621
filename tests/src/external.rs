//! Finding an external program a test drives (Envoy, Prometheus): the path
//! `scripts/test` exported, else the program on PATH, else the reason it
//! could not be installed, so the test can skip and say why.

use std::path::PathBuf;

/// `$env` if set, else `name` on PATH; otherwise the text of `$unavailable`
/// (set by `scripts/test` when the install failed) or `hint`.
pub fn find_program(
    env: &str,
    name: &str,
    unavailable: &str,
    hint: &str,
) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(env) {
        return Ok(PathBuf::from(path));
    }
    if let Some(path) = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
    {
        return Ok(path);
    }
    Err(std::env::var(unavailable).unwrap_or_else(|_| hint.to_string()))
}
