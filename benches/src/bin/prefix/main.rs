//! Prefix workload on real llama-server hosts (issue 12, measured item 2):
//! 16 "customers", each with its own long system prompt (about 800 tokens
//! of the generated model's vocabulary) asking 8 questions in turn (`--turns`
//! sets how many), sent round by round (4 in flight; a customer's next
//! question waits for the answer to its last, as a follow-up does) through
//! one front over N llama-server hosts. Fronts, each over fresh hosts (empty caches) in the same run:
//! ai-router's pooled endpoint with `round_robin`, `least_loaded` (power of
//! two choices) and `prefix`, and sglang-router with its `cache_aware`
//! policy (the peer; from the bench venv, see `scripts/bench-prefix`).
//!
//! ```sh
//! scripts/bench-prefix                    # N = 2, 4, llama-server's default prompt cache
//! scripts/bench-prefix --cache limited    # N = 2, 4, no RAM prompt cache, slots = 16 / N
//! scripts/bench-prefix --turns 16         # longer conversations (first turns 6.25% of calls)
//! cargo run --release -p ai-router-benches --bin prefix -- 2 3 4
//! ```
//!
//! Two host shapes (`--cache`): `default` is llama-server as it starts,
//! 2 slots and its host-RAM prompt cache (`--cache-ram`, 8 GiB), which
//! keeps every prompt it saw, so round robin misses a customer at most
//! once per host. `limited` is closer to a GPU host whose memory holds a
//! few conversations: `--cache-ram 0` (no RAM prompt cache: only the
//! prompts still in a slot's KV cache can be reused) and 16 / N slots, so
//! the pool can hold every customer once but each host only its share.
//!
//! Measured per front: the cache-hit ratio, the hosts' own count of prompt
//! tokens served from their caches over all prompt tokens
//! (`llamacpp:prompt_tokens_cached_total` and `llamacpp:prompt_tokens_total`
//! from their `/metrics`, read before and after the workload), and the time
//! to first token seen by the caller (streamed; p50/p90). Targets: hit
//! ratio ≥ 3× round robin's and not below sglang-router's; TTFT p90 ≤ ½
//! round robin's. Hosts, fronts and the caller share this machine's cores:
//! the ratios of one run are the result.
#![allow(clippy::disallowed_methods)]

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ai_router::config::{Config, EndpointConfig, EndpointKind, PickPolicy};
use ai_router_benches::load::{Hist, hist_of};
use ai_router_benches::machine::{cores, cpu_model, utc_now};
use ai_router_benches::models::bigger_spec;
use ai_router_benches::report::{Table, dur, pct, ratio, verdict};
use ai_router_benches::server_proc::{Server, free_port, http_ok, wait_until};
use ai_router_benches::thin_http::Reply;
use ai_router_benches::thin_http::ThinHttp;
use ai_router_testkit::router::{TestRouter, remote_config};
use anyhow::{Context, bail};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

const CUSTOMERS: usize = 16;
/// Questions per customer unless `--turns` says otherwise. Every first
/// question misses every cache, so with 8 turns 12.5% of the calls are
/// misses under any front and the TTFT p90 is one of them.
const TURNS: usize = 8;
/// Requests in flight at once.
const CONCURRENCY: usize = 4;
/// Characters of each customer's system prompt (about 0.85 tokens each).
const SYSTEM_CHARS: usize = 950;
/// Parallel slots per host with the default cache.
const SLOTS: u32 = 2;
const MAX_TOKENS: u32 = 4;

/// One front over the hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Front {
    AiRouter(PickPolicy),
    Sglang,
}

impl Front {
    fn label(self) -> &'static str {
        match self {
            Front::AiRouter(PickPolicy::RoundRobin) => "ai-router round_robin",
            Front::AiRouter(PickPolicy::LeastLoaded) => "ai-router least_loaded (P2C, peak EWMA)",
            Front::AiRouter(PickPolicy::LeastInFlight) => "ai-router least_in_flight (P2C)",
            Front::AiRouter(PickPolicy::Prefix) => "ai-router prefix",
            Front::Sglang => "sglang-router cache_aware",
        }
    }
}

/// What one front measured.
struct Measured {
    hit_ratio: f64,
    /// Prompt tokens the hosts served from their caches.
    cached: f64,
    /// All prompt tokens the hosts were sent (cached or evaluated).
    prompt: f64,
    ttft: Hist,
    errors: usize,
}

