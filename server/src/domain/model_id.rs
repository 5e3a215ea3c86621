//! Model ids: the one parser every entry point uses (requests, config,
//! the catalogue of local files, routing), so an id that could be a path, a
//! flag or a control sequence never reaches a file lookup, a child's
//! argument list or an upstream.

use std::borrow::Borrow;
use std::fmt;

/// Longest model id accepted, in bytes.
pub const MAX_MODEL_ID: usize = 256;

/// A model id that passed [`ModelId::parse`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelId(String);

/// Why a string is not a model id; each message says what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ModelIdError {
    /// Nothing was given.
    #[error("the model id is empty")]
    Empty,
    /// Over [`MAX_MODEL_ID`] bytes.
    #[error("the model id is longer than {MAX_MODEL_ID} bytes")]
    TooLong,
    /// Would read as a command-line flag.
    #[error("a model id must not start with '-'")]
    LooksLikeAFlag,
    /// Absolute or hidden path.
    #[error("a model id must not be a path")]
    LooksLikeAPath,
    /// `a//b`, `a/./b`, `a/../b`, `x/`.
    #[error("a model id must not contain empty, '.' or '..' path segments")]
    BadSegment,
    /// Anything outside the allowed alphabet (spaces, NUL, quotes...).
    #[error("a model id may contain only letters, digits and - _ . : / @ + = (found {0:?})")]
    BadCharacter(char),
}

impl ModelId {
    /// Checks that `id` is a plain name, not a path, flag or control sequence.
    pub fn parse(id: impl Into<String>) -> Result<ModelId, ModelIdError> {
        let id = id.into();
        check(&id)?;
        Ok(ModelId(id))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `endpoint/upstream-model` split at the first '/', for remote routes.
    pub fn split_prefix(&self) -> Option<(&str, &str)> {
        self.0.split_once('/')
    }
}

fn check(id: &str) -> Result<(), ModelIdError> {
    if id.is_empty() {
        return Err(ModelIdError::Empty);
    }
    if id.len() > MAX_MODEL_ID {
        return Err(ModelIdError::TooLong);
    }
    if id.starts_with('-') {
        return Err(ModelIdError::LooksLikeAFlag);
    }
    if id.starts_with('/') || id.starts_with('.') {
        return Err(ModelIdError::LooksLikeAPath);
    }
    if id
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(ModelIdError::BadSegment);
    }
    if let Some(c) = id.chars().find(|c| {
        !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '@' | '+' | '='))
    }) {
        return Err(ModelIdError::BadCharacter(c));
    }
    Ok(())
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ModelId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// Lookups in maps keyed by `ModelId` with a `&str`: String's Eq, Ord and
// Hash agree with ModelId's, which derive from it.
impl Borrow<str> for ModelId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<ModelId> for String {
    fn from(id: ModelId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_like_and_flag_like_ids_are_rejected_by_rule() {
        for (bad, rule) in [
            ("", ModelIdError::Empty),
            ("../x", ModelIdError::LooksLikeAPath),
            ("/etc/passwd", ModelIdError::LooksLikeAPath),
            ("--help", ModelIdError::LooksLikeAFlag),
            ("-m", ModelIdError::LooksLikeAFlag),
            ("a\0b", ModelIdError::BadCharacter('\0')),
            ("a/../b", ModelIdError::BadSegment),
            ("a//b", ModelIdError::BadSegment),
            (".hidden", ModelIdError::LooksLikeAPath),
            ("a b", ModelIdError::BadCharacter(' ')),
            ("x/", ModelIdError::BadSegment),
        ] {
            assert_eq!(ModelId::parse(bad), Err(rule), "{bad:?}");
        }
        assert_eq!(
            ModelId::parse("x".repeat(MAX_MODEL_ID + 1)),
            Err(ModelIdError::TooLong)
        );
        for good in [
            "tiny",
            "tiny-2.Q4_K_M",
            "openrouter/openai/gpt-4o-mini",
            "lab/llama3:8b",
            "a=b",
        ] {
            assert_eq!(ModelId::parse(good).map(String::from), Ok(good.to_string()));
        }
    }

    #[test]
    fn the_prefix_is_split_at_the_first_slash() {
        let id = ModelId::parse("openrouter/openai/gpt-4o").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.split_prefix(), Some(("openrouter", "openai/gpt-4o")));
    }
}
