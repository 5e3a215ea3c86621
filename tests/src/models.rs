//! Temporary directories of tiny GGUF models, one distinct random model per id.

use std::path::{Path, PathBuf};

use crate::gguf::{TinyModelSpec, write_tiny_llama};

/// A temporary models directory; removed on drop.
pub struct ModelDir {
    dir: tempfile::TempDir,
}

impl ModelDir {
    /// Writes `<id>.gguf` for each id (distinct seeds, so distinct models).
    pub fn with_models(ids: &[&str]) -> anyhow::Result<ModelDir> {
        let dir = tempfile::tempdir()?;
        for (i, id) in ids.iter().enumerate() {
            let spec = TinyModelSpec {
                seed: i as u64 + 1,
                name: id.to_string(),
                context: 4096,
                ..TinyModelSpec::default()
            };
            write_tiny_llama(&dir.path().join(format!("{id}.gguf")), &spec)?;
        }
        Ok(ModelDir { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Path of a file in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