/// The workload: (customer, system prompt, question) in send order, round
/// by round, customers shuffled within a round.
fn workload(turns: usize) -> Vec<(usize, String, String)> {
    const WORDS: &[&str] = &[
        "the", "a", "to", "of", "and", "is", "in", "it", "you", "that", "hello", "world", "model",
        "test",
    ];
    let mut rng = StdRng::seed_from_u64(12);
    let systems: Vec<String> = (0..CUSTOMERS)
        .map(|c| {
            let mut text = format!("You are the assistant of customer {c}. Their rules: ");
            while text.len() < SYSTEM_CHARS {
                text.push_str(WORDS.choose(&mut rng).unwrap_or(&"the"));
                text.push(' ');
            }
            text
        })
        .collect();
    let mut sequence = Vec::new();
    for turn in 0..turns {
        let mut order: Vec<usize> = (0..CUSTOMERS).collect();
        order.shuffle(&mut rng);
        for c in order {
            let question = format!("question {turn} {}", rng.random_range(0..1000));
            sequence.push((c, systems[c].clone(), question));
        }
    }
    sequence
}

/// Sends `requests` (customer, body) [`CONCURRENCY`] at a time in their
/// order, except that a customer's next question waits for the answer to
/// its previous one, as a follow-up does: the first request in order whose
/// customer has nothing in flight goes next. (Sent strictly in order, a
/// customer near the end of one round and the start of the next had two
/// questions in flight; the host then put the second in another slot and
/// evicted a third customer's prompt, which no real conversation does.)
async fn converse(client: &ThinHttp, requests: Vec<(usize, Bytes)>) -> Vec<anyhow::Result<Reply>> {
    let mut pending: VecDeque<(usize, Bytes)> = requests.into();
    let mut busy: HashSet<usize> = HashSet::new();
    let mut in_flight = FuturesUnordered::new();
    let mut replies = Vec::with_capacity(pending.len());
    loop {
        while in_flight.len() < CONCURRENCY {
            let Some(next) = pending.iter().position(|(c, _)| !busy.contains(c)) else {
                break;
            };
            let Some((customer, body)) = pending.remove(next) else {
                break;
            };
            busy.insert(customer);
            let client = client.clone();
            in_flight.push(async move { (customer, client.post(&body).await) });
        }
        // Empty only when nothing is pending either: with nothing in
        // flight no customer is busy, so the loop above sent something.
        let Some((customer, reply)) = in_flight.next().await else {
            break;
        };
        busy.remove(&customer);
        replies.push(reply);
    }
    replies
}

fn body(model: &str, system: &str, question: &str) -> anyhow::Result<Bytes> {
    Ok(Bytes::from(serde_json::to_vec(&serde_json::json!({
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
        ],
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        "stream": true,
    }))?))
}

/// How the hosts keep prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cache {
    /// llama-server's default: 2 slots and the host-RAM prompt cache.
    Default,
    /// No RAM prompt cache and 16 / N slots per host.
    Limited,
}

impl Cache {
    /// Slots per host in a pool of `n`.
    fn slots(self, n: usize) -> u32 {
        match self {
            Cache::Default => SLOTS,
            Cache::Limited => (CUSTOMERS / n).max(1) as u32,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Cache::Default => {
                "2 slots, default host-RAM prompt cache (`--cache-ram` 8192 MiB): every prompt seen is kept"
            }
            Cache::Limited => {
                "16 / N slots, `--cache-ram 0`: only the prompts still in a slot's KV cache are reused"
            }
        }
    }
}

