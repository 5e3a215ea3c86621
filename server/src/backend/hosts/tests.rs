//! The pool as the attempt loop sees it: picks, retries elsewhere, the
//! ejection cap, affinity learned from answers, membership swaps. No
//! network: hosts are URLs nobody calls; failures are reported by hand.

use std::time::Duration;

use super::*;
use crate::config::PickChoices;
use crate::domain::{ChatMessage, Role};
use crate::upstream::AttemptResult;

fn pool(urls: &[&str], pick: PickPolicy) -> Arc<HostPool> {
    let mut config = EndpointConfig::new("lab", crate::config::EndpointKind::OpenAi, "");
    config.urls = urls.iter().map(|u| u.to_string()).collect();
    config.pick = pick;
    config.ejection_failures = 2;
    config.ejection_time = Duration::from_secs(3600);
    // Nobody answers at these URLs, and no runtime runs a reading task.
    config.learn_slots = false;
    HostPool::start(&config, None, Counter::default(), &Lifecycle::new()).unwrap()
}

fn call(system: &str, user: &str) -> ChatCall {
    ChatCall {
        model: "m".into(),
        messages: vec![
            ChatMessage::text(Role::System, system),
            ChatMessage::text(Role::User, user),
        ],
        ..ChatCall::default()
    }
}

fn http(status: u16) -> UpstreamError {
    UpstreamError::Http {
        endpoint: "lab".into(),
        status,
        message: String::new(),
        retry_after: None,
    }
}

const THREE: [&str; 3] = ["http://a:1/v1", "http://b:1/v1", "http://c:1/v1"];

#[test]
fn a_retry_goes_to_a_host_not_yet_tried() {
    let pool = pool(&THREE, PickPolicy::LeastLoaded);
    let c = call("s", "u");
    let mut tried = Vec::new();
    for _ in 0..3 {
        let attempt = pool.pick(&c, &tried).unwrap();
        assert!(!tried.contains(&attempt.key()));
        tried.push(attempt.key());
        // One host of several: its 503 is its own, not the model's.
        assert!(attempt.finish(AttemptResult::Failed(&http(503))));
    }
    assert!(!pool.has_untried(&tried));
    // All tried: the call may go back to one of them.
    assert!(pool.pick(&c, &tried).is_ok());
}

#[test]
fn in_flight_attempts_are_the_load_and_end_when_dropped() {
    let pool = pool(&THREE[..2], PickPolicy::LeastLoaded);
    let c = call("s", "u");
    let first = pool.pick(&c, &[]).unwrap();
    // Two hosts, one busy: power of two choices sees both and takes the idle one.
    let second = pool.pick(&c, &[]).unwrap();
    assert_ne!(first.key(), second.key());
    let hosts = pool.shared.members();
    assert!(hosts.iter().all(|h| h.load() == 1));
    drop(first);
    drop(second);
    assert!(hosts.iter().all(|h| h.load() == 0));
}

/// Answers `attempt` as if its first token came `after` it was picked
/// (an instant in the future stands in for waiting).
fn answered_after(attempt: Box<dyn crate::upstream::HostAttempt>, after: Duration) {
    attempt.finish(AttemptResult::Answered {
        prompt_tokens: 1,
        cached_tokens: None,
        first_token_at: Some(Instant::now() + after),
    });
}

#[test]
fn least_loaded_learns_which_host_is_slow_from_its_answers() {
    let blind = pool(&THREE[..2], PickPolicy::LeastInFlight);
    let pool = pool(&THREE[..2], PickPolicy::LeastLoaded);
    let c = call("s", "u");
    let hosts = pool.shared.members();
    // One answer from each: the first host's took 420 ms, the second's 50.
    let (a, b) = (pool.pick(&c, &[]).unwrap(), pool.pick(&c, &[]).unwrap());
    let slow = a.key();
    answered_after(a, Duration::from_millis(420));
    answered_after(b, Duration::from_millis(50));
    let latency = |key| {
        let h = hosts.iter().find(|h| h.key == key).unwrap();
        h.latency(Instant::now()).unwrap()
    };
    assert!(latency(slow) > 0.41, "{}", latency(slow));
    // Both idle: the fast host, every time.
    for _ in 0..20 {
        assert_ne!(pool.pick(&c, &[]).unwrap().key(), slow);
    }
    // Counting in flight alone, the slow host gets its turn.
    let (a, b) = (blind.pick(&c, &[]).unwrap(), blind.pick(&c, &[]).unwrap());
    answered_after(a, Duration::from_millis(420));
    answered_after(b, Duration::from_millis(50));
    let keys: std::collections::BTreeSet<HostKey> = (0..20)
        .map(|_| blind.pick(&c, &[]).unwrap().key())
        .collect();
    assert_eq!(keys.len(), 2);
    // The fast host keeps winning while 50 ms × (in flight + 1) is below
    // the idle slow host's 420 ms: up to 7 in flight ...
    let busy: Vec<_> = (0..8).map(|_| pool.pick(&c, &[]).unwrap()).collect();
    assert!(busy.iter().all(|x| x.key() != slow));
    // ... and with 8 (50 ms × 9 = 450 ms) the slow host is the cheaper.
    assert_eq!(pool.pick(&c, &[]).unwrap().key(), slow);
    drop(busy);
}

