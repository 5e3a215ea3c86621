//! Where a pool's hosts come from: listed in the config (fixed), a DNS
//! name whose A/AAAA records are the hosts (a Kubernetes headless Service),
//! or a watched TOML file (a ConfigMap mount, swapped atomically by the
//! kubelet). Discovery runs as one task on the service's tracker: it looks
//! every `interval`, and at once when an attempt could not connect. A
//! failed look (DNS down, file half-written) keeps the current hosts.
//!
//! DNS uses the system resolver through `tokio::net::lookup_host` (no
//! resolver crate: the system's honours /etc/hosts, search domains and
//! nsswitch, as the pods' other clients do). The file is polled and
//! compared by content, which also sees a symlink swap whose mtime lies.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::shared::Shared;

/// Where hosts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Listed in the config; never changes.
    Listed(Vec<String>),
    /// `dns://name:port[/path]`: one host per address, `http://addr:port/path`.
    Dns {
        /// The name to resolve.
        name: String,
        /// The port every host listens on.
        port: u16,
        /// The base path (default `/v1`).
        path: String,
    },
    /// `file://path`: a TOML file with `urls = [...]`.
    File(PathBuf),
}

/// The hosts file's content.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostsFile {
    /// Base URLs of the hosts.
    urls: Vec<String>,
}

impl Source {
    /// The source named by `discovery`, else the listed hosts.
    pub fn parse(discovery: Option<&str>, listed: Vec<String>) -> Result<Source, String> {
        let Some(spec) = discovery else {
            return Ok(Source::Listed(listed));
        };
        if let Some(path) = spec.strip_prefix("file://") {
            if path.is_empty() {
                return Err(format!("discovery {spec:?} names no file"));
            }
            return Ok(Source::File(PathBuf::from(path)));
        }
        let Some(rest) = spec.strip_prefix("dns://") else {
            return Err(format!(
                "discovery {spec:?} must be dns://name:port[/path] or file://path"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, "/v1"),
        };
        let (name, port) = authority
            .rsplit_once(':')
            .and_then(|(n, p)| Some((n, p.parse::<u16>().ok()?)))
            .filter(|(n, p)| !n.is_empty() && *p > 0)
            .ok_or_else(|| {
                format!("discovery {spec:?} needs a name and a port: dns://name:port[/path]")
            })?;
        Ok(Source::Dns {
            name: name.to_string(),
            port,
            path: path.to_string(),
        })
    }

    /// Whether it changes over time (and so needs a task).
    pub fn is_dynamic(&self) -> bool {
        !matches!(self, Source::Listed(_))
    }

    /// Whether it can give more than one host (else no pick is ever made).
    pub fn may_have_several(&self) -> bool {
        match self {
            Source::Listed(urls) => urls.len() > 1,
            _ => true,
        }
    }

    /// The hosts' base URLs now.
    pub async fn look(&self) -> Result<Vec<String>, String> {
        match self {
            Source::Listed(urls) => Ok(urls.clone()),
            Source::Dns { name, port, path } => {
                let addrs = tokio::net::lookup_host((name.as_str(), *port))
                    .await
                    .map_err(|e| format!("cannot resolve {name}: {e}"))?;
                // Sorted and deduplicated: resolvers rotate their answers.
                let unique: BTreeSet<String> = addrs.map(|a| format!("http://{a}{path}")).collect();
                if unique.is_empty() {
                    return Err(format!("{name} has no addresses"));
                }
                Ok(unique.into_iter().collect())
            }
            Source::File(path) => read_file(path).await,
        }
    }
}

async fn read_file(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| format!("cannot read hosts file {}: {e}", path.display()))?;
    let file: HostsFile = toml::from_str(&text).map_err(|e| {
        format!(
            "hosts file {} must hold `urls = [\"http://host:port/v1\", ...]`: {e}",
            path.display()
        )
    })?;
    Ok(file.urls)
}

/// Looks for hosts until `stop`: at once, then every `interval` or when
/// woken. Hosts are replaced only when a look succeeds.
pub async fn run(shared: Arc<Shared>, source: Source, interval: Duration, stop: CancellationToken) {
    let mut last: Option<Vec<String>> = None;
    loop {
        match source.look().await {
            Ok(urls) if last.as_ref() != Some(&urls) => {
                shared.replace(&urls);
                last = Some(urls);
            }
            Ok(_) => {}
            Err(why) => {
                tracing::warn!(endpoint = %shared.endpoint, %why, "host discovery failed; keeping the current hosts");
                // Callers waiting for a first round get their answer (no
                // hosts) instead of waiting out their patience.
                shared.mark_discovered();
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
            () = shared.woken() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_with_clear_errors() {
        assert_eq!(
            Source::parse(Some("dns://llama.lab.svc:8080"), vec![]).unwrap(),
            Source::Dns {
                name: "llama.lab.svc".into(),
                port: 8080,
                path: "/v1".into()
            }
        );
        assert_eq!(
            Source::parse(Some("dns://h:1/api/v1/"), vec![]).unwrap(),
            Source::Dns {
                name: "h".into(),
                port: 1,
                path: "/api/v1".into()
            }
        );
        assert_eq!(
            Source::parse(Some("file://hosts.toml"), vec![]).unwrap(),
            Source::File("hosts.toml".into())
        );
        for bad in [
            "dns://nohost",
            "dns://:80",
            "dns://h:0",
            "dns://h:x",
            "file://",
            "k8s://x",
        ] {
            let err = Source::parse(Some(bad), vec![]).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
        assert_eq!(
            Source::parse(None, vec!["http://a/v1".into()]).unwrap(),
            Source::Listed(vec!["http://a/v1".into()])
        );
    }

    #[tokio::test]
    async fn a_hosts_file_is_read_and_a_bad_one_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.toml");
        std::fs::write(&path, "urls = [\"http://10.0.0.1:8080/v1\"]\n").unwrap();
        let source = Source::File(path.clone());
        assert_eq!(source.look().await.unwrap(), ["http://10.0.0.1:8080/v1"]);
        std::fs::write(&path, "hosts = []\n").unwrap();
        assert!(source.look().await.unwrap_err().contains("urls = ["));
        let missing = Source::File(dir.path().join("nope.toml"));
        assert!(missing.look().await.unwrap_err().contains("nope.toml"));
    }

    #[tokio::test]
    async fn localhost_resolves_to_loopback_hosts() {
        let source = Source::parse(Some("dns://localhost:8080"), vec![]).unwrap();
        let urls = source.look().await.unwrap();
        assert!(
            urls.contains(&"http://127.0.0.1:8080/v1".to_string()),
            "{urls:?}"
        );
    }
}
