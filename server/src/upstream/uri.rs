//! Upstream URLs as the request path's client takes them (`http::Uri`),
//! converted once where an endpoint, host or child is set up: the rest of
//! the router (config, probes, scrapes) keeps `url::Url`.

use http::Uri;
use http::uri::PathAndQuery;

/// `url` as a `Uri`, or why it cannot be one.
pub fn uri_of(url: &reqwest::Url) -> Result<Uri, String> {
    url.as_str()
        .parse()
        .map_err(|e| format!("{url} is not a usable URI: {e}"))
}

/// `<base>/chat/completions` → `<base>/embeddings` (the query dropped),
/// as `Url::join("../embeddings")` gives it.
pub(super) fn embeddings_uri(chat: &Uri) -> Result<Uri, String> {
    let base = chat
        .path()
        .rsplit_once('/')
        .and_then(|(dir, _)| dir.rsplit_once('/'))
        .map(|(parent, _)| parent)
        .ok_or_else(|| format!("no embeddings URL beside {chat}"))?;
    let mut parts = chat.clone().into_parts();
    parts.path_and_query = Some(
        PathAndQuery::try_from(format!("{base}/embeddings"))
            .map_err(|e| format!("no embeddings URL beside {chat}: {e}"))?,
    );
    Uri::from_parts(parts).map_err(|e| format!("no embeddings URL beside {chat}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embeddings_uri_sits_beside_the_chat_one() {
        let chat: Uri = "https://api.example.com:8443/api/v1/chat/completions?x=1"
            .parse()
            .unwrap();
        assert_eq!(
            embeddings_uri(&chat).unwrap().to_string(),
            "https://api.example.com:8443/api/v1/embeddings"
        );
        let root: Uri = "http://127.0.0.1:9/chat/completions".parse().unwrap();
        assert_eq!(
            embeddings_uri(&root).unwrap().to_string(),
            "http://127.0.0.1:9/embeddings"
        );
    }

    #[test]
    fn a_url_converts_whole() {
        let url = reqwest::Url::parse("https://h.example/v1/chat/completions").unwrap();
        assert_eq!(uri_of(&url).unwrap().to_string(), url.as_str());
    }
}
