//! The markdown summary of a run: machine, then one table per cell, every
//! gateway figure set against the direct path of the same run, then the
//! issue's targets for ai-router with met / MISSED.

use std::fmt::Write as _;
use std::time::Duration;

use ai_router_benches::machine::{cores, cpu_model};
use ai_router_benches::report::Table;

use crate::remote::{
    MANY_GAP, MANY_TOKENS, RATE_BOUNDS_MS, STALL_GAP, STREAM_GAP, STREAM_TOKENS, UNARY_TOKENS,
};
use crate::results::{Results, plus_us, us};

/// The whole summary as markdown.
pub fn summary(r: &Results, date: &str, took: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## overhead run {date}\n");
    let _ = writeln!(out, "- machine: {} cores, {}", cores(), cpu_model());
    let _ = writeln!(out, "- run time: {:.0} s", took.as_secs_f64());
    for n in &r.notes {
        let _ = writeln!(out, "- {n}");
    }
    for (system, reason) in &r.skipped {
        let _ = writeln!(out, "- **skipped {system}**: {reason}");
    }
    let tables = [
        unary(r),
        rates(r),
        streams(r),
        memory(r),
        local(r),
        targets(r),
    ];
    for t in tables.into_iter().flatten() {
        out.push_str(&t.render());
    }
    out
}

fn unary(r: &Results) -> Option<Table> {
    let systems = r.systems("unary");
    if systems.is_empty() {
        return None;
    }
    let mut t = Table::new(
        format!(
            "Remote path, unary Generate ({UNARY_TOKENS} tokens, upstream answers at once): latency added over direct"
        ),
        &[
            "system",
            "c=1 p50 / p99 / p99.9",
            "c=1 added p50 / p99 / p99.9",
            "c=16 p50 / p99 / p99.9",
            "c=16 added p50 / p99 / p99.9",
            "p50 vs direct c=1 / c=16",
            "CPU per request c=1 / c=16",
            "throughput c=16",
        ],
    );
    for s in &systems {
        let trio = |c: &str, prefix: &str, f: fn(f64) -> String| {
            ["p50", "p99", "p99.9"]
                .map(|m| r.show("unary", s, c, &format!("{prefix}{m}"), f))
                .join(" / ")
        };
        let ratio = |c: &str| r.show("unary", s, c, "p50_ratio", |v| format!("{v:.2}×"));
        let cpu = |c: &str| r.show("unary", s, c, "cpu_per_req", us);
        t.row(vec![
            s.clone(),
            trio("c=1", "", us),
            trio("c=1", "added_", plus_us),
            trio("c=16", "", us),
            trio("c=16", "added_", plus_us),
            format!("{} / {}", ratio("c=1"), ratio("c=16")),
            format!("{} / {}", cpu("c=1"), cpu("c=16")),
            r.show("unary", s, "c=16", "throughput", |v| {
                format!("{v:.0} req/s")
            }),
        ]);
    }
    t.note("Direct = the thin HTTP client straight to the upstream (SSE, as ai-router asks it). CPU per request: the system's own processes from /proc (router process only for ai-router; the upstream's for direct).");
    if let Some(p50) = r.get("floor", "ai-router NOT_FOUND floor", "c=1", "p50") {
        t.note(format!(
            "gRPC floor (ai-router answering NOT_FOUND, no upstream I/O, c=1): p50 {}, p99 {}, router CPU {} per call.",
            us(p50),
            r.show("floor", "ai-router NOT_FOUND floor", "c=1", "p99", us),
            r.show("floor", "ai-router NOT_FOUND floor", "c=1", "cpu_per_req", us),
        ));
    }
    Some(t)
}

fn rates(r: &Results) -> Option<Table> {
    let systems = r.systems("rate");
    if systems.is_empty() {
        return None;
    }
    let headers: Vec<String> = std::iter::once("system".to_string())
        .chain(
            RATE_BOUNDS_MS
                .iter()
                .map(|b| format!("highest rate with p99 ≤ {b} ms")),
        )
        .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut t = Table::new(
        "Remote path, open loop: throughput at which p99 stays under a bound",
        &headers,
    );
    for s in &systems {
        let mut row = vec![s.clone()];
        for b in RATE_BOUNDS_MS {
            row.push(r.show("rate", s, &format!("p99<={b}ms"), "max_rate", |v| {
                if v == 0.0 {
                    "below the lowest step".into()
                } else {
                    format!("{v:.0} req/s")
                }
            }));
        }
        t.row(row);
    }
    t.note("Stepped open loop (latency from each call's scheduled start); a system leaves the sweep after two steps in a row over 10 ms or behind the offered rate; the top step bounds what it can show.");
    Some(t)
}