/// One llama-server host on a free loopback port, ready when `/health` is 200.
async fn host(
    llama: &Path,
    model: &Path,
    log: &Path,
    cache: Cache,
    slots: u32,
) -> anyhow::Result<(Server, String)> {
    let port = free_port()?;
    let mut args: Vec<String> = vec![
        "--model".into(),
        model.to_str().context("model path is not UTF-8")?.into(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--ctx-size".into(),
        (4096 * slots).to_string(),
        "--parallel".into(),
        slots.to_string(),
        "--threads".into(),
        "1".into(),
        "--metrics".into(),
    ];
    if cache == Cache::Limited {
        args.extend(["--cache-ram".into(), "0".into()]);
    }
    let mut server = Server::spawn(llama, &args, log, port)?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build()?;
    let health = format!("{base}/health");
    wait_until(&mut server, "llama-server", || http_ok(&http, &health)).await?;
    Ok((server, base))
}

/// (prompt tokens evaluated, prompt tokens served from cache) over `hosts`.
async fn prompt_counters(http: &reqwest::Client, hosts: &[String]) -> anyhow::Result<(f64, f64)> {
    let mut totals = (0.0, 0.0);
    for h in hosts {
        let text = http
            .get(format!("{h}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
                .with_context(|| format!("{name} missing from {h}/metrics"))
        };
        totals.0 += value("llamacpp:prompt_tokens_total")?;
        totals.1 += value("llamacpp:prompt_tokens_cached_total")?;
    }
    Ok(totals)
}

/// Runs the workload through `front` over `n` fresh hosts.
async fn measure(
    front: Front,
    n: usize,
    cache: Cache,
    turns: usize,
    paths: &Paths,
    scratch: &Path,
) -> anyhow::Result<Measured> {
    let mut hosts = Vec::new();
    for i in 0..n {
        hosts.push(
            host(
                &paths.llama,
                &paths.model,
                &scratch.join(format!("host{i}.log")),
                cache,
                cache.slots(n),
            )
            .await?,
        );
    }
    let bases: Vec<String> = hosts.iter().map(|(_, b)| b.clone()).collect();
    let mut router = None;
    let mut sglang = None;
    let (url, model) = match front {
        Front::AiRouter(pick) => {
            let mut ep = EndpointConfig::new("pool", EndpointKind::OpenAi, "");
            ep.urls = bases.iter().map(|b| format!("{b}/v1")).collect();
            ep.pick = pick;
            ep.first_token_timeout = Duration::from_secs(120);
            let mut config: Config = remote_config()?;
            config.http_listen = Some("127.0.0.1:0".parse()?);
            config.endpoints.push(ep);
            let r = TestRouter::start(config).await?;
            let addr = r.http_addr.context("the router has no HTTP door")?;
            router = Some(r);
            (format!("http://{addr}/v1/chat/completions"), "pool/m")
        }
        Front::Sglang => {
            let (server, url) = ai_router_benches::sglang::start(
                &paths.venv,
                &bases,
                "cache_aware",
                &scratch.join("sglang-router.log"),
            )
            .await?;
            sglang = Some(server);
            (format!("{url}/v1/chat/completions"), "m")
        }
    };
    let http = reqwest::Client::builder().no_proxy().build()?;
    let before = prompt_counters(&http, &bases).await?;
    let client = ThinHttp::new(&url, None)?;
    let requests: Vec<(usize, Bytes)> = workload(turns)
        .iter()
        .map(|(c, s, q)| Ok((*c, body(model, s, q)?)))
        .collect::<anyhow::Result<_>>()?;
    let replies = converse(&client, requests).await;
    let after = prompt_counters(&http, &bases).await?;
    let mut ttfts = Vec::new();
    let mut errors = 0;
    for r in replies {
        match r.map(|reply| reply.ttft()) {
            Ok(Some(t)) => ttfts.push(t),
            Ok(None) => errors += 1,
            Err(e) => {
                errors += 1;
                eprintln!("  {}: {e:#}", front.label());
            }
        }
    }
    if let Some(r) = router {
        r.stop().await?;
    }
    drop(sglang);
    drop(hosts);
    let evaluated = after.0 - before.0;
    let cached = after.1 - before.1;
    if evaluated + cached <= 0.0 {
        bail!("the hosts counted no prompt tokens");
    }
    Ok(Measured {
        hit_ratio: cached / (evaluated + cached),
        cached,
        prompt: evaluated + cached,
        ttft: hist_of(&ttfts)?,
        errors,
    })
}

/// The verdict on "prefix hit ratio not below sglang-router's". Both fronts
/// send the same prompts, so their prompt token totals match. A gap of
/// less than one cached token per call is not a routing difference (a
/// call sent away from its cached system prompt loses ~800 tokens): it is
/// where the hosts' reuse of the previous question's tokens ends. Such a
/// gap is reported as level, with the counts, rather than as a miss.
fn not_below(prefix: &Measured, sglang: &Measured, calls: usize) -> String {
    let gap = sglang.cached - prefix.cached;
    let outcome = if gap <= 0.0 {
        "met".to_string()
    } else if gap < calls as f64 {
        format!("level ({gap:.0} cached tokens fewer over {calls} calls, under one a call)")
    } else {
        "MISSED".to_string()
    };
    format!(
        "prefix hit ratio not below sglang-router's: {outcome} ({:.2}% against {:.2}%)",
        prefix.hit_ratio * 100.0,
        sglang.hit_ratio * 100.0,
    )
}

/// Removes `flag` and the value after it from `args`; the value (empty
/// when the flag ends the line), or None without the flag.
fn take_flag(args: &mut Vec<String>, flag: &str) -> Option<String> {
    let i = args.iter().position(|a| a == flag)?;
    let value = args.get(i + 1).cloned().unwrap_or_default();
    args.drain(i..(i + 2).min(args.len()));
    Some(value)
}

struct Paths {
    llama: PathBuf,
    model: PathBuf,
    venv: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let cache = match take_flag(&mut args, "--cache").as_deref() {
        None | Some("default") => Cache::Default,
        Some("limited") => Cache::Limited,
        Some(other) => bail!("--cache takes `default` or `limited`, not {other:?}"),
    };
    let turns = match take_flag(&mut args, "--turns") {
        None => TURNS,
        Some(value) => match value.parse::<usize>() {
            Ok(t) if t > 0 => t,
            _ => bail!("--turns takes a positive count, not {value:?}"),
        },
    };
    let ns: Vec<usize> = args
        .iter()
        .map(|a| {
            a.parse()
                .context("arguments are host counts (and --cache default|limited, --turns T)")
        })
        .collect::<anyhow::Result<_>>()?;
    if ns.contains(&0) {
        bail!("a host count must be at least 1");
    }
    let ns = if ns.is_empty() { vec![2, 4] } else { ns };
    let scratch = tempfile::tempdir()?;
    let model = scratch.path().join("wide.gguf");
    ai_router_testkit::gguf::write_tiny_llama(&model, &bigger_spec(12, "wide"))?;
    let paths = Paths {
        llama: ai_router_testkit::llama::llama_server()?,
        model,
        venv: std::env::var_os("BENCH_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/bench-venv")),
    };
    println!(
        "# Prefix workload on llama-server hosts\n\n{} · {} cores · {}\n\n\
         {CUSTOMERS} customers × {turns} turns (a follow-up waits for its answer), \
         system prompts of {SYSTEM_CHARS} characters, \
         {CONCURRENCY} in flight, {MAX_TOKENS} tokens per answer; hosts: llama-server, \
         1 thread, {}, model 256 wide, 4 layers (bigger_spec).\n",
        cpu_model(),
        cores(),
        utc_now(),
        cache.describe(),
    );
    let fronts = [
        Front::AiRouter(PickPolicy::RoundRobin),
        Front::AiRouter(PickPolicy::LeastLoaded),
        Front::AiRouter(PickPolicy::Prefix),
        Front::Sglang,
    ];
    for n in ns {
        let mut table = Table::new(
            format!("N = {n} hosts, {} slots each", cache.slots(n)),
            &[
                "front",
                "cache-hit ratio",
                "cached / prompt tokens",
                "× round robin",
                "TTFT p50",
                "TTFT p90",
                "p90 / round robin",
                "errors",
            ],
        );
        let mut results: Vec<(Front, Measured)> = Vec::new();
        let mut skipped = Vec::new();
        for front in fronts {
            eprintln!("N = {n}: {}", front.label());
            match measure(front, n, cache, turns, &paths, scratch.path()).await {
                Ok(m) => results.push((front, m)),
                Err(e) if front == Front::Sglang => skipped.push(format!("{e:#}")),
                Err(e) => return Err(e),
            }
        }
        let rr = results
            .iter()
            .find(|(f, _)| *f == Front::AiRouter(PickPolicy::RoundRobin))
            .map(|(_, m)| (m.hit_ratio, pct(&m.ttft, 0.9)))
            .context("round robin did not run")?;
        for (front, m) in &results {
            let p90 = pct(&m.ttft, 0.9);
            table.row(vec![
                front.label().into(),
                format!("{:.1}%", m.hit_ratio * 100.0),
                format!("{:.0} / {:.0}", m.cached, m.prompt),
                ratio(m.hit_ratio, rr.0),
                dur(pct(&m.ttft, 0.5)),
                dur(p90),
                ratio(p90.as_secs_f64(), rr.1.as_secs_f64()),
                m.errors.to_string(),
            ]);
        }
        if let Some((_, prefix)) = results
            .iter()
            .find(|(f, _)| *f == Front::AiRouter(PickPolicy::Prefix))
        {
            let p90 = pct(&prefix.ttft, 0.9);
            table.note(format!(
                "prefix hit ratio ≥ 3× round robin: {}",
                verdict(prefix.hit_ratio >= 3.0 * rr.0)
            ));
            table.note(format!(
                "prefix TTFT p90 ≤ ½ round robin's: {}",
                verdict(p90.as_secs_f64() <= 0.5 * rr.1.as_secs_f64())
            ));
            match results.iter().find(|(f, _)| *f == Front::Sglang) {
                Some((_, sg)) => table.note(not_below(prefix, sg, CUSTOMERS * turns)),
                None => table.note(format!(
                    "sglang-router NOT MEASURED: {}",
                    skipped.join("; ")
                )),
            }
        }
        table.print();
    }
    Ok(())
}
