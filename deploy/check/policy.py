"""Deployment policy over rendered Kubernetes objects.

Rules a schema cannot express, each a reason a rollout would go wrong:
probes on numeric ports (a renamed port must not silently break a probe),
a termination grace that covers preStop + the router's drain, resources
requested, readiness and liveness on different health names, a PDB whose
selector is not empty, gRPC Service ports marked h2c, a pod template that
rolls when its config changes. `violations(objects)` returns one line per
broken rule; `selftest()` proves each rule fires on a bad object.
"""

import copy
import re

ROUTER_CONTAINER = "ai-router"
ROUTER_DEFAULT_GRACE = 10  # the router's built-in shutdown_grace, seconds
READINESS_SERVICE = "airouter.v1.Router"


def _seconds(text):
    """'20s', '1m', '1m30s', '500ms' -> seconds (float)."""
    total, units = 0.0, {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise ValueError(f"not a duration: {text!r}")
    for number, unit in parts:
        total += float(number) * units[unit]
    return total


def _env(container, name):
    for e in container.get("env") or []:
        if e.get("name") == name and "value" in e:
            return e["value"]
    return None


def _pod_templates(objects):
    for o in objects:
        if o.get("kind") in ("Deployment", "StatefulSet", "DaemonSet"):
            yield o, o["spec"]["template"]


def _probe_problems(where, probe_name, probe):
    if probe is None:
        return []
    for handler in ("grpc", "httpGet", "tcpSocket"):
        if handler in probe:
            port = probe[handler].get("port")
            if not isinstance(port, int):
                return [f"{where}: {probe_name} {handler} port {port!r} is not a number"]
            return []
    if "exec" in probe:
        return []
    return [f"{where}: {probe_name} has no handler"]


def _container_problems(where, pod_spec, c):
    out = []
    for name in ("startupProbe", "readinessProbe", "livenessProbe"):
        out += _probe_problems(where, name, c.get(name))
    res = c.get("resources") or {}
    requests, limits = res.get("requests") or {}, res.get("limits") or {}
    for key in ("cpu", "memory"):
        if key not in requests:
            out.append(f"{where}: no resources.requests.{key}")
    if "memory" not in limits:
        out.append(f"{where}: no resources.limits.memory")
    if c.get("ports"):  # a server: must drain behind a preStop
        pre = ((c.get("lifecycle") or {}).get("preStop")) or {}
        sleep = (pre.get("sleep") or {}).get("seconds")
        if sleep is None:
            out.append(f"{where}: a serving container without a preStop sleep")
            sleep = 0
        drain = 0.0
        if c["name"] == ROUTER_CONTAINER:
            grace_env = _env(c, "AI_ROUTER_SHUTDOWN_GRACE")
            drain = _seconds(grace_env) if grace_env else ROUTER_DEFAULT_GRACE
        grace = pod_spec.get("terminationGracePeriodSeconds", 30)
        if grace < sleep + drain:
            out.append(
                f"{where}: terminationGracePeriodSeconds {grace} < preStop {sleep}"
                f" + shutdown grace {drain:g}"
            )
    if c["name"] == ROUTER_CONTAINER:
        ready = ((c.get("readinessProbe") or {}).get("grpc") or {}).get("service")
        live = ((c.get("livenessProbe") or {}).get("grpc") or {}).get("service")
        if ready != READINESS_SERVICE:
            out.append(f"{where}: readiness must be a gRPC probe on {READINESS_SERVICE}, is {ready!r}")
        if not live or live == ready or live == "":
            out.append(f"{where}: liveness must be a gRPC probe on its own health name, is {live!r}")
    return out


def violations(objects):
    out = []
    config_maps = {o["metadata"]["name"] for o in objects if o.get("kind") == "ConfigMap"}
    pod_labels = []
    for owner, template in _pod_templates(objects):
        spec = template["spec"]
        pod_labels.append(template["metadata"].get("labels") or {})
        for c in spec["containers"]:
            where = f"{owner['kind']}/{owner['metadata']['name']}/{c['name']}"
            out += _container_problems(where, spec, c)
        # A mounted ConfigMap must roll the pods when it changes: either a
        # checksum annotation (Helm) or a content-hashed name (kustomize).
        for v in spec.get("volumes") or []:
            cm = (v.get("configMap") or {}).get("name")
            if cm is None:
                continue
            hashed = re.search(r"-[a-z0-9]{10}$", cm) is not None
            annotated = any(k.startswith("checksum/") for k in (template["metadata"].get("annotations") or {}))
            if not (hashed or annotated):
                out.append(f"{owner['metadata']['name']}: ConfigMap {cm} changes would not roll the pods")
            if cm not in config_maps:
                out.append(f"{owner['metadata']['name']}: mounts ConfigMap {cm}, which is not rendered")
    for o in objects:
        kind, name = o.get("kind"), o["metadata"]["name"]
        if kind == "PodDisruptionBudget":
            sel = ((o["spec"].get("selector") or {}).get("matchLabels")) or {}
            if not sel:
                out.append(f"PodDisruptionBudget/{name}: empty selector covers every pod in the namespace")
            elif not any(all(labels.get(k) == v for k, v in sel.items()) for labels in pod_labels):
                out.append(f"PodDisruptionBudget/{name}: selector {sel} matches no pod template")
        if kind == "Service":
            for p in o["spec"].get("ports") or []:
                if p.get("name") == "grpc" and p.get("appProtocol") != "kubernetes.io/h2c":
                    out.append(f"Service/{name}: gRPC port without appProtocol kubernetes.io/h2c")
                if not isinstance(p.get("targetPort", p.get("port")), int):
                    out.append(f"Service/{name}: targetPort {p.get('targetPort')!r} is not a number")
        if kind == "ServiceMonitor":
            # No schema for this CRD is bundled with kubernetes-validate, so
            # check what breaks scraping: the port it names must exist on a
            # Service it selects.
            sel = o["spec"].get("selector", {}).get("matchLabels") or {}
            ports = {
                p.get("name")
                for svc in objects
                if svc.get("kind") == "Service"
                and all((svc["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items())
                for p in svc["spec"].get("ports") or []
            }
            for ep in o["spec"].get("endpoints") or []:
                if ep.get("port") not in ports:
                    out.append(f"ServiceMonitor/{name}: port {ep.get('port')!r} is on no Service it selects")
    return out


def _router(objects):
    for _, template in _pod_templates(objects):
        for c in template["spec"]["containers"]:
            if c["name"] == ROUTER_CONTAINER:
                return c, template["spec"]
    raise ValueError("no ai-router container in the rendering")


def _first(objects, kind):
    return next(o for o in objects if o.get("kind") == kind)


def selftest(good_objects):
    """Breaks a good rendering (with a PDB and a ServiceMonitor) in each way
    the policy forbids and checks the policy notices; returns the rules that
    did NOT fire (empty: all good)."""
    breakages = {
        "named probe port": lambda o: _router(o)[0]["readinessProbe"]["grpc"].__setitem__("port", "grpc"),
        "short grace": lambda o: _router(o)[1].__setitem__("terminationGracePeriodSeconds", 1),
        "no cpu request": lambda o: _router(o)[0]["resources"]["requests"].pop("cpu"),
        "liveness on readiness": lambda o: _router(o)[0]["livenessProbe"]["grpc"].__setitem__("service", READINESS_SERVICE),
        "no preStop": lambda o: _router(o)[0].pop("lifecycle"),
        "empty PDB selector": lambda o: _first(o, "PodDisruptionBudget")["spec"].pop("selector"),
        "ServiceMonitor port": lambda o: _first(o, "ServiceMonitor")["spec"]["endpoints"][0].__setitem__("port", "nope"),
        "gRPC port without h2c": lambda o: _first(o, "Service")["spec"]["ports"][0].pop("appProtocol"),
    }
    silent = [] if not violations(good_objects) else ["the good rendering already fails"]
    for label, breakage in breakages.items():
        objects = copy.deepcopy(good_objects)
        breakage(objects)
        if not violations(objects):
            silent.append(label)
    return silent
