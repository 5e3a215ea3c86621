//! The hosts' own queues, as every client (other router replicas included)
//! has filled them. llama-server started with `--metrics` exports
//! `llamacpp:requests_deferred`, the requests waiting for a free slot; its
//! `GET /slots` (on by default, `--no-slots` turns it off) lists the slots
//! with `is_processing`, the one queue signal of a server without
//! `--metrics`. When an endpoint sets `queue_metrics` and/or `queue_slots`,
//! one task per pool reads every host's `/metrics` and/or `/slots` at the
//! shorter of the two intervals. With `/slots` read, the host's load for
//! picking is this router's requests in flight to it plus the other
//! clients' (busy slots and deferred requests, less this router's own at
//! the time of the read), and the number of slots it has makes the
//! picker's cost slot-aware (see `picker.rs`). With `/metrics` alone, the
//! deferred requests are added. A host that does not answer (or exports no
//! such figure) counts 0.
//!
//! A pool of several hosts that does not read `/slots` at an interval
//! still learns each host's slot count, with one `/slots` read when it
//! joins ([`learn_slots`]): the cost is then slot-aware on llama-server
//! hosts without any setting (the `hosts` bench: p99 0.96-1.03× one host's
//! at 0.95 × capacity, against 1.46-1.56× for power of two choices without
//! slot counts), though only this router's own requests count in the
//! load. The reads carry the endpoint's API key, as llama-server's
//! `--api-key` guards `/slots` and `/metrics` too.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::shared::Shared;

/// Which of a host's figures are read.
#[derive(Debug, Clone, Copy)]
pub struct Reads {
    /// `/metrics`: `llamacpp:requests_deferred`.
    pub metrics: bool,
    /// `/slots`: the slots with `is_processing`.
    pub slots: bool,
}

/// The metric read.
const DEFERRED: &str = "llamacpp:requests_deferred";

/// The deferred-request count in a Prometheus text exposition, if present.
pub fn deferred(exposition: &str) -> Option<u32> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let rest = l.strip_prefix(DEFERRED)?;
            // `name value` or `name{labels} value`.
            let value = rest.rsplit(char::is_whitespace).next()?;
            let v: f64 = value.parse().ok()?;
            (v.is_finite() && v >= 0.0).then_some(v.min(f64::from(u32::MAX)) as u32)
        })
}

/// One slot in llama-server's `/slots` answer (other fields ignored).
#[derive(Deserialize)]
struct Slot {
    #[serde(default)]
    is_processing: bool,
}

/// What a `/slots` answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotCounts {
    /// Slots with `is_processing`.
    pub busy: u32,
    /// All slots (llama-server's `--parallel`).
    pub total: u32,
}

/// The busy and total slots in a `/slots` answer, if it is one.
pub fn slot_counts(body: &str) -> Option<SlotCounts> {
    let slots: Vec<Slot> = serde_json::from_str(body).ok()?;
    let busy = slots.iter().filter(|s| s.is_processing).count();
    Some(SlotCounts {
        busy: u32::try_from(busy).unwrap_or(u32::MAX),
        total: u32::try_from(slots.len()).unwrap_or(u32::MAX),
    })
}

/// How the reads reach the hosts.
#[derive(Debug, Clone)]
pub struct Reader {
    /// The pool's client for reads.
    pub http: reqwest::Client,
    /// `Bearer <key>` when the endpoint has an API key.
    pub auth: Option<HeaderValue>,
}

/// How often a pool that learns slot counts once looks for hosts not yet
/// asked (new members, or ones that could not be reached).
const LEARN_EVERY: Duration = Duration::from_secs(5);
/// How long that one read may take.
const LEARN_PATIENCE: Duration = Duration::from_secs(2);

