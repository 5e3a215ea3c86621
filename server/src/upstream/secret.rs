//! API keys: loaded from the environment variable the config names and
//! held as `secrecy::SecretString`, so they are zeroed on drop, print as
//! `[REDACTED]` in `Debug`, and can only be read through an explicit
//! `expose_secret()` at the one place a request is authorised. Messages
//! from upstreams are scrubbed of the key before anyone sees them.

use http::header::{HeaderValue, InvalidHeaderValue};
use secrecy::{ExposeSecret, SecretString};

/// An API key.
#[derive(Clone, Debug)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Reads the key from `var`; None when unset or empty.
    pub fn from_env(var: &str) -> Option<ApiKey> {
        std::env::var(var)
            .ok()
            .filter(|k| !k.is_empty())
            .map(ApiKey::new)
    }

    /// Wraps a key held in memory (tests, embedding applications).
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(SecretString::from(key.into()))
    }

    /// The `Authorization: Bearer` value, marked sensitive (hyper and
    /// `http` then keep it out of debug output, and HTTP/2 out of its
    /// header compression table). Fails when the key holds characters a
    /// header cannot (a stray newline from a key file, say).
    pub(crate) fn bearer(&self) -> Result<HeaderValue, InvalidHeaderValue> {
        let mut value = HeaderValue::try_from(format!("Bearer {}", self.0.expose_secret()))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Replaces every occurrence of the key in `text` (an upstream may echo
    /// the key back in an error message).
    pub fn scrub(&self, text: &str) -> String {
        let key = self.0.expose_secret();
        if key.len() < 4 {
            return text.to_string();
        }
        text.replace(key, "[redacted]")
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

    #[test]
    fn the_authorization_header_is_bearer_and_sensitive() {
        let header = ApiKey::new("sk-canary-123456").bearer().unwrap();
        assert_eq!(header.to_str().unwrap(), "Bearer sk-canary-123456");
        assert!(header.is_sensitive());
        assert!(ApiKey::new("sk-line\n").bearer().is_err());
    }
}
