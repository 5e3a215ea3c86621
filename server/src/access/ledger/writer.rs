//! The ledger's writer thread: a plain std thread (SQLite calls block), fed
//! by a bounded channel. It waits for a row, lets more gather for
//! [`LINGER`], writes them in one transaction (at most [`MAX_BATCH`]; a
//! backlog is written without waiting), and exits when told to stop, after
//! writing what was queued before the stop.
//!
//! Why the linger: written as they came, rows cost a thread wake-up and a
//! transaction each. At 2,000 keyed calls/s that was 15% of the router's
//! CPU (≈ 45 µs a call, `perf record` on the router); gathered for 20 ms they
//! share one. While the thread sleeps, senders only queue (nothing wakes
//! it); a flush or a stop wakes it at once ([`Ledger::flush`] and
//! [`Ledger::close`] unpark it), so a report never waits for the linger.
//! The cost: a crash (not a shutdown, which writes everything) loses up to
//! [`LINGER`] more of rows than before.
//!
//! [`Ledger::flush`]: super::Ledger::flush
//! [`Ledger::close`]: super::Ledger::close

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use super::{Counters, Message, Row};

/// Most rows written in one transaction.
const MAX_BATCH: usize = 4096;
/// How long rows gather after the first one before they are written.
pub(super) const LINGER: Duration = Duration::from_millis(20);

pub fn run(mut conn: Connection, rx: Receiver<Message>, counters: Arc<Counters>) {
    let mut rows: Vec<Row> = Vec::with_capacity(MAX_BATCH);
    let mut flushed = Vec::new();
    loop {
        // Block for the first message.
        let mut stop = match rx.recv() {
            Ok(m) => take(m, &mut rows, &mut flushed),
            Err(_) => true,
        };
        // A row: let others gather (a flush or stop unparks us early), then
        // take whatever is waiting.
        let until = Instant::now() + LINGER;
        loop {
            while rows.len() < MAX_BATCH && !stop {
                match rx.try_recv() {
                    Ok(m) => stop |= take(m, &mut rows, &mut flushed),
                    Err(_) => break,
                }
            }
            let now = Instant::now();
            if stop || !flushed.is_empty() || rows.len() >= MAX_BATCH || now >= until {
                break;
            }
            std::thread::park_timeout(until - now);
        }
        if !rows.is_empty() {
            write(&mut conn, &rows, &counters);
            rows.clear();
        }
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
        if stop {
            return;
        }
    }
}

/// Files one message; true for the stop message.
fn take(m: Message, rows: &mut Vec<Row>, flushed: &mut Vec<std::sync::mpsc::Sender<()>>) -> bool {
    match m {
        Message::Row(row) => {
            rows.push(row);
            false
        }
        Message::Flush(done) => {
            flushed.push(done);
            false
        }
        Message::Stop => true,
    }
}

fn write(conn: &mut Connection, rows: &[Row], counters: &Counters) {
    match insert(conn, rows) {
        Ok(()) => {
            counters
                .written
                .fetch_add(rows.len() as u64, Ordering::Relaxed);
        }
        Err(e) => {
            counters
                .failed
                .fetch_add(rows.len() as u64, Ordering::Relaxed);
            tracing::error!(rows = rows.len(), error = %e, "usage ledger write failed; rows lost");
        }
    }
}

fn insert(conn: &mut Connection, rows: &[Row]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO usage (ts_ms, key, model, backend, prompt_tokens, completion_tokens,
                                cost_usd, status, duration_ms, estimated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for r in rows {
            stmt.execute(params![
                r.ts_ms,
                r.key,
                r.model,
                r.backend,
                r.prompt_tokens,
                r.completion_tokens,
                r.cost_usd,
                r.status,
                r.duration_ms,
                r.estimated,
            ])?;
        }
    }
    tx.commit()
}
