//! Remote OpenAI-compatible endpoints: the `[[endpoints]]` entries and the
//! `[openrouter]` table, which takes the same keys (without `name`) plus
//! `enabled`. `EndpointConfig::default` holds every endpoint default once.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default OpenRouter API base.
pub const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// Default variable holding the OpenRouter key.
pub const OPENROUTER_KEY_ENV: &str = "OPENROUTER_API_KEY";
/// The route prefix (and endpoint name) of OpenRouter.
pub const OPENROUTER_NAME: &str = "openrouter";

/// Which provider dialect an endpoint speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EndpointKind {
    /// Plain OpenAI-compatible (vLLM, Ollama, a remote llama-server...).
    #[default]
    OpenAi,
    /// OpenRouter: attribution headers, `usage.cost`, `X-Generation-Id`.
    OpenRouter,
}

/// How a pooled endpoint picks the host for a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PickPolicy {
    /// The host that likely holds the prompt's prefix in its cache, unless
    /// it is busier than the least loaded by `affinity_max_imbalance`;
    /// power of two choices on load otherwise.
    #[default]
    Prefix,
    /// Power of two choices (or every host, `pick_choices`) on cost: the
    /// host's peak-EWMA latency times its load (in-flight requests, plus
    /// its own queue or other clients' requests when read) plus one; with
    /// its slots read, its expected wait.
    LeastLoaded,
    /// Power of two choices on load alone (for comparison: blind to a host
    /// that is slow rather than busy).
    LeastInFlight,
    /// Each host in turn (for comparison; blind to load and caches).
    RoundRobin,
}

/// How many hosts a load-based pick compares (`least_loaded`,
/// `least_in_flight`, and `prefix` when load decides).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PickChoices {
    /// Two drawn at random: power of two choices. Robust when loads are
    /// stale (hosts' scraped queues, traffic from other router replicas),
    /// as the routers do not all rush to the host that looked idle.
    #[default]
    Two,
    /// Every host: the cheapest of all (join the shortest queue). On a
    /// small pool whose load is this router's own, always fresh, and whose
    /// slots are read (`queue_slots`), it does not send a request to a
    /// full host while another of similar latency has a free slot, which
    /// two random draws do whenever both drawn hosts are full.
    All,
}

/// A remote OpenAI-compatible endpoint. Its models are addressed as
/// `<name>/<upstream model>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointConfig {
    /// Route prefix and display name.
    pub name: String,
    /// Dialect: not a file key; `[openrouter]` is the OpenRouter one.
    #[serde(skip)]
    pub kind: EndpointKind,
    /// Base URL up to and including the version segment, e.g. `http://host/v1`:
    /// a pool of one host.
    pub base_url: String,
    /// Several hosts serving the same models, each a base URL like `base_url`.
    pub urls: Vec<String>,
    /// Hosts found and kept up to date by discovery instead of listed:
    /// `dns://name:port[/path]` (every A/AAAA record, e.g. a Kubernetes
    /// headless Service; path default `/v1`) or `file://path` (a TOML file
    /// with `urls = [...]`, re-read when it changes).
    pub discovery: Option<String>,
    /// How often discovery looks again (also at once after a connect error).
    #[serde(with = "humantime_serde")]
    pub discovery_interval: Duration,
    /// How a host is picked among several.
    pub pick: PickPolicy,
    /// How many hosts a load-based pick compares.
    pub pick_choices: PickChoices,
    /// In-flight requests by which the host holding the prompt's prefix may
    /// exceed the least loaded host before load wins over affinity.
    pub affinity_max_imbalance: u32,
    /// Prompt blocks (64 bytes each) remembered per host for prefix affinity.
    pub prefix_blocks_per_host: usize,
    /// Read each host's queue (llama-server `--metrics`:
    /// `llamacpp:requests_deferred`) at this interval and add it to the
    /// host's load; unset: the load is this router's in-flight count only.
    #[serde(with = "humantime_serde")]
    pub queue_metrics: Option<Duration>,
    /// Read each host's llama-server `/slots` at this interval and add the
    /// slots busy (`is_processing`) to the host's load: the queue signal of
    /// a llama-server without `--metrics`; unset: not read.
    #[serde(with = "humantime_serde")]
    pub queue_slots: Option<Duration>,
    /// Without `queue_slots`, a pool of several hosts still reads each
    /// host's `/slots` once when it joins, for its slot count (the picker's
    /// slot-aware cost); false: no such read (calls, probes and the queue
    /// reads configured above still go).
    pub learn_slots: bool,
    /// Time constant of each host's peak-EWMA latency (`least_loaded` and
    /// the load fallback of `prefix`): how fast a slow answer is forgiven.
    #[serde(with = "humantime_serde")]
    pub latency_decay: Duration,
    /// Upstream model asked for one token by the active probe of every host
    /// (a wedged llama-server still answers `/health`); unset: no probe.
    pub probe_model: Option<String>,
    /// How often each host is probed.
    #[serde(with = "humantime_serde")]
    pub probe_interval: Duration,
    /// Consecutive failures that eject a host from picking (never more than
    /// half the hosts; a lone host's ejection fails calls at once).
    pub ejection_failures: u32,
    /// First ejection time; each further ejection lasts one more multiple
    /// (up to 10×).
    #[serde(with = "humantime_serde")]
    pub ejection_time: Duration,
    /// Environment variable holding the API key (the key itself is never in config).
    pub api_key_env: Option<String>,
    /// Upstream model names served; empty means any name under the prefix.
    pub models: Vec<String>,
    /// Requests in flight to this endpoint at once.
    pub max_concurrency: u32,
    /// TCP+TLS connect timeout per attempt.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Longest wait for response headers and first token per attempt.
    #[serde(with = "humantime_serde")]
    pub first_token_timeout: Duration,
    /// Longest silence between tokens per attempt.
    #[serde(with = "humantime_serde")]
    pub token_gap_timeout: Duration,
    /// Idle pooled connections are closed after this; keep it below the server's keep-alive.
    #[serde(with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// Most upstream attempts per request (1 = no retry).
    pub max_attempts: u32,
    /// Ask for SSE streaming (gives time-to-first-token and token-gap
    /// detection); false sends plain JSON requests for servers without SSE.
    pub stream: bool,
    /// `HTTP-Referer` attribution header (OpenRouter).
    pub referer: Option<String>,
    /// `X-Title` attribution header (OpenRouter).
    pub title: Option<String>,
}

