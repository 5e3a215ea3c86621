//! A temporary directory removed on drop (for model files with custom specs).

use std::path::{Path, PathBuf};

/// A directory under the system temp dir, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `<tmp>/ai-router-bench-<label>-<pid>`.
    pub fn new(label: &str) -> std::io::Result<TempDir> {
        let dir =
            std::env::temp_dir().join(format!("ai-router-bench-{label}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A file in it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
