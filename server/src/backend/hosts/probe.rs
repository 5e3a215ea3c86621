//! The active probe: a real one-token generation sent to every host of a
//! pool at `probe_interval`, because a wedged llama-server still answers
//! `/health` with 200. A probe that fails or stays silent past its timeout
//! counts against the host as a failed call does (so a host can be ejected
//! with no traffic at all); one that answers ends a probation after an
//! ejection. On only when the endpoint names a `probe_model`.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::host::Host;
use super::shared::Shared;
use crate::upstream::ApiKey;

/// What a probe sends and how long it waits.
pub struct Prober {
    /// Its own client (probes never share a pool slot with calls).
    pub http: reqwest::Client,
    /// The upstream model asked for one token.
    pub model: String,
    /// The endpoint's key, if it has one.
    pub api_key: Option<ApiKey>,
    /// Longest wait for the answer.
    pub timeout: Duration,
}

impl Prober {
    /// Asks `host` for one token; Ok when a well-formed answer came in time.
    async fn probe(&self, host: &Host) -> Result<(), String> {
        let body = serde_json::json!({
            "model": self.model,
            "messages": [{"role": "user", "content": "ping"}],
            "max_tokens": 1,
            "stream": false,
        });
        let mut request = self
            .http
            .post(host.chat_url.clone())
            .timeout(self.timeout)
            .json(&body);
        if let Some(key) = &self.api_key {
            let bearer = key
                .bearer()
                .map_err(|_| "the API key is not a valid HTTP header value".to_string())?;
            request = request.header(reqwest::header::AUTHORIZATION, bearer);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let answer: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
        match answer.get("choices").and_then(|c| c.as_array()) {
            Some(choices) if !choices.is_empty() => Ok(()),
            _ => Err("an answer without choices".into()),
        }
    }
}

/// Probes every host every `interval` until `stop`.
pub async fn run(shared: Arc<Shared>, prober: Prober, interval: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        for host in shared.members().iter() {
            let result = tokio::select! {
                () = stop.cancelled() => return,
                r = prober.probe(host) => r,
            };
            match result {
                Ok(()) => host.probe_answered(),
                Err(why) => {
                    tracing::debug!(endpoint = %shared.endpoint, server.address = %host.address, server.port = host.port, %why, "probe failed");
                    if host.probe_failed(shared.ejection) {
                        shared.ejected(host);
                    }
                }
            }
        }
    }
}
