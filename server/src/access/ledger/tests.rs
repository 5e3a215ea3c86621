use super::*;

fn row(key: &str, cost: f64) -> Row {
    Row {
        ts_ms: 1_000,
        key: key.into(),
        model: "m".into(),
        backend: "openrouter".into(),
        prompt_tokens: 3,
        completion_tokens: 4,
        cost_usd: cost,
        status: "ok".into(),
        duration_ms: 5,
        estimated: false,
    }
}

#[test]
fn rows_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/usage.db");
    let ledger = Ledger::open(&path).unwrap();
    for _ in 0..1000 {
        ledger.record(row("a", 0.001));
    }
    ledger.record(row("b", 0.5));
    ledger.close();
    assert_eq!(ledger.counters().written.load(Ordering::Relaxed), 1001);
    drop(ledger);

    let reopened = Ledger::open(&path).unwrap();
    let conn = open_reader(&path).unwrap();
    let spend = spend_since(&conn, 0).unwrap();
    assert!((spend["a"] - 1.0).abs() < 1e-9);
    assert!((spend["b"] - 0.5).abs() < 1e-9);
    let lines = usage_since(&conn, 0).unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].calls, 1000);
    assert_eq!(lines[0].prompt_tokens, 3000);
    assert!(spend_since(&conn, 2_000).unwrap().is_empty());
    drop(reopened);
}

#[test]
fn a_corrupt_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let e = Ledger::open(&path).err().unwrap().to_string();
    assert!(
        e.contains("usage.db") && e.contains("not a database"),
        "{e}"
    );
}

#[test]
fn an_unwritable_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    // A directory cannot be created under a regular file, even by root.
    let e = Ledger::open(&file.join("usage.db"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("cannot create"), "{e}");
}

#[test]
fn write_failures_while_serving_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.db");
    let ledger = Ledger::open(&path).unwrap();
    ledger.record(row("a", 0.1));
    ledger.flush();
    // Another process breaks the table under the running writer.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE usage")
        .unwrap();
    ledger.record(row("a", 0.1));
    ledger.record(row("a", 0.1));
    ledger.flush();
    let c = ledger.counters();
    assert_eq!(c.written.load(Ordering::Relaxed), 1);
    assert_eq!(c.failed.load(Ordering::Relaxed), 2);
    ledger.close();
    ledger.record(row("a", 0.1));
    assert_eq!(c.dropped.load(Ordering::Relaxed), 1);
}
