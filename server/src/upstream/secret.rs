//! API keys: loaded from the environment variable the config names and
//! held as `secrecy::SecretString`, so they are zeroed on drop, print as
//! `[REDACTED]` in `Debug`, and can only be read through an explicit
//! `expose_secret()` at the one place a request is authorised. Messages
//! from upstreams are scrubbed of the key before anyone sees them.

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

    /// Adds the key to a request as `Authorization: Bearer`, a header
    /// reqwest marks sensitive (kept out of its own logs and debug output).
    pub(crate) fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(self.0.expose_secret())
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
        let k = ApiKey::new("sk-canary-123456");
        let request = k
            .authorize(reqwest::Client::new().get("http://127.0.0.1:1/"))
            .build()
            .unwrap();
        let header = &request.headers()[reqwest::header::AUTHORIZATION];
        assert_eq!(header.to_str().unwrap(), "Bearer sk-canary-123456");
        assert!(header.is_sensitive());
    }
}