#[test]
fn a_first_token_timeout_counts_as_a_slow_answer() {
    let other = pool(&THREE[..1], PickPolicy::LeastLoaded);
    let pool = pool(&THREE[..1], PickPolicy::LeastLoaded);
    let c = call("s", "u");
    let timeout = UpstreamError::FirstTokenTimeout {
        endpoint: "lab".into(),
        after: Duration::from_secs(60),
    };
    let host = pool.shared.members()[0].clone();
    assert_eq!(host.latency(Instant::now()), None);
    pool.pick(&c, &[])
        .unwrap()
        .finish(AttemptResult::Failed(&timeout));
    assert!(host.latency(Instant::now()).is_some());
    // A refused connection says nothing of speed.
    let refused = UpstreamError::Connect {
        endpoint: "lab".into(),
        detail: "refused".into(),
    };
    other
        .pick(&c, &[])
        .unwrap()
        .finish(AttemptResult::Failed(&refused));
    assert_eq!(other.shared.members()[0].latency(Instant::now()), None);
}

#[test]
fn new_conversations_spread_evenly_over_the_hosts() {
    let pool = pool(&THREE, PickPolicy::Prefix);
    for customer in 0..9 {
        let system = format!("You are the assistant of customer {customer}. ").repeat(4);
        pool.pick(&call(&system, "hello"), &[]).unwrap();
    }
    // Plain rendezvous puts 9 conversations 3 / 3 / 3 one time in 12;
    // bounded, always.
    let heads: Vec<usize> = pool.shared.members().iter().map(|h| h.heads(0).0).collect();
    assert_eq!(heads, [3, 3, 3]);
}

#[test]
fn failing_hosts_are_ejected_but_never_more_than_half() {
    let pool = pool(&THREE, PickPolicy::RoundRobin);
    let hosts = pool.shared.members();
    let policy = pool.shared.ejection;
    let now = Instant::now();
    for h in hosts.iter() {
        h.fail(policy, now);
        h.fail(policy, now);
    }
    // All three failed twice; only one (half of three, rounded down) stays out.
    let c = call("s", "u");
    let picked: std::collections::BTreeSet<HostKey> =
        (0..30).map(|_| pool.pick(&c, &[]).unwrap().key()).collect();
    assert_eq!(picked.len(), 2, "two hosts readmitted by the cap");
}

#[test]
fn a_lone_ejected_host_fails_calls_at_once_like_a_breaker() {
    let pool = pool(&THREE[..1], PickPolicy::Prefix);
    let c = call("s", "u");
    // A lone host counts only transport failures: a 503 is the model's.
    for _ in 0..3 {
        let blamed = pool
            .pick(&c, &[])
            .unwrap()
            .finish(AttemptResult::Failed(&http(503)));
        assert!(!blamed, "a lone host's 503 is left to the model's breaker");
    }
    assert!(pool.pick(&c, &[]).is_ok());
    let refused = UpstreamError::Connect {
        endpoint: "lab".into(),
        detail: "refused".into(),
    };
    for _ in 0..2 {
        pool.pick(&c, &[])
            .unwrap()
            .finish(AttemptResult::Failed(&refused));
    }
    let error = pool.pick(&c, &[]).err().unwrap();
    assert!(
        matches!(error, UpstreamError::BreakerOpen { .. }),
        "{error:?}"
    );
}

