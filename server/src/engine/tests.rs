//! The engine's fallback walk and second chance against fake backends: each
//! fake scripts where its acquires point (the testkit's emulator, whose
//! behaviour the model name chooses, or a closed port) and what it
//! diagnoses after a failure, and counts how often it was asked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ai_router_testkit::emulator::{Emulator, EmulatorConfig};
use futures::future::BoxFuture;
use http::HeaderMap;

use super::Engine;
use crate::backend::{Acquired, Backend, Diagnosis, Listing};
use crate::config::{Config, EndpointKind, ExecutorConfig, LocalConfig};
use crate::domain::{BackendKind, ChatMessage, DeltaSink, Job, ModelId, Params, Role};
use crate::error::RouterError;
use crate::executor::{Executor, RouteLimiter};
use crate::lifecycle::Lifecycle;
use crate::metrics::{Metrics, UpstreamMetrics};
use crate::pool::{Pool, PoolError};
use crate::routing::RouteTable;
use crate::stats::Recorder;
use crate::upstream::{
    AttemptResult, AttemptTimeouts, ChatCall, HostAttempt, HostKey, HostSource, RetryPolicy,
    Target, UpstreamClient, UpstreamError,
};

struct Fake {
    limiter: Arc<RouteLimiter>,
    /// Sent upstream: an emulator model name with its behaviour directives.
    upstream: String,
    /// Base URL of each acquire in turn; the last one repeats.
    bases: Mutex<VecDeque<String>>,
    /// Diagnosis of each failure in turn; `Final` when the script is out.
    diagnoses: Mutex<VecDeque<Diagnosis>>,
    acquires: AtomicU32,
    client: UpstreamClient,
    /// A pool of hosts its targets go through, if any.
    hosts: Option<Arc<dyn HostSource>>,
}

impl Fake {
    fn new(id: &str, upstream: &str, bases: &[&str], diagnoses: &[Diagnosis]) -> Arc<Fake> {
        Arc::new(Fake {
            limiter: Arc::new(RouteLimiter::new(id, 4, 16)),
            upstream: upstream.into(),
            bases: Mutex::new(bases.iter().map(|b| b.to_string()).collect()),
            diagnoses: Mutex::new(diagnoses.iter().copied().collect()),
            acquires: AtomicU32::new(0),
            client: UpstreamClient::new(
                Duration::from_secs(5),
                Duration::from_secs(1),
                false,
                UpstreamMetrics::default(),
            )
            .unwrap(),
            hosts: None,
        })
    }

    /// A fake whose calls go to the hosts `hosts` picks.
    fn pooled(id: &str, hosts: Arc<dyn HostSource>) -> Arc<Fake> {
        let mut fake =
            Arc::into_inner(Fake::new(id, "m", &["http://unused.invalid/v1"], &[])).unwrap();
        fake.hosts = Some(hosts);
        Arc::new(fake)
    }

    fn acquires(&self) -> u32 {
        self.acquires.load(Ordering::SeqCst)
    }
}

impl Backend for Fake {
    fn kind(&self) -> BackendKind {
        BackendKind::OpenAi
    }

    fn name(&self) -> &str {
        self.limiter.name()
    }

    fn limiter(&self) -> &Arc<RouteLimiter> {
        &self.limiter
    }

    fn upstream_model<'a>(&'a self, _id: &'a ModelId) -> &'a str {
        &self.upstream
    }

