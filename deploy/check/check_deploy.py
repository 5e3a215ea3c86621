"""Offline checks of deploy/: render, validate, enforce policy.

Renders the Helm chart for a small values matrix with Helm's own engine
(helm-python-sdk wraps Helm v4's Go library: the same template engine,
schema check and lint as the `helm` binary) and the kustomize trees with
`kubectl kustomize`, validates every object with `kubernetes-validate
--strict` for each Kubernetes version asked for, and applies policy.py.
Usage: check_deploy.py REPO OUT_DIR KUBE_VERSION...
"""

import pathlib
import shutil
import subprocess
import sys

import helm_python
import yaml

import policy

CHART_CASES = {
    "defaults": [],
    "minimal": ["ci/minimal-values.yaml"],
    "full": ["ci/full-values.yaml"],
}
KUSTOMIZE_TREES = [
    "kustomize/base",
    "kustomize/overlays/production",
    "kustomize/overlays/with-model-hosts",
    "examples/llama-server",
]


class Failures(list):
    def check(self, ok, message):
        if not ok:
            self.append(message)
            print(f"  FAIL {message}")
        return ok


def load_docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def merged_values(chart_dir, files):
    values = {}
    for f in files:
        values = helm_python.Chart.load(str(chart_dir)).merge_values(
            _deep_merge(values, yaml.safe_load((chart_dir / f).read_text()) or {})
        )
    return values


def _deep_merge(base, over):
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def render_chart(chart, values):
    manifests = chart.render(values, name="air", namespace="ai", is_install=True)
    return "".join(
        f"---\n# Source: {path}\n{text}\n" for path, text in sorted(manifests.items()) if path.endswith(".yaml")
    )


def checksum(text):
    for d in load_docs(text):
        if d["kind"] == "Deployment":
            return d["spec"]["template"]["metadata"]["annotations"].get("checksum/config")
    return None


def check_chart(deploy, out, versions, failures):
    chart_dir = deploy / "helm" / "ai-router"
    chart = helm_python.Chart.load(str(chart_dir))
    rendered = {}
    for case, files in CHART_CASES.items():
        text = render_chart(chart, merged_values(chart_dir, files))
        path = out / f"helm-{case}.yaml"
        path.write_text(text)
        rendered[case] = path
        print(f"  rendered chart ({case}): {len(load_docs(text))} objects")
    for v in versions:
        report = helm_python.lint(str(chart_dir), strict=True, kube_version=f"v{v}")
        errors = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
        failures.check(not errors, f"helm lint --strict (Kubernetes {v}): {errors}")
    # The schema is live: a named port or an unknown key is refused.
    for bad in ({"ports": {"grpc": "grpc", "metrics": 9464}}, {"replicas": 3}):
        try:
            chart.render(bad, name="air")
            failures.check(False, f"values.schema.json accepted {bad}")
        except helm_python.HelmError:
            pass
    # A config change changes the checksum annotation, so pods roll.
    base = checksum(rendered["defaults"].read_text())
    changed = checksum(render_chart(chart, {"config": "[executor]\nmax_queue = 7\n"}))
    failures.check(base and changed and base != changed, "checksum/config does not follow the config")
    return rendered


def check_kustomize(deploy, out, failures):
    kubectl, kustomize = shutil.which("kubectl"), shutil.which("kustomize")
    if kubectl:
        command = [kubectl, "kustomize"]
    elif kustomize:
        command = [kustomize, "build"]
    else:
        print("  SKIPPED: kustomize trees not rendered: neither kubectl nor kustomize is installed")
        return {}
    rendered = {}
    for tree in KUSTOMIZE_TREES:
        result = subprocess.run(command + [str(deploy / tree)], capture_output=True, text=True)
        if not failures.check(result.returncode == 0, f"kubectl kustomize {tree}: {result.stderr.strip()}"):
            continue
        path = out / f"kustomize-{tree.replace('/', '-')}.yaml"
        path.write_text(result.stdout)
        rendered[tree] = path
        print(f"  rendered {tree}: {len(load_docs(result.stdout))} objects")
    return rendered


def validate(files, versions, failures, validator):
    for v in versions:
        cmd = [validator, "--strict", "--quiet", "-k", v] + [str(f) for f in files]
        result = subprocess.run(cmd, capture_output=True, text=True)
        for line in (result.stdout + result.stderr).splitlines():
            print(f"    {line}")
        failures.check(result.returncode == 0, f"kubernetes-validate --strict -k {v} failed")
        if result.returncode == 0:
            print(f"  kubernetes-validate --strict -k {v}: {len(files)} files valid")


def main():
    repo, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    versions = sys.argv[3:]
    deploy = repo / "deploy"
    out.mkdir(parents=True, exist_ok=True)
    failures = Failures()
    print(f"helm engine: helm-python-sdk {helm_python.helm_sdk_version()}")
    chart = check_chart(deploy, out, versions, failures)
    kustomized = check_kustomize(deploy, out, failures)
    files = list(chart.values()) + list(kustomized.values())
    validator = str(pathlib.Path(sys.executable).parent / "kubernetes-validate")
    validate(files, versions, failures, validator)
    for path in files:
        problems = policy.violations(load_docs(path.read_text()))
        for p in problems:
            failures.check(False, f"policy: {path.name}: {p}")
        if not problems:
            print(f"  policy: {path.name}: ok")
    silent = policy.selftest(load_docs(chart["full"].read_text()))
    if failures.check(not silent, f"policy self-test: rules that did not fire: {silent}"):
        print("  policy self-test: every rule fires on a rendering broken for it")
    if failures:
        print(f"check-deploy: {len(failures)} problem(s)")
        return 1
    print(f"check-deploy: ok ({len(files)} renderings, Kubernetes {', '.join(versions)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