fn streams(r: &Results) -> Option<Table> {
    let systems = r.systems("stream");
    if systems.is_empty() {
        return None;
    }
    let mut t = Table::new(
        format!(
            "Remote path, streams ({STREAM_TOKENS} tokens {STREAM_GAP} apart): added TTFT and inter-token gap"
        ),
        &[
            "system",
            "c=1 TTFT p99 (added)",
            "c=1 gap p99 (added)",
            "c=16 TTFT p99 (added)",
            "c=16 gap p99 (added)",
            "concurrent streams with no stall (of 512)",
            "longest gap at the highest level",
        ],
    );
    for s in &systems {
        let both = |c: &str, abs: &str, add: &str| {
            format!(
                "{} ({})",
                r.show("stream", s, c, abs, us),
                r.show("stream", s, c, add, plus_us)
            )
        };
        let best = r
            .get("streams", s, "max", "no_stall_streams")
            .unwrap_or(0.0);
        let top = r
            .systems("streams")
            .iter()
            .any(|x| x == s)
            .then(|| {
                [512, 256, 128, 64]
                    .into_iter()
                    .find_map(|n| r.get("streams", s, &format!("n={n}"), "longest_gap"))
            })
            .flatten();
        t.row(vec![
            s.clone(),
            both("c=1", "ttft_p99", "added_ttft_p99"),
            both("c=1", "gap_p99", "added_gap_p99"),
            both("c=16", "ttft_p99", "added_ttft_p99"),
            both("c=16", "gap_p99", "added_gap_p99"),
            format!("{best:.0}"),
            top.map_or_else(|| "—".into(), us),
        ]);
    }
    t.note(format!(
        "No stall: every stream of a burst ({MANY_TOKENS} tokens, {} apart) completes with no gap over {}.",
        us(MANY_GAP.as_secs_f64() * 1e6),
        us(STALL_GAP.as_secs_f64() * 1e6)
    ));
    Some(t)
}

fn memory(r: &Results) -> Option<Table> {
    let systems = r.systems("memory");
    if systems.is_empty() {
        return None;
    }
    let mut t = Table::new(
        "Memory (resident, process tree)",
        &[
            "system",
            "idle",
            "after the unary cells and the sweep",
            "after 512 streams",
            "peak (VmHWM)",
        ],
    );
    let mib = |v: f64| format!("{v:.1} MiB");
    for s in &systems {
        t.row(vec![
            s.clone(),
            r.show("memory", s, "", "idle_rss", mib),
            r.show("memory", s, "", "loaded_rss", mib),
            r.show("memory", s, "", "plateau_rss", mib),
            r.show("memory", s, "", "peak_rss", mib),
        ]);
    }
    Some(t)
}

fn local(r: &Results) -> Option<Table> {
    let systems = r.systems("local");
    if systems.is_empty() {
        return None;
    }
    let mut t = Table::new(
        "Local path: a warm tiny model (random weights, 256×4 layers, 8 tokens, 4 slots, 1 compute thread)",
        &[
            "system",
            "c=1 throughput (vs direct)",
            "c=1 added p50",
            "c=16 throughput (vs direct)",
            "router CPU per request c=1 / c=16",
            "model process CPU per request c=1 / c=16",
        ],
    );
    for s in &systems {
        let tput = |c: &str| {
            format!(
                "{} ({})",
                r.show("local", s, c, "throughput", |v| format!("{v:.1} req/s")),
                r.show("local", s, c, "throughput_ratio", |v| format!("{v:.2}×"))
            )
        };
        let pair = |m: &str| {
            format!(
                "{} / {}",
                r.show("local", s, "c=1", m, us),
                r.show("local", s, "c=16", m, us)
            )
        };
        t.row(vec![
            s.clone(),
            tput("c=1"),
            r.show("local", s, "c=1", "added_p50", plus_us),
            tput("c=16"),
            pair("router_cpu_per_req"),
            pair("model_cpu_per_req"),
        ]);
    }
    Some(t)
}

