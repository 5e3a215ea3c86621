//! Reading the ledger: spend per key since an instant (to seed budgets at
//! start-up) and usage per key and model since an instant (the `Usage` RPC
//! behind `ai-router-cli usage`).

use std::collections::HashMap;

use rusqlite::{Connection, params};

/// One line of the usage report.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageLine {
    /// Tenant name.
    pub key: String,
    /// Model id.
    pub model: String,
    /// Finished calls.
    pub calls: u64,
    /// Calls that did not end OK.
    pub failed: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// USD.
    pub cost_usd: f64,
}

/// USD spent per key since `since_ms` (Unix milliseconds).
pub fn spend_since(conn: &Connection, since_ms: i64) -> rusqlite::Result<HashMap<String, f64>> {
    let mut stmt =
        conn.prepare("SELECT key, TOTAL(cost_usd) FROM usage WHERE ts_ms >= ?1 GROUP BY key")?;
    let rows = stmt.query_map(params![since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Usage per key and model since `since_ms`, sorted by key then model.
pub fn usage_since(conn: &Connection, since_ms: i64) -> rusqlite::Result<Vec<UsageLine>> {
    let mut stmt = conn.prepare(
        "SELECT key, model, COUNT(*), SUM(status != 'ok'), SUM(prompt_tokens),
                SUM(completion_tokens), TOTAL(cost_usd)
         FROM usage WHERE ts_ms >= ?1 GROUP BY key, model ORDER BY key, model",
    )?;
    let rows = stmt.query_map(params![since_ms], |r| {
        Ok(UsageLine {
            key: r.get(0)?,
            model: r.get(1)?,
            calls: r.get::<_, i64>(2)?.max(0) as u64,
            failed: r.get::<_, i64>(3)?.max(0) as u64,
            prompt_tokens: r.get::<_, i64>(4)?.max(0) as u64,
            completion_tokens: r.get::<_, i64>(5)?.max(0) as u64,
            cost_usd: r.get(6)?,
        })
    })?;
    rows.collect()
}
