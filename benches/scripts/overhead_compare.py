"""Sets the key figures of two `overhead` runs side by side.

usage: python3 overhead_compare.py BEFORE.csv AFTER.csv [SYSTEM]

SYSTEM defaults to ai-router. Prints a markdown table: each figure in both
runs and the change. Absolute latencies swing with the neighbours on a
shared machine; the figures against direct ("added", "vs direct") are the
ones to compare. Standard library only.
"""

import csv
import sys

FIGURES = [
    ("unary", "c=1", "added_p50", "added p50, c=1 (µs)"),
    ("unary", "c=1", "added_p99", "added p99, c=1 (µs)"),
    ("unary", "c=16", "added_p50", "added p50, c=16 (µs)"),
    ("unary", "c=16", "added_p99", "added p99, c=16 (µs)"),
    ("unary", "c=1", "p50_ratio", "p50 vs direct, c=1 (×)"),
    ("unary", "c=1", "cpu_per_req", "CPU per request, c=1 (µs)"),
    ("unary", "c=16", "cpu_per_req", "CPU per request, c=16 (µs)"),
    ("unary", "c=16", "throughput", "throughput, c=16 (req/s)"),
    ("rate", "p99<=1ms", "max_rate", "rate with p99 ≤ 1 ms (req/s)"),
    ("rate", "p99<=10ms", "max_rate", "rate with p99 ≤ 10 ms (req/s)"),
    ("stream", "c=16", "added_ttft_p99", "added TTFT p99, c=16 (µs)"),
    ("stream", "c=16", "added_gap_p99", "added gap p99, c=16 (µs)"),
    ("streams", "max", "no_stall_streams", "streams with no stall"),
    ("memory", "", "idle_rss", "idle RSS (MiB)"),
    ("memory", "", "peak_rss", "peak RSS (MiB)"),
    ("local", "c=1", "throughput_ratio", "local throughput vs direct, c=1 (×)"),
    ("local", "c=16", "throughput_ratio", "local throughput vs direct, c=16 (×)"),
    ("local", "c=1", "added_p50", "local added p50, c=1 (µs)"),
    ("local", "c=16", "router_cpu_per_req", "local router CPU per request, c=16 (µs)"),
]


def load(path, system):
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["system"] == system and r["value"]:
                out[(r["cell"], r["param"], r["metric"])] = float(r["value"])
    return out


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    system = sys.argv[3] if len(sys.argv) == 4 else "ai-router"
    before, after = load(sys.argv[1], system), load(sys.argv[2], system)
    print(f"| {system} | before | after | change |")
    print("| --- | --- | --- | --- |")
    for cell, param, metric, name in FIGURES:
        a, b = before.get((cell, param, metric)), after.get((cell, param, metric))
        if a is None and b is None:
            continue
        show = lambda v: "—" if v is None else f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}"
        change = "—"
        if a is not None and b is not None:
            change = f"{b - a:+.2f}" if abs(b - a) < 10 else f"{b - a:+.0f}"
            if a > 0 and b > 0:
                change += f" ({b / a:.2f}×)"
        print(f"| {name} | {show(a)} | {show(b)} | {change} |")


if __name__ == "__main__":
    main()
