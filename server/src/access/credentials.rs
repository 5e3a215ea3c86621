//! The raw credential a door received, before it is trusted: the value of
//! `authorization` (`Bearer <key>`) or of `x-api-key`, as bytes, so that a
//! malformed header is judged here the same way for every door.

use super::error::AccessError;

/// Longest credential accepted; real keys are ~44 bytes. Anything longer is
/// refused before hashing, so a 1 MB header costs nothing.
pub const MAX_CREDENTIAL_BYTES: usize = 512;

/// What the caller presented.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// The `authorization` header value.
    pub authorization: Option<&'a [u8]>,
    /// The `x-api-key` header value.
    pub api_key: Option<&'a [u8]>,
}

impl<'a> Credentials<'a> {
    /// The key itself: `authorization: Bearer <key>` wins over `x-api-key`.
    pub fn key(&self) -> Result<&'a [u8], AccessError> {
        let key = match (self.authorization, self.api_key) {
            (Some(auth), _) => bearer(auth)?,
            (None, Some(key)) => key,
            (None, None) => return Err(AccessError::MissingKey),
        };
        let key = key.trim_ascii();
        if key.is_empty() {
            return Err(AccessError::Malformed("the key is empty"));
        }
        if key.len() > MAX_CREDENTIAL_BYTES {
            return Err(AccessError::Malformed("the key is longer than 512 bytes"));
        }
        if !key.iter().all(|b| b.is_ascii_graphic()) {
            return Err(AccessError::Malformed(
                "the key has characters outside printable ASCII",
            ));
        }
        Ok(key)
    }
}

fn bearer(value: &[u8]) -> Result<&[u8], AccessError> {
    let value = value.trim_ascii();
    match value.split_at_checked(7) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case(b"bearer ") => Ok(rest),
        _ => Err(AccessError::Malformed(
            "the authorization header must be `Bearer <key>`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(v: &[u8]) -> Credentials<'_> {
        Credentials {
            authorization: Some(v),
            api_key: None,
        }
    }

    #[test]
    fn bearer_and_api_key_are_read() {
        assert_eq!(auth(b"Bearer abc").key().unwrap(), b"abc");
        assert_eq!(auth(b"bearer  abc ").key().unwrap(), b"abc");
        let only_api = Credentials {
            authorization: None,
            api_key: Some(b"xyz"),
        };
        assert_eq!(only_api.key().unwrap(), b"xyz");
    }

    #[test]
    fn bad_credentials_are_refused_with_a_reason() {
        assert!(matches!(
            Credentials::default().key(),
            Err(AccessError::MissingKey)
        ));
        for bad in [
            &b"Basic abc"[..],
            b"Bearer",
            b"Bearer ",
            b"Bearer a\x01b",
            b"Bearer \xff\xfe",
        ] {
            assert!(
                matches!(auth(bad).key(), Err(AccessError::Malformed(_))),
                "{bad:?}"
            );
        }
        let huge = [b"Bearer ".as_slice(), &vec![b'a'; 1 << 20]].concat();
        assert!(matches!(auth(&huge).key(), Err(AccessError::Malformed(_))));
    }
}
