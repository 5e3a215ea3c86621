"""Renders deploy/grafana/preview.png: the dashboard's own queries, evaluated
by a real Prometheus over a real router's metrics, drawn with matplotlib.

No Grafana is packaged in a registry this project can use, so this is the
"rendered panel image from real metrics" the README shows: a router with two
tiny local models (one slot, so they swap), a load of batches and a few bad
calls from ai-router-cli, Prometheus (Debian `prometheus`) scraping /metrics
every second, then every timeseries panel's PromQL through /api/v1/query_range.

  python render_preview.py --router BIN --cli BIN --gguf-gen BIN \
      --llama-server BIN --prometheus BIN [--seconds 90] [--out preview.png]
"""

import argparse
import json
import pathlib
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, within=60):
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} never answered")


def query_range(prom, expr, start, end):
    expr = expr.replace("$__rate_interval", "5s").replace('job=~"$job"', 'job=~".*"')
    qs = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": "1"})
    with urllib.request.urlopen(f"http://{prom}/api/v1/query_range?{qs}") as r:
        body = json.load(r)
    if body["status"] != "success":
        raise SystemExit(f"Prometheus refused {expr}: {body}")
    return body["data"]["result"]


def legend(fmt, metric):
    for k, v in metric.items():
        fmt = fmt.replace("{{" + k + "}}", v)
    return fmt


def main():
    ap = argparse.ArgumentParser()
    for name in ("router", "cli", "gguf-gen", "llama-server", "prometheus"):
        ap.add_argument(f"--{name}", required=True)
    ap.add_argument("--seconds", type=int, default=90)
    ap.add_argument("--out", default=str(HERE / "preview.png"))
    a = ap.parse_args()
    dashboard = json.loads((HERE / "ai-router.json").read_text())
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "models").mkdir()
        for name in ("alpha", "beta"):
            subprocess.run([a.gguf_gen, "--out", str(tmp / "models" / f"{name}.gguf"), "--name", name, "--context", "2048"], check=True)
        grpc, metrics, prom_port = free_port(), free_port(), free_port()
        try:
            procs.append(subprocess.Popen([
                a.router, f"--listen=127.0.0.1:{grpc}", f"--metrics-listen=127.0.0.1:{metrics}",
                f"--models-dir={tmp / 'models'}", f"--llama-server={a.llama_server}",
                "--max-loaded-models=1", "--slots=2", "--log=warn"]))
            wait_http(f"http://127.0.0.1:{metrics}/metrics")
            (tmp / "prometheus.yml").write_text(
                "global: {scrape_interval: 1s}\n"
                "scrape_configs:\n"
                f"  - job_name: ai-router\n    static_configs: [{{targets: ['127.0.0.1:{metrics}']}}]\n")
            procs.append(subprocess.Popen([
                a.prometheus, f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}",
                "--log.level=warn"], stderr=subprocess.DEVNULL))
            wait_http(f"http://127.0.0.1:{prom_port}/-/ready")
            prompts = tmp / "prompts.txt"
            prompts.write_text("".join(f"prompt {i}\n" for i in range(24)))
            start = time.time()
            cli = [a.cli, "--addr", f"127.0.0.1:{grpc}", "--quiet"]
            round_ = 0
            while time.time() - start < a.seconds:
                model = ("alpha", "beta")[round_ % 2]
                subprocess.run(cli + ["batch", "--model", model, "--file", str(prompts),
                                      "--concurrency", "4", "--max-tokens", "16"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                subprocess.run(cli + ["generate", "--model", "nope", "--prompt", "x"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                round_ += 1
            time.sleep(3)  # two more scrapes after the last call
            end = time.time()
            panels = [p for p in dashboard["panels"] if p["type"] == "timeseries"]
            cols = 4
            rows = (len(panels) + cols - 1) // cols
            fig, axes = plt.subplots(rows, cols, figsize=(cols * 5, rows * 3.1))
            for ax, panel in zip(axes.flat, panels):
                for target in panel["targets"]:
                    for series in query_range(f"127.0.0.1:{prom_port}", target["expr"], start, end):
                        xs = [float(t) - start for t, _ in series["values"]]
                        ys = [float(v) for _, v in series["values"]]
                        ax.plot(xs, ys, label=legend(target["legendFormat"], series["metric"])[:28])
                ax.set_title(panel["title"], fontsize=9)
                ax.tick_params(labelsize=7)
                if ax.get_legend_handles_labels()[0]:
                    ax.legend(fontsize=6, loc="upper left")
            for ax in list(axes.flat)[len(panels):]:
                ax.axis("off")
            fig.suptitle(f"ai-router dashboard queries over {a.seconds} s of real traffic "
                         "(Prometheus 2.42, one router, two tiny models on one slot)", fontsize=11)
            fig.tight_layout()
            fig.savefig(a.out, dpi=70)
            print(f"wrote {a.out}")
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=30)


if __name__ == "__main__":
    main()