/// Reads every host's queue every `interval` until `stop`.
pub async fn run(
    shared: Arc<Shared>,
    reader: Reader,
    reads: Reads,
    interval: Duration,
    stop: CancellationToken,
) {
    loop {
        for host in shared.members().iter() {
            let mut waiting = 0u32;
            if reads.metrics {
                let found = read(&reader, &host.chat_url, "/metrics", interval).await;
                waiting = found.as_deref().and_then(deferred).unwrap_or(0);
            }
            let mut depth = waiting;
            if reads.slots {
                // This router's own requests are in the host's figures
                // too. The larger of our counts before and after the read
                // is subtracted, so one that finished or started while the
                // host answered is not taken for another client's. (With
                // `/metrics` read too, the two figures are moments apart:
                // a request of ours that moved from waiting to a slot in
                // between counts twice until the next read; without it,
                // our own waiting requests hide as many of the others'.)
                let before = host.in_flight();
                let found = read(&reader, &host.chat_url, "/slots", interval).await;
                let own = before.max(host.in_flight());
                if let Some(counts) = found.as_deref().and_then(slot_counts) {
                    host.set_slots(counts.total);
                    depth = counts.busy.saturating_add(waiting).saturating_sub(own);
                }
            }
            host.set_queue_depth(depth);
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Learns the slot count of every host not yet asked, every
/// [`LEARN_EVERY`] until `stop`: one `/slots` read per host. A host that
/// lists its slots, or says it has none to list (404: not llama-server;
/// 501: `--no-slots`), is not asked again; one that cannot answer yet is
/// asked again next time: unreachable, 503 while llama-server loads its
/// model (a host that joins with the router, or through discovery before
/// it is ready), 401/403 or another error.
pub async fn learn_slots(shared: Arc<Shared>, reader: Reader, stop: CancellationToken) {
    loop {
        // A round may wait on unreachable hosts; shutdown does not.
        tokio::select! {
            () = stop.cancelled() => return,
            () = learn_round(&shared, &reader) => {}
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(LEARN_EVERY) => {}
        }
    }
}

/// Asks every host not yet asked for its slots, one at a time.
async fn learn_round(shared: &Shared, reader: &Reader) {
    for host in shared.members().iter() {
        if host.slots_asked() {
            continue;
        }
        let Some(response) = get(reader, &host.chat_url, "/slots", LEARN_PATIENCE).await else {
            continue;
        };
        let status = response.status();
        if status == StatusCode::NOT_FOUND || status == StatusCode::NOT_IMPLEMENTED {
            host.set_slots_asked();
            continue;
        }
        if !status.is_success() {
            continue;
        }
        // A body that is not a slot list is not llama-server's either.
        host.set_slots_asked();
        if let Some(counts) = response.text().await.ok().as_deref().and_then(slot_counts) {
            host.set_slots(counts.total);
        }
    }
}

/// The body of `path` on the host's server (at its root, beside `/v1`),
/// when it answers with success within `patience`.
async fn read(
    reader: &Reader,
    chat_url: &reqwest::Url,
    path: &str,
    patience: Duration,
) -> Option<String> {
    let response = get(reader, chat_url, path, patience).await?;
    if !response.status().is_success() {
        return None;
    }
    response.text().await.ok()
}

/// `GET path` on the host's server, with the endpoint's key; None when it
/// could not be reached within `patience`.
async fn get(
    reader: &Reader,
    chat_url: &reqwest::Url,
    path: &str,
    patience: Duration,
) -> Option<reqwest::Response> {
    let url = chat_url.join(path).ok()?;
    let mut request = reader.http.get(url).timeout(patience);
    if let Some(auth) = &reader.auth {
        request = request.header(AUTHORIZATION, auth.clone());
    }
    request.send().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deferred_count_is_read_from_llama_servers_exposition() {
        let text = "# HELP llamacpp:requests_deferred Number of requests deferred.\n\
                    # TYPE llamacpp:requests_deferred gauge\n\
                    llamacpp:requests_processing 4\n\
                    llamacpp:requests_deferred 3\n";
        assert_eq!(deferred(text), Some(3));
        assert_eq!(
            deferred("llamacpp:requests_deferred{slot=\"x\"} 2.0\n"),
            Some(2)
        );
        assert_eq!(deferred("llamacpp:requests_processing 4\n"), None);
        assert_eq!(deferred("llamacpp:requests_deferred NaN\n"), None);
    }

    #[test]
    fn busy_slots_are_counted_from_llama_servers_slot_list() {
        let body = r#"[
            {"id": 0, "n_ctx": 4096, "is_processing": true, "params": {}},
            {"id": 1, "n_ctx": 4096, "is_processing": false},
            {"id": 2, "n_ctx": 4096, "is_processing": true}
        ]"#;
        assert_eq!(slot_counts(body), Some(SlotCounts { busy: 2, total: 3 }));
        assert_eq!(slot_counts("[]"), Some(SlotCounts { busy: 0, total: 0 }));
        // An older server without the field: no slot counts as busy.
        assert_eq!(
            slot_counts(r#"[{"id": 0}]"#),
            Some(SlotCounts { busy: 0, total: 1 })
        );
        // `--no-slots` answers an error object, not a list.
        assert_eq!(
            slot_counts(
                r#"{"error": {"code": 501, "message": "This server does not support slots endpoint."}}"#
            ),
            None
        );
    }
}