/// Issue 14's targets for ai-router, judged on this run.
fn targets(r: &Results) -> Option<Table> {
    let me = "ai-router";
    let mut t = Table::new(
        "Issue 14 targets for ai-router, this run",
        &["target", "measured", "verdict"],
    );
    let mut check =
        |name: &str, value: Option<f64>, show: fn(f64) -> String, ok: &dyn Fn(f64) -> bool| {
            if let Some(v) = value {
                t.row(vec![
                    name.into(),
                    show(v),
                    if ok(v) { "met" } else { "MISSED" }.into(),
                ]);
            }
        };
    check(
        "added p99 ≤ 110 µs at c=1",
        r.get("unary", me, "c=1", "added_p99"),
        plus_us,
        &|v| v <= 110.0,
    );
    check(
        "added p50 ≤ 60 µs at c=1 (stretch)",
        r.get("unary", me, "c=1", "added_p50"),
        plus_us,
        &|v| v <= 60.0,
    );
    check(
        "added p99 ≤ 300 µs at c=16",
        r.get("unary", me, "c=16", "added_p99"),
        plus_us,
        &|v| v <= 300.0,
    );
    check(
        "added TTFT p99 ≤ 300 µs (c=16)",
        r.get("stream", me, "c=16", "added_ttft_p99"),
        plus_us,
        &|v| v <= 300.0,
    );
    check(
        "added inter-token gap p99 ≤ 20 µs (c=16)",
        r.get("stream", me, "c=16", "added_gap_p99"),
        plus_us,
        &|v| v <= 20.0,
    );
    check(
        "512 streams with no stall",
        r.get("streams", me, "max", "no_stall_streams"),
        |v| format!("{v:.0}"),
        &|v| v >= 512.0,
    );
    check(
        "router CPU ≤ 60 µs per request (c=16)",
        r.get("unary", me, "c=16", "cpu_per_req"),
        us,
        &|v| v <= 60.0,
    );
    check(
        "idle RSS ≤ 30 MB",
        r.get("memory", me, "", "idle_rss"),
        |v| format!("{v:.1} MiB"),
        &|v| v * 1.048_576 <= 30.0,
    );
    check(
        "local: ≥ 0.95× direct throughput at c=16",
        r.get("local", me, "c=16", "throughput_ratio"),
        |v| format!("{v:.2}×"),
        &|v| v >= 0.95,
    );
    if let (Some(mine), Some(theirs)) = (
        r.get("local", me, "c=16", "throughput"),
        r.get("local", "llama.cpp router", "c=16", "throughput"),
    ) {
        check(
            "local: ahead of llama.cpp's router mode at c=16",
            Some(mine / theirs),
            |v| format!("{v:.3}× theirs"),
            &|v| v > 1.0,
        );
    }
    check(
        "local: added p50 ≤ 200 µs at c=1",
        r.get("local", me, "c=1", "added_p50"),
        plus_us,
        &|v| v <= 200.0,
    );
    check(
        "local: router CPU ≤ 100 µs per request (c=16)",
        r.get("local", me, "c=16", "router_cpu_per_req"),
        us,
        &|v| v <= 100.0,
    );
    // Ahead of every peer on the remote figures, lower is better.
    for peer in ["litellm", "sglang-router"] {
        let figures = [
            ("unary", "c=1", "added_p99"),
            ("unary", "c=16", "added_p99"),
            ("unary", "c=16", "cpu_per_req"),
            ("stream", "c=16", "added_ttft_p99"),
        ];
        let behind: Vec<String> = figures
            .iter()
            .filter_map(|(cell, c, m)| {
                let (a, b) = (r.get(cell, me, c, m)?, r.get(cell, peer, c, m)?);
                (a > b).then(|| format!("{cell} {c} {m} ({} vs {})", us(a), us(b)))
            })
            .collect();
        if r.get("unary", peer, "c=1", "added_p99").is_some() {
            let verdict = if behind.is_empty() { "met" } else { "MISSED" };
            let measured = if behind.is_empty() {
                "ahead on all".to_string()
            } else {
                format!("behind on {}", behind.join(", "))
            };
            t.row(vec![
                format!("ahead of {peer} (added p99 c=1/16, CPU, TTFT)"),
                measured,
                verdict.into(),
            ]);
        }
    }
    Some(t)
}
