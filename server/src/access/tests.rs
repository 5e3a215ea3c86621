use std::time::Duration;

use sha2::{Digest, Sha256};

use super::*;
use crate::config::KeyConfig;
use crate::domain::Priority;

pub(crate) fn key(name: &str, secret: &str) -> KeyConfig {
    KeyConfig {
        name: name.into(),
        hash: format!("sha256:{:x}", Sha256::digest(secret.as_bytes())),
        models: vec!["tiny-*".into()],
        requests_per_minute: None,
        tokens_per_minute: None,
        budget_usd_per_day: None,
        budget_usd_per_month: None,
        max_batch_items: None,
        max_concurrency: None,
        priority: Priority::Interactive,
        admin: false,
    }
}

fn bearer(s: &str) -> Vec<u8> {
    format!("Bearer {s}").into_bytes()
}

fn creds(v: &[u8]) -> Credentials<'_> {
    Credentials {
        authorization: Some(v),
        api_key: None,
    }
}

fn config(dir: &std::path::Path, keys: Vec<KeyConfig>) -> AccessConfig {
    AccessConfig {
        ledger_path: dir.join("usage.db"),
        keys,
        ..AccessConfig::default()
    }
}

#[test]
fn open_service_lets_anyone_in_as_admin() {
    let access = AccessControl::open();
    let p = access.authenticate(Credentials::default()).unwrap();
    assert!(p.admin && p.may_use("anything/at/all"));
    assert!(access.ledger().is_none());
}

#[test]
fn keys_are_checked_and_models_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let access = AccessControl::start(&config(dir.path(), vec![key("team-a", "s3cret")])).unwrap();
    let a = access.authenticate(creds(&bearer("s3cret"))).unwrap();
    assert_eq!(a.name, "team-a");
    let by_api_key = Credentials {
        authorization: None,
        api_key: Some(b"s3cret"),
    };
    assert_eq!(access.authenticate(by_api_key).unwrap().name, "team-a");
    assert!(matches!(
        access.authenticate(creds(&bearer("wrong"))),
        Err(AccessError::UnknownKey)
    ));
    assert!(matches!(
        access.authenticate(Credentials::default()),
        Err(AccessError::MissingKey)
    ));
    assert!(access.authorize(&a, ["tiny-1"]).is_ok());
    let denied = access.authorize(&a, ["tiny-1", "big"]).unwrap_err();
    assert_eq!(denied.to_string(), "key 'team-a' may not use model 'big'");
    assert!(access.require_admin(&a, "Stats").is_err());
    assert_eq!(
        access.denials(),
        vec![
            ("admin_only", 1),
            ("missing_key", 1),
            ("model_denied", 1),
            ("unknown_key", 1)
        ]
    );
}

#[test]
fn budget_survives_a_restart_through_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = key("team-a", "s3cret");
    k.budget_usd_per_day = Some(1.0);
    let cfg = config(dir.path(), vec![k]);
    {
        let access = AccessControl::start(&cfg).unwrap();
        let p = access.authenticate(creds(&bearer("s3cret"))).unwrap();
        for _ in 0..3 {
            access
                .admit(&p, "tiny-1", 10)
                .unwrap()
                .finish_ok("local", 10, 5, 0.3);
        }
        access.close();
    }
    let access = AccessControl::start(&cfg).unwrap();
    let p = access.authenticate(creds(&bearer("s3cret"))).unwrap();
    // 0.9 spent before the restart: one more call is admitted, then refused.
    access
        .admit(&p, "tiny-1", 10)
        .unwrap()
        .finish_ok("local", 10, 5, 0.3);
    let e = access.admit(&p, "tiny-1", 10).err().unwrap();
    assert!(
        matches!(
            e,
            AccessError::BudgetExhausted {
                period: "daily",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.retry_after().unwrap() <= Duration::from_secs(86_400));
    let lines = access
        .usage_since(Utc::now() - chrono::Duration::hours(1))
        .unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].calls, 4);
    assert!((lines[0].cost_usd - 1.2).abs() < 1e-9);
}

#[test]
fn a_dropped_call_is_recorded_as_cancelled_with_what_it_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let access = AccessControl::start(&config(dir.path(), vec![key("team-a", "s3cret")])).unwrap();
    let p = access.authenticate(creds(&bearer("s3cret"))).unwrap();
    let mut m = access.admit(&p, "tiny-1", 7).unwrap();
    m.note_delta();
    m.note_delta();
    drop(m);
    access
        .admit(&p, "tiny-1", 7)
        .unwrap()
        .finish_failed("unavailable");
    let lines = access.usage_since(DateTime::<Utc>::UNIX_EPOCH).unwrap();
    assert_eq!(lines[0].calls, 2);
    assert_eq!(lines[0].failed, 2);
    assert_eq!(
        lines[0].prompt_tokens, 7,
        "only the call that streamed consumed its prompt"
    );
    assert_eq!(lines[0].completion_tokens, 2);
    assert_eq!(p.usage.calls.load(Ordering::Relaxed), 2);
}

#[test]
fn concurrency_and_batch_limits_refuse_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = key("team-a", "s3cret");
    k.max_concurrency = Some(1);
    k.max_batch_items = Some(2);
    let access = AccessControl::start(&config(dir.path(), vec![k])).unwrap();
    let p = access.authenticate(creds(&bearer("s3cret"))).unwrap();
    let first = access.admit(&p, "tiny-1", 1).unwrap();
    let e = access.admit(&p, "tiny-1", 1).err().unwrap();
    assert!(e.to_string().contains("max_concurrency (1)"), "{e}");
    drop(first);
    assert!(access.admit(&p, "tiny-1", 1).is_ok());
    assert!(access.check_batch(&p, 2).is_ok());
    assert!(matches!(
        access.check_batch(&p, 3),
        Err(AccessError::BatchTooLarge { max: 2, .. })
    ));
}
