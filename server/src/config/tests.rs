//! The configuration as a person meets it: defaults alone serve; the file
//! overrides defaults, an environment variable the file, a flag the
//! variable; unknown keys and bad values are refused before anything serves.
//! Tests that read real environment variables run in a child process with
//! exactly the variables they need (this process's environment is never
//! changed: `set_var` races every other thread).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::NamedTempFile;

use super::*;

/// Set in a child started by [`in_child`]; the child tests do nothing without it.
const CHILD: &str = "AI_ROUTER_CONFIG_TEST_CHILD";

fn toml_file(text: &str) -> NamedTempFile {
    let file = NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

fn load_args(args: &[&str]) -> Result<ValidatedConfig, ConfigError> {
    let mut argv = vec!["ai-router"];
    argv.extend_from_slice(args);
    load(&Cli::try_parse_args_from(argv).unwrap())
}

/// Runs test `name` of this binary in a child whose environment is `env`
/// plus [`CHILD`], and fails if it fails or does not run.
fn in_child(name: &str, env: &[(&str, &str)]) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env(CHILD, "1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{name} did not run:\n{stdout}");
}

fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

#[tokio::test]
// The server task is awaited before the test ends.
#[allow(clippy::disallowed_methods)]
async fn defaults_serve_with_no_file() {
    let config = load(&Cli::default()).unwrap();
    assert_eq!(config, Config::default().validate().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::run(listener, config, Instant::now(), async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let reply = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        reply.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn a_toml_file_overrides_defaults() {
    let file =
        toml_file("[local]\nmax_loaded_models = 3\nidle_ttl = \"0s\"\nmemory_budget_mb = 2\n");
    let c = load_args(&["--config", file.path().to_str().unwrap()]).unwrap();
    assert_eq!(c.local.max_loaded_models, 3);
    assert_eq!(c.local.idle_ttl, None, "\"0s\" turns the idle TTL off");
    assert_eq!(c.local.memory_budget_bytes, Some(2 * 1024 * 1024));
    assert_eq!(
        c.local.startup_timeout,
        LocalConfig::default().startup_timeout
    );
}

#[test]
fn a_flag_overrides_the_file() {
    let file = toml_file("[local]\nmax_loaded_models = 3\nslots = 2\n");
    let path = file.path().to_str().unwrap();
    let c = load_args(&["--config", path, "--max-loaded-models", "7"]).unwrap();
    assert_eq!(c.local.max_loaded_models, 7);
    assert_eq!(
        c.local.defaults.slots, 2,
        "a flag not given leaves the file's value"
    );
}

#[test]
fn an_env_var_overrides_the_file() {
    let file = toml_file("[local]\nmax_loaded_models = 3\nctx_size = 100\n");
    in_child(
        "config::tests::child_env_over_file",
        &[
            ("AI_ROUTER_CONFIG", file.path().to_str().unwrap()),
            ("AI_ROUTER_MAX_LOADED_MODELS", "5"),
        ],
    );
}

#[test]
fn child_env_over_file() {
    if !is_child() {
        return;
    }
    let c = load_args(&[]).unwrap();
    assert_eq!(c.local.max_loaded_models, 5, "the variable beats the file");
    assert_eq!(c.local.defaults.ctx_size, 100, "the file still applies");
}

#[test]
fn a_flag_overrides_the_env_var() {
    in_child(
        "config::tests::child_flag_over_env",
        &[("AI_ROUTER_MAX_LOADED_MODELS", "5")],
    );
}

#[test]
fn child_flag_over_env() {
    if !is_child() {
        return;
    }
    assert_eq!(load_args(&[]).unwrap().local.max_loaded_models, 5);
    let c = load_args(&["--max-loaded-models", "7"]).unwrap();
    assert_eq!(c.local.max_loaded_models, 7, "the flag beats the variable");
}

#[test]
fn every_env_var_sets_its_key() {
    in_child(
        "config::tests::child_every_env_var",
        &[
            ("AI_ROUTER_LISTEN", "127.0.0.1:1"),
            ("AI_ROUTER_METRICS_LISTEN", "127.0.0.1:2"),
            ("AI_ROUTER_HTTP_LISTEN", "127.0.0.1:3"),
            ("AI_ROUTER_SHUTDOWN_GRACE", "3s"),
            ("AI_ROUTER_MODELS_DIR", "/a,/b"),
            ("LLAMA_SERVER", "/bin/llama"),
            ("AI_ROUTER_MAX_LOADED_MODELS", "4"),
            ("AI_ROUTER_IDLE_TTL", "5m"),
            ("AI_ROUTER_MEMORY_BUDGET_MB", "6"),
            ("AI_ROUTER_PRELOAD", "m,n"),
            ("AI_ROUTER_SLOTS", "7"),
            ("AI_ROUTER_CTX_SIZE", "8"),
            ("AI_ROUTER_MAX_IN_FLIGHT", "9"),
            ("AI_ROUTER_MAX_QUEUE", "10"),
            ("AI_ROUTER_MAX_BATCH_ITEMS", "11"),
            ("AI_ROUTER_MAX_TOKENS", "12"),
            ("AI_ROUTER_OPENROUTER_BASE_URL", "http://or.test/v1/"),
            ("OPENROUTER_API_KEY", "k"),
            ("AI_ROUTER_LOG", "debug"),
            ("AI_ROUTER_LOG_JSON", "true"),
        ],
    );
}

#[test]
fn child_every_env_var() {
    if !is_child() {
        return;
    }
    let cli = Cli::try_parse_args_from(["ai-router"]).unwrap();
    assert_eq!((cli.log.as_str(), cli.log_json), ("debug", true));
    assert_every_setting(&load(&cli).unwrap());
}

#[test]
fn every_flag_sets_its_key() {
    let c = load_args(&[
        "--listen=127.0.0.1:1",
        "--metrics-listen=127.0.0.1:2",
        "--http-listen=127.0.0.1:3",
        "--shutdown-grace=3s",
        "--models-dir=/a",
        "--models-dir=/b",
        "--llama-server=/bin/llama",
        "--max-loaded-models=4",
        "--idle-ttl=5m",
        "--memory-budget-mb=6",
        "--preload=m,n",
        "--slots=7",
        "--ctx-size=8",
        "--max-in-flight=9",
        "--max-queue=10",
        "--max-batch-items=11",
        "--max-tokens=12",
        "--openrouter-base-url=http://or.test/v1/",
    ]);
    let mut c = c.unwrap().into_inner();
    // OpenRouter is on when its key is set; here the table is turned on in code.
    c.endpoints.clear();
    c.openrouter.enabled = Some(true);
    assert_every_setting(&c.validate().unwrap());
}

fn assert_every_setting(c: &Config) {
    assert_eq!(c.listen.to_string(), "127.0.0.1:1");
    assert_eq!(
        c.metrics_listen.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:2")
    );
    assert_eq!(
        c.http_listen.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:3")
    );
    assert_eq!(c.shutdown_grace, Duration::from_secs(3));
    assert_eq!(
        c.local.models_dirs,
        [PathBuf::from("/a"), PathBuf::from("/b")]
    );
    assert_eq!(c.local.llama_server, Some(PathBuf::from("/bin/llama")));
    assert_eq!(c.local.max_loaded_models, 4);
    assert_eq!(c.local.idle_ttl, Some(Duration::from_secs(300)));
    assert_eq!(c.local.memory_budget_bytes, Some(6 * 1024 * 1024));
    assert_eq!(c.local.preload, ["m", "n"]);
    assert_eq!((c.local.defaults.slots, c.local.defaults.ctx_size), (7, 8));
    assert_eq!((c.executor.max_in_flight, c.executor.max_queue), (9, 10));
    assert_eq!((c.limits.max_batch_items, c.limits.max_tokens), (11, 12));
    let openrouter = &c.endpoints[0];
    assert_eq!(openrouter.kind, EndpointKind::OpenRouter);
    assert_eq!(openrouter.base_url, "http://or.test/v1");
}

#[test]
fn help_shows_each_flag_with_its_variable_and_default() {
    let help = Cli::command_with_defaults().render_help().to_string();
    for expected in [
        "--max-loaded-models",
        "[default: 4]",
        "[env: AI_ROUTER_MAX_LOADED_MODELS=",
        "[default: 127.0.0.1:50051]",
        "[default: 30m]",
        "[default: ./models]",
        "[default: https://openrouter.ai/api/v1]",
        "[env: LLAMA_SERVER=",
    ] {
        assert!(
            help.contains(expected),
            "{expected:?} missing from:\n{help}"
        );
    }
}

#[test]
fn every_settings_flag_names_a_config_key() {
    let defaults =
        figment::Figment::from(figment::providers::Serialized::defaults(Config::default()));
    let command = Cli::command_with_defaults();
    let not_settings = [
        "config",
        "otlp_endpoint",
        "log",
        "log_json",
        "help",
        "version",
    ];
    for arg in command.get_arguments() {
        let key = help::config_key(&command, &defaults, arg);
        let is_setting = !not_settings.contains(&arg.get_id().as_str());
        assert_eq!(key.is_some(), is_setting, "--{:?}", arg.get_long());
    }
}

#[test]
fn declared_models_inherit_local_settings() {
    let file = toml_file(
        "[local]\nslots = 2\nthreads = 3\n\n[[local.models]]\nid = \"a\"\npath = \"/a.gguf\"\n\n[[local.models]]\nid = \"b\"\npath = \"/b.gguf\"\nslots = 1\n",
    );
    let path = file.path().to_str().unwrap();
    let c = load_args(&["--config", path]).unwrap();
    let [a, b] = &c.local.models[..] else {
        panic!("two models: {:?}", c.local.models)
    };
    assert_eq!((a.settings.slots, a.settings.threads), (2, Some(3)));
    assert_eq!((b.settings.slots, b.settings.threads), (1, Some(3)));
    assert_eq!(a.settings.ctx_size, LlamaSettings::default().ctx_size);
    let c = load_args(&["--config", path, "--slots", "8"]).unwrap();
    assert_eq!(
        c.local.models[0].settings.slots, 8,
        "[local] from any layer"
    );
    assert_eq!(c.local.models[1].settings.slots, 1);
}

#[test]
fn unknown_key_is_named() {
    let err = from_toml("[local]\nmax_loaded_modles = 3\n").unwrap_err();
    assert!(err.to_string().contains("max_loaded_modles"), "{err}");
    let file = toml_file("lisen = \"127.0.0.1:1\"\n");
    let err = load_args(&["--config", file.path().to_str().unwrap()]).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("lisen"), "{message}");
    assert!(message.contains(file.path().to_str().unwrap()), "{message}");
    for text in [
        "[[endpoints]]\nname = \"a\"\nbase_url = \"http://x\"\nenabled = true\n",
        "[[local.models]]\nid = \"a\"\npath = \"/a\"\nslotz = 1\n",
        "[openrouter]\nbase_urll = \"http://x\"\n",
    ] {
        let err = from_toml(text).unwrap_err().to_string();
        let key = text.lines().last().unwrap().split(' ').next().unwrap();
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn an_invalid_value_is_rejected_before_serving() {
    let err = from_toml("[local]\nmax_loaded_models = 0\n").unwrap_err();
    assert!(err.to_string().contains("local.max_loaded_models"), "{err}");
    let err = load_args(&["--max-loaded-models", "0"]).unwrap_err();
    assert!(err.to_string().contains("local.max_loaded_models"), "{err}");
    let mut config = Config::default();
    config.executor.max_in_flight = 0;
    let err = config.validate().unwrap_err();
    assert!(err.to_string().contains("executor.max_in_flight"), "{err}");
    let err = from_toml("[local]\nmax_loaded_models = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("local.max_loaded_models"), "{err}");
    let err = from_toml("listen = \"nowhere\"\n").unwrap_err();
    assert!(err.to_string().contains("listen"), "{err}");
    let err = from_toml("[executor]\nmax_queue_wait = \"soon\"\n").unwrap_err();
    assert!(err.to_string().contains("executor.max_queue_wait"), "{err}");
}

#[test]
fn bad_values_are_rejected_with_the_key() {
    let err = from_toml("[limits]\nmax_tokens = 0\n").unwrap_err();
    assert!(err.to_string().contains("max_tokens"), "{err}");
    let err = from_toml("[[endpoints]]\nname = \"a/b\"\nbase_url = \"http://x\"\n").unwrap_err();
    assert!(err.to_string().contains("a/b"), "{err}");
    let err = from_toml("[[endpoints]]\nbase_url = \"http://x\"\n").unwrap_err();
    assert!(err.to_string().contains("`name`"), "{err}");
    let err = from_toml("[[endpoints]]\nname = \"lab\"\n").unwrap_err();
    assert!(err.to_string().contains("base_url"), "{err}");
    let err = from_toml("[openrouter]\nname = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("takes no `name`"), "{err}");
    let err = from_toml("[local]\nmax_loaded_models = 2\nmax_loaded_models = 3\n").unwrap_err();
    assert!(
        err.to_string().contains("line 3"),
        "toml's own position: {err}"
    );
}

#[test]
fn endpoint_table_parses() {
    let c = from_toml(
        "[[endpoints]]\nname = \"lab\"\nbase_url = \"http://127.0.0.1:9/v1/\"\nmodels = [\"m\"]\nmax_concurrency = 3\nfirst_token_timeout = \"2s\"\n",
    )
    .unwrap();
    let ep = &c.endpoints[0];
    assert_eq!(ep.name, "lab");
    assert_eq!(ep.kind, EndpointKind::OpenAi);
    assert_eq!(ep.base_url, "http://127.0.0.1:9/v1");
    assert_eq!(ep.max_concurrency, 3);
    assert_eq!(ep.first_token_timeout, Duration::from_secs(2));
    assert_eq!(ep.max_attempts, EndpointConfig::default().max_attempts);
}

#[test]
fn openrouter_table_becomes_an_endpoint_when_enabled() {
    let c =
        from_toml("[openrouter]\nenabled = true\nreferer = \"https://example.test\"\n").unwrap();
    let ep = &c.endpoints[0];
    assert_eq!(
        (ep.name.as_str(), ep.kind),
        ("openrouter", EndpointKind::OpenRouter)
    );
    assert_eq!(ep.base_url, OPENROUTER_BASE_URL);
    assert_eq!(ep.api_key_env.as_deref(), Some(OPENROUTER_KEY_ENV));
    assert_eq!(ep.referer.as_deref(), Some("https://example.test"));
    let c = from_toml("[openrouter]\nenabled = false\n").unwrap();
    assert!(c.endpoints.is_empty());
    // Validating twice does not add it twice.
    let c = from_toml("[openrouter]\nenabled = true\n").unwrap();
    assert_eq!(c.into_inner().validate().unwrap().endpoints.len(), 1);
}

#[test]
fn the_readme_example_loads() {
    let readme = include_str!("../../../README.md");
    let start = readme.find("```toml\n").expect("README has a TOML example") + 8;
    let text = &readme[start..];
    let text = &text[..text.find("```").unwrap()];
    let c = from_toml(text).unwrap();
    assert_eq!(c.local.memory_budget_bytes, Some(16000 * 1024 * 1024));
    assert_eq!(
        c.local.models[0].settings.extra_args,
        ["--flash-attn", "on"]
    );
    assert!(c.local.models[1].settings.embeddings);
    assert_eq!(c.http_listen.map(|a| a.port()), Some(8080));
    let names: Vec<&str> = c.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names[names.len() - 2..], ["lab", "farm"]);
    assert_eq!(c.endpoints.last().unwrap().listed_hosts().len(), 2);
}

#[test]
fn host_pools_parse_and_name_their_hosts_one_way() {
    let c = from_toml(
        "[[endpoints]]\nname = \"lab\"\nurls = [\"http://10.0.0.5:8080/v1\", \"http://10.0.0.6:8080/v1\"]\npick = \"least_loaded\"\nejection_time = \"30s\"\n",
    )
    .unwrap();
    let ep = &c.endpoints[0];
    assert_eq!(ep.listed_hosts().len(), 2);
    assert_eq!(ep.pick, crate::config::PickPolicy::LeastLoaded);
    assert_eq!(ep.ejection_time, Duration::from_secs(30));
    assert_eq!(ep.latency_decay, Duration::from_secs(10));
    assert_eq!(ep.pick_choices, crate::config::PickChoices::Two);
    assert!(ep.learn_slots);
    let c = from_toml(
        "[[endpoints]]\nname = \"old\"\nurls = [\"http://a/v1\"]\npick = \"least_in_flight\"\nqueue_slots = \"500ms\"\nlatency_decay = \"2s\"\npick_choices = \"all\"\nlearn_slots = false\n",
    )
    .unwrap();
    let ep = &c.endpoints[0];
    assert!(!ep.learn_slots);
    assert_eq!(ep.pick, crate::config::PickPolicy::LeastInFlight);
    assert_eq!(ep.pick_choices, crate::config::PickChoices::All);
    assert_eq!(ep.queue_slots, Some(Duration::from_millis(500)));
    assert_eq!(ep.latency_decay, Duration::from_secs(2));
    let c = from_toml("[[endpoints]]\nname = \"k8s\"\ndiscovery = \"dns://llama.lab.svc:8080\"\n")
        .unwrap();
    assert!(c.endpoints[0].listed_hosts().is_empty());
    // A base_url alone is a pool of one.
    let c = from_toml("[[endpoints]]\nname = \"one\"\nbase_url = \"http://h:1/v1\"\n").unwrap();
    assert_eq!(c.endpoints[0].listed_hosts(), ["http://h:1/v1"]);

    for (toml, says) in [
        (
            "urls = [\"http://a/v1\"]\ndiscovery = \"dns://a:1\"\n",
            "either `urls` or `discovery`",
        ),
        (
            "base_url = \"http://a/v1\"\nurls = [\"http://b/v1\"]\n",
            "drop it",
        ),
        ("discovery = \"consul://a\"\n", "dns://name:port"),
        ("urls = [\"ftp://a/v1\"]\n", "must start with http://"),
        ("urls = [\"http://a/v1\"]\npick = \"random\"\n", "pick"),
        (
            "urls = [\"http://a/v1\"]\nejection_failures = 0\n",
            "ejection_failures",
        ),
        (
            "urls = [\"http://a/v1\"]\nlatency_decay = \"0s\"\n",
            "latency_decay",
        ),
        (
            "urls = [\"http://a/v1\"]\nqueue_slots = \"0s\"\n",
            "queue_slots",
        ),
    ] {
        let err = from_toml(&format!("[[endpoints]]\nname = \"lab\"\n{toml}")).unwrap_err();
        assert!(err.to_string().contains(says), "{toml}: {err}");
    }
}