    fn acquire(&self) -> BoxFuture<'_, Result<Acquired, RouterError>> {
        Box::pin(async move {
            self.acquires.fetch_add(1, Ordering::SeqCst);
            let base = {
                let mut bases = self.bases.lock().unwrap();
                if bases.len() > 1 {
                    bases.pop_front().unwrap()
                } else {
                    bases.front().cloned().unwrap()
                }
            };
            Ok(Acquired {
                target: Target {
                    endpoint: self.name().to_string(),
                    chat_url: format!("{base}/chat/completions").parse().unwrap(),
                    api_key: None,
                    kind: EndpointKind::OpenAi,
                    stream: true,
                    stream_unary: true,
                    whole_max_tokens: None,
                    timeouts: AttemptTimeouts {
                        first_token: Duration::from_secs(5),
                        token_gap: Duration::from_secs(5),
                    },
                    headers: HeaderMap::new(),
                    hosts: self.hosts.clone(),
                },
                retry: RetryPolicy::none(),
                cold: false,
                lease: None,
            })
        })
    }

    fn client(&self) -> &UpstreamClient {
        &self.client
    }

    fn is_ready(&self) -> bool {
        true
    }

    fn diagnose<'a>(
        &'a self,
        _acquired: &'a Acquired,
        _error: &'a UpstreamError,
        _patience: Duration,
    ) -> BoxFuture<'a, Diagnosis> {
        let next = self.diagnoses.lock().unwrap().pop_front();
        Box::pin(async move { next.unwrap_or(Diagnosis::Final) })
    }

    fn listings(&self) -> Vec<Listing> {
        Vec::new()
    }
}

fn engine(fakes: &[&Arc<Fake>]) -> Engine {
    let metrics = Metrics::new(Duration::ZERO);
    let life = Lifecycle::new();
    let pool = Pool::start(
        LocalConfig {
            models_dirs: Vec::new(),
            ..LocalConfig::default()
        },
        BTreeMap::new(),
        metrics.pool.clone(),
        &life,
    )
    .unwrap();
    let backends: Vec<Arc<dyn Backend>> = fakes
        .iter()
        .map(|f| (*f).clone() as Arc<dyn Backend>)
        .collect();
    Engine::new(
        Arc::new(Config::default()),
        Arc::new(arc_swap::ArcSwap::from_pointee(RouteTable::new(
            backends,
            Vec::new(),
            None,
        ))),
        Executor::new(ExecutorConfig::default(), metrics.executor.clone()),
        pool,
        metrics.upstream.clone(),
        Recorder::new(Instant::now(), metrics, []),
        life,
    )
}

fn job(model: &str, fallbacks: &[&str]) -> Job {
    Job {
        model: ModelId::parse(model).unwrap(),
        fallbacks: fallbacks
            .iter()
            .map(|f| ModelId::parse(*f).unwrap())
            .collect(),
        messages: vec![ChatMessage::text(Role::User, "hi")],
        params: Params {
            max_tokens: 3,
            ..Params::default()
        },
        client_request_id: String::new(),
        priority: crate::domain::Priority::Interactive,
    }
}

async fn run(engine: &Engine, job: &Job) -> Result<crate::domain::Completion, RouterError> {
    engine
        .run(job, DeltaSink::Collect, Instant::now(), None)
        .await
}

/// A loopback port nothing listens on: connecting fails at once.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1")
}

#[tokio::test]
async fn a_failing_model_falls_back_to_the_next_one() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.openai_base();
    let primary = Fake::new("primary", "m@status=503", &[&base], &[]);
    let second = Fake::new("second", "m", &[&base], &[]);
    let engine = engine(&[&primary, &second]);
    let done = run(&engine, &job("primary", &["second"])).await.unwrap();
    assert_eq!(done.model, "second");
    assert_eq!((primary.acquires(), second.acquires()), (1, 1));
}

#[tokio::test]
async fn a_bad_request_does_not_fall_back() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.openai_base();
    let primary = Fake::new("primary", "m@status=400", &[&base], &[]);
    let second = Fake::new("second", "m", &[&base], &[]);
    let engine = engine(&[&primary, &second]);
    let err = run(&engine, &job("primary", &["second"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RouterError::Upstream(UpstreamError::Http { status: 400, .. })
        ),
        "{err:?}"
    );
    assert_eq!(second.acquires(), 0, "the fallback was not tried");
}

