//! The usage ledger: one SQLite row per finished call (key, model, backend,
//! tokens, cost, status, duration), written off the request path by a
//! dedicated thread ([`writer`]) in batched transactions. The request path
//! only pushes a row into a bounded channel (waiting for room only if the
//! writer is seconds behind, so no row is lost to a burst). A row that
//! cannot be written (disk full) is counted, never silently lost, and the
//! service keeps serving. Shutdown stops the thread after it has
//! written every queued row, and joins it.

mod report;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::{JoinHandle, Thread};

use parking_lot::Mutex;

pub use report::{UsageLine, spend_since, usage_since};
pub use schema::open_reader;

/// Rows that may wait for the writer; at 5,000+ rows/s written this is
/// seconds of headroom for a slow disk.
const QUEUE: usize = 65_536;

/// One finished call.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// When it finished, Unix milliseconds.
    pub ts_ms: i64,
    /// Tenant name.
    pub key: String,
    /// Model id asked for.
    pub model: String,
    /// Backend kind that answered ("" when none was reached).
    pub backend: String,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
    /// USD.
    pub cost_usd: f64,
    /// "ok" or the error label.
    pub status: String,
    /// Wall time of the call.
    pub duration_ms: u64,
    /// Token figures are the router's estimate (the upstream reported none).
    pub estimated: bool,
}

enum Message {
    Row(Row),
    Flush(mpsc::Sender<()>),
    Stop,
}

/// What the writer did, for `/metrics` and `Stats`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Rows committed.
    pub written: AtomicU64,
    /// Rows whose transaction failed (disk full, I/O error).
    pub failed: AtomicU64,
    /// Rows not queued because the writer had stopped (after shutdown).
    pub dropped: AtomicU64,
    /// Rows whose caller waited for room because the writer was behind.
    pub waited: AtomicU64,
}

/// Why the ledger cannot be opened; the router does not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot open the usage ledger {path}: {reason} (set access.ledger_path / --ledger-path to a writable SQLite file)"
)]
pub struct LedgerError {
    path: PathBuf,
    reason: String,
}

impl LedgerError {
    pub(crate) fn new(path: &Path, reason: String) -> LedgerError {
        LedgerError {
            path: path.to_path_buf(),
            reason,
        }
    }
}

/// The open ledger.
pub struct Ledger {
    path: PathBuf,
    tx: SyncSender<Message>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The writer thread, woken by a flush or a stop during its linger.
    writer_thread: Thread,
    counters: Arc<Counters>,
}

impl Ledger {
    /// Opens (creating when missing) the database at `path` and starts the
    /// writer thread. A corrupt or unwritable file is an error here.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let error = |reason: String| LedgerError {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| error(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = schema::open_writer(path).map_err(|e| error(e.to_string()))?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let writer = {
            let counters = counters.clone();
            std::thread::Builder::new()
                .name("usage-ledger".into())
                .spawn(move || writer::run(conn, rx, counters))
                .map_err(|e| error(format!("cannot start the writer thread: {e}")))?
        };
        Ok(Ledger {
            path: path.to_path_buf(),
            tx,
            writer_thread: writer.thread().clone(),
            writer: Mutex::new(Some(writer)),
            counters,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Queues a row. The queue holds seconds of the writer's throughput, so
    /// this does not wait; if the writer ever falls that far behind, the
    /// caller waits for room (counted in `waited`) rather than lose the row.
    /// Only a row sent after shutdown stopped the writer is dropped (counted).
    pub fn record(&self, row: Row) {
        let row = match self.tx.try_send(Message::Row(row)) {
            Ok(()) => return,
            Err(TrySendError::Full(row)) => row,
            Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        self.counters.waited.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(row).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Blocks until every row queued before the call is committed (or has
    /// failed). For reports that must include the calls just made.
    pub fn flush(&self) {
        let (done_tx, done_rx) = mpsc::channel();
        if self.tx.send(Message::Flush(done_tx)).is_ok() {
            self.writer_thread.unpark();
            let _ = done_rx.recv();
        }
    }

    /// Writes everything queued, stops the writer and joins it. Blocking;
    /// later rows are counted as dropped.
    pub fn close(&self) {
        let Some(writer) = self.writer.lock().take() else {
            return;
        };
        let _ = self.tx.send(Message::Stop);
        writer.thread().unpark();
        if writer.join().is_err() {
            tracing::error!("the usage ledger writer panicked");
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests;
