//! API keys: loaded from the environment variable the config names, never
//! printed. `Debug` is redacted and messages from upstreams are scrubbed.

use std::fmt;

/// An API key. Deliberately not `Display`; `Debug` prints a placeholder.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Reads the key from `var`; None when unset or empty.
    pub fn from_env(var: &str) -> Option<ApiKey> {
        std::env::var(var)
            .ok()
            .filter(|k| !k.is_empty())
            .map(ApiKey)
    }

    /// Wraps a key held in memory (tests, embedding applications).
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The `Authorization` header value.
    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Replaces every occurrence of the key in `text` (an upstream may echo
    /// the key back in an error message).
    pub fn scrub(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_string();
        }
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_scrub_hide_the_key() {
        let k = ApiKey::new("sk-canary-123456");
        assert!(!format!("{k:?}").contains("canary"));
        assert_eq!(k.scrub("bad key sk-canary-123456!"), "bad key [redacted]!");
    }
}