#[test]
fn a_shared_prefix_returns_to_the_host_that_served_it() {
    let pool = pool(&THREE, PickPolicy::Prefix);
    let system = "You answer questions about the order history of customer 42. ".repeat(8);
    let first = pool
        .pick(&call(&system, "where is my order?"), &[])
        .unwrap();
    let home = first.key();
    first.finish(AttemptResult::Answered {
        prompt_tokens: 100,
        cached_tokens: Some(0),
        first_token_at: None,
    });
    for question in ["and the invoice?", "cancel it", "thanks, one more thing"] {
        let attempt = pool.pick(&call(&system, question), &[]).unwrap();
        assert_eq!(attempt.key(), home, "{question}");
        attempt.finish(AttemptResult::Answered {
            prompt_tokens: 100,
            cached_tokens: Some(90),
            first_token_at: None,
        });
    }
}

#[test]
fn affinity_yields_when_its_host_is_too_busy() {
    let pool = pool(&THREE, PickPolicy::Prefix);
    let system = "A long shared system prompt for one tenant of the service. ".repeat(8);
    let c = call(&system, "q");
    let first = pool.pick(&c, &[]).unwrap();
    let home = first.key();
    first.finish(AttemptResult::Answered {
        prompt_tokens: 100,
        cached_tokens: None,
        first_token_at: None,
    });
    // Keep the home host busy past the threshold (8 by default).
    let mut held = Vec::new();
    let mut elsewhere = 0;
    for _ in 0..20 {
        let a = pool.pick(&c, &[]).unwrap();
        if a.key() != home {
            elsewhere += 1;
        }
        held.push(a);
    }
    assert!(
        elsewhere > 0,
        "load must win once the gap passes the threshold"
    );
    let hosts = pool.shared.members();
    let home_load = hosts.iter().find(|h| h.key == home).unwrap().load();
    let least = hosts.iter().map(|h| h.load()).min().unwrap();
    // Affinity held the home host until it was 8 ahead of the least loaded
    // (the pick that crossed the gap made it 9).
    assert!(
        home_load <= least + 9,
        "home host load {home_load}, least {least}"
    );
}

#[test]
fn hosts_that_stay_keep_their_state_across_a_membership_swap() {
    let pool = pool(&THREE[..2], PickPolicy::LeastLoaded);
    let c = call("s", "u");
    let in_flight = pool.pick(&c, &[]).unwrap();
    let kept = in_flight.key();
    let kept_url = pool
        .shared
        .members()
        .iter()
        .find(|h| h.key == kept)
        .unwrap()
        .base_url
        .clone();
    pool.shared
        .replace(&[kept_url.clone(), "http://d:1/v1".into()]);
    assert_eq!(pool.len(), 2);
    let hosts = pool.shared.members();
    let same = hosts.iter().find(|h| h.key == kept).unwrap();
    assert_eq!(same.load(), 1, "the in-flight attempt still counts");
    // A host that left: its in-flight attempt finishes normally.
    pool.shared.replace(&["http://d:1/v1".into()]);
    in_flight.finish(AttemptResult::Answered {
        prompt_tokens: 1,
        cached_tokens: None,
        first_token_at: None,
    });
    assert_eq!(pool.len(), 1);
    pool.shared.replace(&[]);
    let error = pool.pick(&c, &[]).err().unwrap();
    assert!(error.to_string().contains("no hosts"), "{error}");
}

#[test]
fn concurrent_picks_never_take_the_same_free_slot() {
    let urls: Vec<String> = (0..8).map(|i| format!("http://h{i}:1/v1")).collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let mut config = EndpointConfig::new("lab", crate::config::EndpointKind::OpenAi, "");
    config.urls = urls.iter().map(|u| u.to_string()).collect();
    config.pick = PickPolicy::LeastLoaded;
    config.pick_choices = PickChoices::All;
    config.learn_slots = false;
    let pool = HostPool::start(&config, None, Counter::default(), &Lifecycle::new()).unwrap();
    // One slot each: eight simultaneous picks fill each host exactly once,
    // unless two of them read the same host's load before either counted.
    for h in pool.shared.members().iter() {
        h.set_slots(1);
    }
    let c = call("s", "u");
    for round in 0..200 {
        let start = std::sync::Barrier::new(8);
        let keys: Vec<HostKey> = std::thread::scope(|s| {
            let picks: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        pool.pick(&c, &[]).unwrap()
                    })
                })
                .collect();
            let attempts: Vec<_> = picks.into_iter().map(|p| p.join().unwrap()).collect();
            attempts.iter().map(|a| a.key()).collect()
        });
        let mut distinct = keys.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 8, "round {round}: {keys:?}");
    }
}
