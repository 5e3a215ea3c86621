//! Per-key usage and ledger health in `/metrics`, read at scrape time from
//! the principals' counters and the ledger writer's. Series are labelled by
//! tenant name, never by key or hash.

use std::fmt;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};

use super::AccessControl;
use crate::metrics::collect::counters;

/// Collector over the access layer.
pub struct AccessGauges(pub AccessControl);

impl fmt::Debug for AccessGauges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessGauges")
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    key: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NoLabels {}

impl Collector for AccessGauges {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), fmt::Error> {
        let principals = self.0.principals();
        let keys = || {
            principals.iter().map(|p| {
                (
                    KeyLabels {
                        key: p.name.clone(),
                    },
                    &p.usage,
                )
            })
        };
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        counters(
            &mut e,
            "key_calls",
            "Finished calls per API key (tenant), any outcome.",
            keys().map(|(k, u)| (k, load(&u.calls))),
        )?;
        counters(
            &mut e,
            "key_failed_calls",
            "Finished calls per API key that failed or were cancelled.",
            keys().map(|(k, u)| (k, load(&u.failed))),
        )?;
        counters(
            &mut e,
            "key_prompt_tokens",
            "Prompt tokens per API key.",
            keys().map(|(k, u)| (k, load(&u.prompt_tokens))),
        )?;
        counters(
            &mut e,
            "key_completion_tokens",
            "Completion tokens per API key.",
            keys().map(|(k, u)| (k, load(&u.completion_tokens))),
        )?;
        counters(
            &mut e,
            "key_cost_usd",
            "Upstream cost per API key, in USD.",
            keys().map(|(k, u)| (k, u.cost_usd())),
        )?;
        counters(
            &mut e,
            "key_refused_calls",
            "Calls refused by a key's rate limits, concurrency, batch size or budget.",
            keys().map(|(k, u)| (k, load(&u.refused))),
        )?;
        counters(
            &mut e,
            "access_denied",
            "Calls refused by the access layer, by reason.",
            self.0.denials().into_iter().map(|(reason, n)| {
                (
                    ReasonLabels {
                        reason: reason.to_string(),
                    },
                    n,
                )
            }),
        )?;
        let Some(ledger) = self.0.ledger() else {
            return Ok(());
        };
        let c = ledger.counters();
        for (name, help, value) in [
            (
                "ledger_rows_written",
                "Usage ledger rows committed to SQLite.",
                &c.written,
            ),
            (
                "ledger_rows_failed",
                "Usage ledger rows lost to a failed write (disk full, I/O error).",
                &c.failed,
            ),
            (
                "ledger_rows_dropped",
                "Usage ledger rows not queued because the writer had stopped (after shutdown).",
                &c.dropped,
            ),
            (
                "ledger_rows_waited",
                "Usage ledger rows whose call waited for queue room (the writer was behind).",
                &c.waited,
            ),
        ] {
            counters(&mut e, name, help, [(NoLabels {}, load(value))])?;
        }
        Ok(())
    }
}