impl Default for EndpointConfig {
    /// The defaults of every endpoint; `name` and `base_url` are empty, which
    /// validation rejects for an `[[endpoints]]` entry.
    fn default() -> Self {
        EndpointConfig {
            name: String::new(),
            kind: EndpointKind::OpenAi,
            base_url: String::new(),
            urls: Vec::new(),
            discovery: None,
            discovery_interval: Duration::from_secs(5),
            pick: PickPolicy::Prefix,
            pick_choices: PickChoices::Two,
            affinity_max_imbalance: 8,
            prefix_blocks_per_host: 16_384,
            queue_metrics: None,
            queue_slots: None,
            learn_slots: true,
            latency_decay: Duration::from_secs(10),
            probe_model: None,
            probe_interval: Duration::from_secs(10),
            ejection_failures: 5,
            ejection_time: Duration::from_secs(10),
            api_key_env: None,
            models: Vec::new(),
            max_concurrency: 64,
            connect_timeout: Duration::from_secs(5),
            first_token_timeout: Duration::from_secs(60),
            token_gap_timeout: Duration::from_secs(30),
            pool_idle_timeout: Duration::from_secs(50),
            max_attempts: 3,
            stream: true,
            referer: None,
            title: None,
        }
    }
}

impl EndpointConfig {
    /// The chat completions URL under `base_url` (which ends at the version
    /// segment, e.g. `http://10.0.0.5:8000/v1`), or why it is not valid.
    pub fn chat_url(&self) -> Result<reqwest::Url, String> {
        chat_url(&self.base_url)
    }

    /// The base URLs of its hosts when they are listed (`urls`, else
    /// `base_url`); empty when discovery finds them.
    pub fn listed_hosts(&self) -> Vec<String> {
        if self.discovery.is_some() {
            Vec::new()
        } else if self.urls.is_empty() {
            vec![self.base_url.clone()]
        } else {
            self.urls.clone()
        }
    }

    /// An endpoint with the defaults for its kind.
    pub fn new(name: &str, kind: EndpointKind, base_url: &str) -> Self {
        EndpointConfig {
            name: name.to_string(),
            kind,
            base_url: base_url.trim_end_matches('/').to_string(),
            ..EndpointConfig::default()
        }
    }
}

/// The chat completions URL under a base URL that ends at the version
/// segment, or why it is not valid.
pub fn chat_url(base_url: &str) -> Result<reqwest::Url, String> {
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(format!(
            "base URL {base_url:?} must start with http:// or https://"
        ));
    }
    let joined = format!("{}/chat/completions", base_url.trim_end_matches('/'));
    reqwest::Url::parse(&joined).map_err(|e| format!("{joined:?} is not a valid URL: {e}"))
}

/// The `[openrouter]` table. Validation turns it into an endpoint named
/// `openrouter` when it is enabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenRouterConfig {
    /// On or off; None: on exactly when the key variable is set. When off,
    /// routing still knows the prefix and answers FAILED_PRECONDITION
    /// naming the variable to set.
    pub enabled: Option<bool>,
    /// The endpoint's settings; its name is always `openrouter`, and its
    /// `kind` is set to OpenRouter when validation adds it to `endpoints`.
    #[serde(flatten)]
    pub endpoint: EndpointConfig,
}

impl Default for OpenRouterConfig {
    fn default() -> Self {
        OpenRouterConfig {
            enabled: None,
            // `kind` stays the serde default here, as it does when read
            // from a file; validation sets it on the endpoint it adds.
            endpoint: EndpointConfig {
                name: OPENROUTER_NAME.to_string(),
                base_url: OPENROUTER_BASE_URL.to_string(),
                api_key_env: Some(OPENROUTER_KEY_ENV.to_string()),
                ..EndpointConfig::default()
            },
        }
    }
}

impl OpenRouterConfig {
    /// The variable that holds the key (`api_key_env`, or the default).
    pub fn key_env(&self) -> &str {
        self.endpoint
            .api_key_env
            .as_deref()
            .unwrap_or(OPENROUTER_KEY_ENV)
    }

    /// Whether it is enabled: explicitly, or because its key variable is set
    /// and not empty.
    pub fn is_enabled(&self) -> bool {
        self.enabled
            .unwrap_or_else(|| std::env::var_os(self.key_env()).is_some_and(|v| !v.is_empty()))
    }
}