#[tokio::test]
async fn an_unknown_fallback_is_skipped_and_the_last_failure_is_the_answer() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.openai_base();
    let primary = Fake::new("primary", "m@status=503", &[&base], &[]);
    let third = Fake::new("third", "m", &[&base], &[]);
    let engine = engine(&[&primary, &third]);
    let done = run(&engine, &job("primary", &["nowhere", "third"]))
        .await
        .unwrap();
    assert_eq!(done.model, "third");

    let err = run(&engine, &job("primary", &["nowhere"]))
        .await
        .unwrap_err();
    assert!(matches!(err, RouterError::ModelNotFound { .. }), "{err:?}");
    // An unknown primary is the caller's answer at once.
    let err = run(&engine, &job("nowhere", &["third"])).await.unwrap_err();
    assert!(matches!(err, RouterError::ModelNotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn a_death_before_any_output_gets_one_retry_on_a_fresh_target() {
    let emu = Emulator::start().await.unwrap();
    let fake = Fake::new(
        "local",
        "m",
        &[&closed_port(), &emu.openai_base()],
        &[Diagnosis::Died],
    );
    let engine = engine(&[&fake]);
    let done = run(&engine, &job("local", &[])).await.unwrap();
    assert_eq!(fake.acquires(), 2);
    assert_eq!(done.model, "local");
}

#[tokio::test]
async fn the_second_chance_is_used_once_then_the_death_is_the_answer() {
    let fake = Fake::new(
        "local",
        "m",
        &[&closed_port()],
        &[Diagnosis::Died, Diagnosis::Died],
    );
    let engine = engine(&[&fake]);
    let err = run(&engine, &job("local", &[])).await.unwrap_err();
    assert!(
        matches!(err, RouterError::Pool(PoolError::ChildDied { .. })),
        "{err:?}"
    );
    assert_eq!(fake.acquires(), 2);
}

#[tokio::test]
async fn a_final_diagnosis_is_not_retried() {
    let fake = Fake::new("remote", "m", &[&closed_port()], &[Diagnosis::Final]);
    let engine = engine(&[&fake]);
    let err = run(&engine, &job("remote", &[])).await.unwrap_err();
    assert!(
        matches!(err, RouterError::Upstream(UpstreamError::Connect { .. })),
        "{err:?}"
    );
    assert_eq!(fake.acquires(), 1);
}

/// Two hosts, each at its own base URL: takes the first not yet tried and
/// records what each pick was told had been tried.
#[derive(Debug)]
struct TwoHosts {
    urls: [http::Uri; 2],
    picks: Mutex<Vec<(Vec<HostKey>, HostKey)>>,
}

struct OnHost {
    key: HostKey,
    url: http::Uri,
}

impl HostAttempt for OnHost {
    fn key(&self) -> HostKey {
        self.key
    }

    fn chat_url(&self) -> &http::Uri {
        &self.url
    }

    fn finish(self: Box<Self>, result: AttemptResult<'_>) -> bool {
        matches!(result, AttemptResult::Failed(_))
    }
}

impl HostSource for TwoHosts {
    fn pick(
        &self,
        _call: &ChatCall,
        tried: &[HostKey],
    ) -> Result<Box<dyn HostAttempt>, UpstreamError> {
        let key = (0..2).find(|k| !tried.contains(k)).unwrap_or(0);
        self.picks.lock().unwrap().push((tried.to_vec(), key));
        Ok(Box::new(OnHost {
            key,
            url: self.urls[key as usize].clone(),
        }))
    }

    fn has_untried(&self, tried: &[HostKey]) -> bool {
        (0..2).any(|k| !tried.contains(&k))
    }
}

#[tokio::test]
async fn a_fallback_on_the_same_hosts_avoids_the_one_that_failed() {
    let broken = Emulator::start_with(EmulatorConfig::default().with_behaviour("status=503"))
        .await
        .unwrap();
    let healthy = Emulator::start().await.unwrap();
    let url = |e: &Emulator| {
        format!("{}/chat/completions", e.openai_base())
            .parse()
            .unwrap()
    };
    let hosts = Arc::new(TwoHosts {
        urls: [url(&broken), url(&healthy)],
        picks: Mutex::new(Vec::new()),
    });
    let primary = Fake::pooled("primary", hosts.clone());
    let second = Fake::pooled("second", hosts.clone());
    let engine = engine(&[&primary, &second]);
    let done = run(&engine, &job("primary", &["second"])).await.unwrap();
    assert_eq!(done.model, "second");
    // The primary's one attempt went to host 0; the fallback was told so.
    let picks = hosts.picks.lock().unwrap().clone();
    assert_eq!(picks, [(vec![], 0), (vec![0], 1)]);
}
