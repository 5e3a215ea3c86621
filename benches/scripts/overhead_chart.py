"""Draws the chart of one `overhead` run from its CSV.

usage: python overhead_chart.py RUN.csv OUT.png

Four panels, every gateway figure against the direct path of the same run:
added unary latency (p50, p99 at concurrency 1 and 16), CPU per request,
added streaming TTFT p99, and the local path's throughput relative to
llama-server called directly. Values that are zero or negative (within noise
of direct) are drawn at the floor of the log axis and labelled with their
real value.
"""

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FLOOR_US = 1.0
COLOURS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52"]


def load(path):
    rows = defaultdict(dict)
    run = ""
    skipped = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            run = r["run"]
            if r["cell"] == "skipped":
                skipped.append(f'{r["system"]}: {r["unit"]}')
                continue
            rows[(r["cell"], r["param"], r["metric"])][r["system"]] = float(r["value"])
    return run, rows, skipped


def label(v):
    if abs(v) >= 1000:
        return f"{v / 1000:.1f} ms"
    return f"{v:.0f} µs"


def grouped(ax, rows, series, systems, title, log=True, unit="µs", fmt=label):
    """Bars: one group per system, one bar per (key, legend) in series."""
    width = 0.8 / max(len(series), 1)
    for k, (key, legend) in enumerate(series):
        values = [rows.get(key, {}).get(s) for s in systems]
        xs = [i + k * width for i in range(len(systems))]
        heights = [max(v, FLOOR_US) if (v is not None and log) else (v or 0) for v in values]
        bars = ax.bar(xs, heights, width, label=legend, color=COLOURS[k % len(COLOURS)])
        for b, v in zip(bars, values):
            if v is not None:
                ax.annotate(fmt(v), (b.get_x() + b.get_width() / 2, b.get_height()),
                            ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(systems))])
    ax.set_xticklabels(systems, fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(unit)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    run, rows, skipped = load(sys.argv[1])
    remote = [s for s in ("ai-router", "floor-reqwest", "floor-hyper", "litellm", "sglang-router")
              if ("unary", "c=1", "added_p50") in rows and s in rows[("unary", "c=1", "added_p50")]]
    local = [s for s in ("ai-router", "llama.cpp router")
             if s in rows.get(("local", "c=16", "throughput_ratio"), {})]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    grouped(axes[0][0], rows, [
        (("unary", "c=1", "added_p50"), "added p50, c=1"),
        (("unary", "c=1", "added_p99"), "added p99, c=1"),
        (("unary", "c=16", "added_p50"), "added p50, c=16"),
        (("unary", "c=16", "added_p99"), "added p99, c=16"),
    ], remote, "Unary Generate: latency added over direct (log)")
    grouped(axes[0][1], rows, [
        (("unary", "c=1", "cpu_per_req"), "c=1"),
        (("unary", "c=16", "cpu_per_req"), "c=16"),
    ], ["direct"] + remote, "CPU per request, own processes (direct = the upstream) (log)")
    grouped(axes[1][0], rows, [
        (("stream", "c=1", "added_ttft_p99"), "added TTFT p99, c=1"),
        (("stream", "c=16", "added_ttft_p99"), "added TTFT p99, c=16"),
        (("stream", "c=16", "added_gap_p99"), "added gap p99, c=16"),
    ], remote, "Streams: added time to first token and inter-token gap (log)")
    grouped(axes[1][1], rows, [
        (("local", "c=1", "throughput_ratio"), "c=1"),
        (("local", "c=16", "throughput_ratio"), "c=16"),
    ], local, "Local model: throughput vs llama-server direct", log=False, unit="× direct",
        fmt=lambda v: f"{v:.2f}×")
    axes[1][1].axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    note = f"overhead run {run}"
    if skipped:
        note += "; skipped: " + "; ".join(skipped)[:150]
    fig.suptitle(note, fontsize=10)
    fig.text(0.01, 0.003, "Log panels: a value at or below zero (within noise of direct) is drawn at the axis floor "
             "and labelled with its value. Ratios within one run; absolute figures move with the machine's load.",
             fontsize=7)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(sys.argv[2], dpi=110)
    print(f"wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
