//! The set of local models: every `*.gguf` in the configured directories
//! (id = file stem) plus the models declared in config. Only files in the
//! catalogue can ever be given to llama-server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{LlamaSettings, LocalConfig};
use crate::domain::ModelId;

/// A model the pool may start.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalModelSpec {
    /// Model id.
    pub id: String,
    /// GGUF file (canonicalised).
    pub path: PathBuf,
    /// llama-server settings.
    pub settings: LlamaSettings,
    /// File size in bytes, a first estimate of the memory it will take.
    pub file_bytes: u64,
}

/// Why the catalogue cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// Two files would have the same id.
    #[error(
        "model id '{id}' is ambiguous: {first} and {second}; rename one file or declare ids in [[local.models]]"
    )]
    Collision {
        id: String,
        /// First file.
        first: String,
        /// Second file.
        second: String,
    },
    /// A declared model's file is missing.
    #[error("local model '{id}': {path}: {reason}")]
    BadFile {
        id: String,
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A preload entry names no catalogued model.
    #[error("preload names unknown local model '{0}'")]
    UnknownPreload(String),
}

/// Builds the catalogue. A missing models directory is not an error (the
/// default `./models` may simply not exist); a declared file that is missing is.
pub fn build(config: &LocalConfig) -> Result<BTreeMap<String, LocalModelSpec>, CatalogueError> {
    let mut models: BTreeMap<String, LocalModelSpec> = BTreeMap::new();
    for declared in &config.models {
        let spec = spec_for(&declared.id, &declared.path, declared.settings.clone())?;
        insert(&mut models, spec)?;
    }
    for dir in &config.models_dirs {
        for path in gguf_files(dir) {
            let Some(id) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if let Err(why) = ModelId::parse(id.as_str()) {
                tracing::warn!(file = %path.display(), "skipping model file: its name is not a usable id ({why})");
                continue;
            }
            // A declared model may point at a discovered file under its own id;
            // the same file is not catalogued twice.
            if models.values().any(|m| same_file(&m.path, &path)) {
                continue;
            }
            let spec = spec_for(&id, &path, config.defaults.clone())?;
            insert(&mut models, spec)?;
        }
    }
    for id in &config.preload {
        if !models.contains_key(id) {
            return Err(CatalogueError::UnknownPreload(id.clone()));
        }
    }
    Ok(models)
}

fn spec_for(
    id: &str,
    path: &Path,
    settings: LlamaSettings,
) -> Result<LocalModelSpec, CatalogueError> {
    let bad = |reason: String| CatalogueError::BadFile {
        id: id.to_string(),
        path: path.display().to_string(),
        reason,
    };
    let canonical = path.canonicalize().map_err(|e| bad(e.to_string()))?;
    let meta = std::fs::metadata(&canonical).map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    Ok(LocalModelSpec {
        id: id.to_string(),
        path: canonical,
        settings,
        file_bytes: meta.len(),
    })
}

fn insert(
    models: &mut BTreeMap<String, LocalModelSpec>,
    spec: LocalModelSpec,
) -> Result<(), CatalogueError> {
    if let Some(existing) = models.get(&spec.id) {
        return Err(CatalogueError::Collision {
            id: spec.id.clone(),
            first: existing.path.display().to_string(),
            second: spec.path.display().to_string(),
        });
    }
    models.insert(spec.id.clone(), spec);
    Ok(())
}

fn gguf_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
                && p.is_file()
        })
        .collect();
    files.sort();
    files
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[&str]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cat-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for f in files {
            std::fs::write(dir.join(f), b"GGUF").unwrap();
        }
        dir
    }

    #[test]
    fn discovers_gguf_files_by_stem() {
        let dir = dir_with(&["a.gguf", "b.GGUF", "notes.txt", "-bad.gguf"]);
        let config = LocalConfig {
            models_dirs: vec![dir.clone()],
            ..LocalConfig::default()
        };
        let cat = build(&config).unwrap();
        assert_eq!(cat.keys().cloned().collect::<Vec<_>>(), vec!["a", "b"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn collisions_name_both_files() {
        let d1 = dir_with(&["same.gguf"]);
        let d2 = dir_with(&["same.gguf"]);
        let config = LocalConfig {
            models_dirs: vec![d1.clone(), d2.clone()],
            ..LocalConfig::default()
        };
        let err = build(&config).unwrap_err().to_string();
        assert!(
            err.contains(&d1.display().to_string()) && err.contains(&d2.display().to_string()),
            "{err}"
        );
        std::fs::remove_dir_all(d1).unwrap();
        std::fs::remove_dir_all(d2).unwrap();
    }
}
