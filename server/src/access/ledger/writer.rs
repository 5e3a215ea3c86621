//! The ledger's writer thread: a plain std thread (SQLite calls block), fed
//! by a bounded channel. It takes every row waiting, writes them in one
//! transaction (one fsync per batch, not per row), and exits when told to
//! stop, after writing what was queued before the stop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use rusqlite::{Connection, params};

use super::{Counters, Message, Row};

/// Most rows written in one transaction.
const MAX_BATCH: usize = 4096;

pub fn run(mut conn: Connection, rx: Receiver<Message>, counters: Arc<Counters>) {
    let mut rows: Vec<Row> = Vec::with_capacity(MAX_BATCH);
    let mut flushed = Vec::new();
    loop {
        let mut stop = false;
        // Block for the first message, then take whatever else is waiting.
        match rx.recv() {
            Ok(m) => stop |= take(m, &mut rows, &mut flushed),
            Err(_) => stop = true,
        }
        while rows.len() < MAX_BATCH && !stop {
            match rx.try_recv() {
                Ok(m) => stop |= take(m, &mut rows, &mut flushed),
                Err(_) => break,
            }
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
