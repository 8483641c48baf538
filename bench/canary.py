"""The canary row (issue 26): a fleet of RELEASES releases, one inventory host per namespace in one
play, canaried side by side by HTTPRoute weight (README, "Progressive delivery") on the bench's
kwok cluster, judged on the metrics of a fake Prometheus.

What the kwok cluster lacks, the bench brings:
- the Gateway API CRDs: the kind tier's own build of them (`cluster/kind.sh build-gateway-api`,
  passed by bench/run.sh as --gateway-api-crds), applied server-side;
- a Gateway controller's one write the engine waits on: the deploy is done when every parent
  Gateway has set Accepted and ResolvedRefs on the route (edge_readiness.route_state), so
  `RouteWatch` sets both on each route's status, as a controller would, the first time it sees
  the route. It watches every HTTPRoute of the run's namespaces and records each route's canary
  weight with the time it saw it: the timeline the row is measured on;
- Prometheus: `FakePrometheus`, an HTTP server on 127.0.0.1 answering the instant query
  (/api/v1/query) the engine sends (canary_metrics.fleet_query) with the series Traefik's metrics
  would give for the backends the query's selector names (requests by code class and p99, as
  canary_metrics.samples reads them; tests/unit/test_bench_canary.py reads its answers with the
  engine's own parser). It counts the queries, and what it reports is switched at a recorded
  instant: healthy (every check passes) or failing (a success rate below the threshold).

The cases, on the same fleet after a plain first deploy:
- abort: an image change runs the canaries; once every route is at the last step's weight the
  fake switches to failing (the recorded instant). Measured: the time from that instant, and from
  the failing check's query, to every route back at 100% stable;
- promote: another image change with the fake healthy throughout. Measured: the time from the last
  step's check (the end of its pause: the fleet's one query) to every route at 100% stable.
Both count the fake's queries per step taken (one per step for the whole fleet)."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import yaml
from common import DEFAULT_TAG, LABEL, PLAYBOOK, RELEASE, ROOT, image, log

if TYPE_CHECKING:
    from run import Bench

    from cluster import Cluster

RELEASES = 10
# Short steps so the row takes about a minute: two steps of PAUSE seconds (the interval too).
PAUSE = 6
STEPS = [{"weight": 20, "pause": PAUSE}, {"weight": 50, "pause": PAUSE}]
SUCCESS_RATE_MIN = 99
# What the fake reports per canary backend and window: healthy, then failing (below 99%).
HEALTHY = {"2xx": 200, "5xx": 0}
FAILING = {"2xx": 180, "5xx": 20}
P99_SECONDS = 0.05
ROUTE = f"{RELEASE}-route"
SERVICES = (f"{RELEASE}-service", f"{RELEASE}-canary")  # backendRefs 0 (stable) and 1 (canary)
GATEWAY = "bench-edge"
CONTROLLER = "exchange-platform.bench/fake-gateway-controller"
GROUP_VERSION = "gateway.networking.k8s.io/v1"
ROUTES = f"/apis/{GROUP_VERSION}/httproutes"
DEADLINE = 300  # seconds any one deploy of the row may take


# ---------------------------------------------------------------------- the fake Prometheus


def normalize(name: str) -> str:
    """Traefik's provider.Normalize: each run of characters other than letters and digits is one
    "-", none at either end."""
    return "-".join(p for p in re.split(r"[^0-9A-Za-z]+", name) if p)


def service_label(namespace: str, service: str, index: int) -> str:
    """The `service` label Traefik v3.7.6+ gives the requests of backendRef `index` of the first
    rule of the release's route on the bench's Gateway (entry point web, rule PathPrefix(`/`))."""
    rule_hash = hashlib.sha256(b"PathPrefix(`/`)").hexdigest()[:20]
    router = normalize(f"httproute-{namespace}-{ROUTE}-gw-{namespace}-{GATEWAY}-ep-web-0")
    return f"{router}-{rule_hash}-svc-{namespace}-{service}-{index}@kubernetesgateway"


class FakePrometheus:
    """The Prometheus instant-query API for the canary backends of `namespaces`: each series of
    the backends the query's `service=~"..."` selector matches. `failing` switches what the
    canaries report; `queries` records every query (monotonic time, failing or not, series)."""

    def __init__(self, namespaces: Iterable[str]) -> None:
        self.labels = [
            service_label(ns, name, index)
            for ns in namespaces
            for index, name in enumerate(SERVICES)
        ]
        self.failing = False
        self.switched_at: float | None = None
        self.queries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def switch(self, failing: bool) -> float:
        """Report failing (or healthy) canaries from now on; the instant (time.monotonic())."""
        with self._lock:
            self.failing = failing
            self.switched_at = time.monotonic()
            return self.switched_at

    def answer(self, query: str) -> dict[str, Any]:
        """The API's JSON answer to an instant query: a vector with, per matched backend, its
        requests by code class (measure=requests) and its p99 (measure=p99); an error for a query
        without the fleet query's selector. Counts the query."""
        found = re.search(r'service=~"([^"]*)"', query)
        if not found or "measure" not in query:
            return {"status": "error", "errorType": "bad_data", "error": "not the fleet's query"}
        pattern = re.compile(found.group(1))
        with self._lock:
            failing = self.failing
            matched = [label for label in self.labels if pattern.fullmatch(label)]
            self.queries.append(
                {"at": time.monotonic(), "failing": failing, "backends": len(matched)}
            )
        now = time.time()
        result = []
        for label in matched:
            canary = label.endswith("-1@kubernetesgateway")
            counts = FAILING if failing and canary else HEALTHY
            for code_class, value in counts.items():
                metric = {"service": label, "class": code_class, "measure": "requests"}
                result.append({"metric": metric, "value": [now, f"{value:g}"]})
            metric = {"service": label, "measure": "p99"}
            result.append({"metric": metric, "value": [now, f"{P99_SECONDS:g}"]})
        return {"status": "success", "data": {"resultType": "vector", "result": result}}

    def start(self) -> str:
        """Serve on 127.0.0.1 (a free port) in a thread; the base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                url = urlsplit(self.path)
                if url.path != "/api/v1/query":
                    error = {"status": "error", "errorType": "not_found", "error": url.path}
                    self._send(404, error)
                    return
                query = parse_qs(url.query).get("query", [""])[0]
                body = fake.answer(query)
                self._send(200 if body["status"] == "success" else 400, body)

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # quiet: no line per query
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


# ---------------------------------------------------------------------- routes


def canary_weight(route: dict[str, Any]) -> int | None:
    """The canary's share (percent) of the release's rule, its backendRefs stable then canary;
    None when the rule has no canary backend."""
    for rule in route.get("spec", {}).get("rules") or []:
        refs = {r.get("name"): r.get("weight", 1) for r in rule.get("backendRefs") or []}
        if SERVICES[0] in refs and SERVICES[1] in refs:
            total = refs[SERVICES[0]] + refs[SERVICES[1]]
            return round(100 * refs[SERVICES[1]] / total) if total else 0
    return None


def accepted_status(route: dict[str, Any]) -> dict[str, Any] | None:
    """The status a Gateway controller writes on a route it accepts (Accepted and ResolvedRefs
    True for every parentRef), or None when the route already has it."""
    parents = route.get("spec", {}).get("parentRefs") or []
    done = {
        p.get("parentRef", {}).get("name")
        for p in route.get("status", {}).get("parents") or []
        if p.get("controllerName") == CONTROLLER
    }
    if not parents or all(p["name"] in done for p in parents):
        return None
    generation = route.get("metadata", {}).get("generation", 1)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    conditions = [
        {
            "type": kind,
            "status": "True",
            "reason": kind,
            "message": "set by the benchmark's fake Gateway controller",
            "observedGeneration": generation,
            "lastTransitionTime": now,
        }
        for kind in ("Accepted", "ResolvedRefs")
    ]
    return {
        "status": {
            "parents": [
                {"parentRef": p, "controllerName": CONTROLLER, "conditions": conditions}
                for p in parents
            ]
        }
    }


def all_stable_at(timeline: list[tuple[float, str, int | None]], names: list[str], since: float,
                  start: dict[str, int | None] | None = None) -> float | None:  # fmt: skip
    """The first time at or after `since` when every route of `names` is at 100% stable (canary
    weight 0), from a timeline of (time, namespace, canary weight) in time order; `start`: the
    weights before the timeline's first entry. None when that never happened."""
    state = dict(start or {})
    for at, ns, weight in timeline:
        if ns in names:
            state[ns] = weight
        if at >= since and all(state.get(n) == 0 for n in names):
            return at
    return None


def steps_taken(timeline: list[tuple[float, str, int | None]], since: float) -> int:
    """How many steps the canaries took after `since`: the distinct weights above 0 a route was
    set to (the most of any route)."""
    seen: dict[str, set[int]] = {}
    for at, ns, weight in timeline:
        if at >= since and weight:
            seen.setdefault(ns, set()).add(weight)
    return max((len(w) for w in seen.values()), default=0)


class RouteWatch:
    """A watch of every HTTPRoute in the namespaces starting with `prefix`: the fake Gateway
    controller (accepted_status, written once per route) and the timeline of canary weights."""

    def __init__(self, cluster: Cluster, prefix: str) -> None:
        self.cluster, self.prefix = cluster, prefix
        self.timeline: list[tuple[float, str, int | None]] = []
        self.weights: dict[str, int | None] = {}
        self.status_writes = 0
        self.errors: list[str] = []
        self._cond = threading.Condition()
        self._stop = False
        self._conn: http.client.HTTPSConnection | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError, AttributeError):
            self._conn.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        self._thread.join(10)

    def wait(self, pred: Callable[[dict[str, int | None]], bool], timeout: float) -> bool:
        """Wait until pred(the routes' canary weights) holds, at most timeout seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: pred(self.weights), timeout)

    def _run(self) -> None:
        while not self._stop:
            try:
                self._watch()
            except (OSError, RuntimeError, http.client.HTTPException, ValueError) as e:
                if not self._stop:
                    self.errors.append(repr(e))
                    time.sleep(0.5)

    def _watch(self) -> None:
        c = self.cluster
        self._conn = http.client.HTTPSConnection(c.host, c.port, context=c.ssl, timeout=None)
        self._conn.request("GET", f"{ROUTES}?watch=1&timeoutSeconds=900")
        resp = self._conn.getresponse()
        if resp.status != 200:
            raise OSError(f"watch of HTTPRoutes: {resp.status} {resp.read()[:300]!r}")
        while not self._stop:
            line = resp.readline()
            if not line:
                return
            event = json.loads(line)
            route = event.get("object") or {}
            ns = route.get("metadata", {}).get("namespace", "")
            if event.get("type") not in ("ADDED", "MODIFIED") or not ns.startswith(self.prefix):
                continue
            weight = canary_weight(route)
            with self._cond:
                self.timeline.append((time.monotonic(), ns, weight))
                self.weights[ns] = weight
                self._cond.notify_all()
            status = accepted_status(route)
            if status is not None:
                name = route["metadata"]["name"]
                c.request(
                    "PATCH",
                    f"/apis/{GROUP_VERSION}/namespaces/{ns}/httproutes/{name}/status",
                    json.dumps(status),
                    "application/merge-patch+json",
                )
                self.status_writes += 1


# ---------------------------------------------------------------------- the row


def values(names: list[str], url: str) -> dict[str, Any]:
    """The fleet's inventory: one host per namespace, the release on the bench's Gateway with
    the canary on, checked against the fake Prometheus."""
    common = {
        "exchange_router_hosts": "all",
        "exchange_router_autoscaling": {"enabled": False},
        "exchange_router_canary": {
            "enabled": True,
            "steps": STEPS,
            "interval": PAUSE,
            "window": 10,
            "min_requests": 10,
            "success_rate_min": SUCCESS_RATE_MIN,
            "prometheus_url": url,
        },
    }
    hosts = {
        ns: {
            "exchange_router_namespace": ns,
            "exchange_router_httproute": {
                "enabled": True,
                "parent_refs": [{"name": GATEWAY, "namespace": ns}],
                "hostnames": [f"{ns}.bench.test"],
            },
        }
        for ns in names
    }
    return {"all": {"hosts": hosts, "vars": common}}


def gateways(names: list[str]) -> list[dict[str, Any]]:
    """A GatewayClass and one Gateway per namespace, which no controller runs (RouteWatch
    accepts the routes)."""
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": GROUP_VERSION,
            "kind": "GatewayClass",
            "metadata": {"name": "xr-bench-fake"},
            "spec": {"controllerName": CONTROLLER},
        }
    ]
    listener = {"name": "web", "protocol": "HTTP", "port": 80}
    objs += [
        {
            "apiVersion": GROUP_VERSION,
            "kind": "Gateway",
            "metadata": {"name": GATEWAY, "namespace": ns},
            "spec": {"gatewayClassName": "xr-bench-fake", "listeners": [listener]},
        }
        for ns in names
    ]
    return objs


def install_crds(b: Bench) -> bool:
    """Apply the Gateway API CRDs; whether they were missing before (then the row removes them
    again: the shared cluster's discovery stays as the other rows measure it)."""
    crds = b.args.gateway_api_crds
    if not crds:
        raise RuntimeError("no Gateway API CRDs (bench/run.sh passes --gateway-api-crds)")
    missing = not b.cluster.kubectl(
        "get", "crd", "httproutes.gateway.networking.k8s.io", "-o", "name", "--ignore-not-found"
    ).strip()
    b.cluster.kubectl("apply", "--server-side", "--field-manager=xr-bench-setup", "-f", crds)
    b.cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        "crd/httproutes.gateway.networking.k8s.io", "crd/gateways.gateway.networking.k8s.io",
    )  # fmt: skip
    return missing


def playbook(b: Bench, inventory: str, tag: str) -> subprocess.Popen[str]:
    argv = [PLAYBOOK, "playbooks/deploy.yml", "-i", inventory, "-f", str(b.args.forks)]
    if tag != DEFAULT_TAG:
        argv += ["-e", f"exchange_router_image={image(tag)}"]
    return subprocess.Popen(
        argv, cwd=ROOT, env=b.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(b: Bench, proc: subprocess.Popen[str], what: str) -> tuple[int, str]:
    """The deploy's exit code and output (kept in the work dir as canary-<what>.log)."""
    try:
        out, _err = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _err = proc.communicate()
        raise RuntimeError(f"{what} did not end within {DEADLINE}s:\n{out[-1500:]}") from None
    finally:
        (b.work / f"canary-{what.replace(' ', '-')}.log").write_text(out or "")
    return proc.returncode, out


def run_canary(b: Bench) -> None:
    """The row: RELEASES namespaces, a plain first deploy, then the abort and the promote cases.
    b.results["canary"] gets the figures."""
    t0 = time.monotonic()
    installed = install_crds(b)
    names = [b.ns("c", f"{k:02d}") for k in range(1, RELEASES + 1)]
    b.cluster.create_namespaces(names, b.run_id)
    b.cluster.kubectl(
        "apply", "--server-side", "--field-manager=xr-bench-setup", "-f", "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": gateways(names)}),
    )  # fmt: skip
    prom = FakePrometheus(names)
    url = prom.start()
    watch = RouteWatch(b.cluster, b.ns("c"))
    watch.start()
    inventory = b.work / "canary-fleet.yml"
    inventory.write_text(yaml.safe_dump(values(names, url)))
    out: dict[str, Any] = {
        "releases": RELEASES,
        "steps": STEPS,
        "forks": b.args.forks,
        "healthy": HEALTHY,
        "failing": FAILING,
        "loadavg_1m_at_start": os.getloadavg()[0],
    }
    b.results["canary"] = out
    try:
        start = time.monotonic()
        code, text = finish(b, playbook(b, str(inventory), DEFAULT_TAG), "first deploy")
        if code:
            raise RuntimeError(f"the fleet's first deploy failed:\n{text[-2000:]}")
        out["first_deploy_seconds"] = time.monotonic() - start
        log(f"canary: first deploy of {RELEASES} releases {out['first_deploy_seconds']:.1f}s")
        out["abort"] = abort_case(b, prom, watch, str(inventory), names)
        out["promote"] = promote_case(b, prom, watch, str(inventory), names)
        out["status_writes"] = watch.status_writes
        out["watch_errors"] = watch.errors
    finally:
        watch.stop()
        prom.stop()
        b.cluster.delete_namespaces(f"{LABEL}={b.run_id}")
        b.cluster.kubectl(
            "delete", "gatewayclass", "xr-bench-fake", "--ignore-not-found", check=False
        )
        if installed:
            b.cluster.kubectl("delete", "-f", b.args.gateway_api_crds, "--wait=false", check=False)
        out["seconds"] = time.monotonic() - t0
    log(f"canary: the row took {out['seconds']:.0f}s")


def _query_figures(queries: list[dict[str, Any]], steps: int) -> dict[str, Any]:
    """What a case's queries were: how many, over how many steps, per step, backends in each."""
    return {
        "queries": len(queries),
        "steps": steps,
        "queries_per_step": len(queries) / steps if steps else None,
        "backends_per_query": sorted({q["backends"] for q in queries}),
    }


def abort_case(b: Bench, prom: FakePrometheus, watch: RouteWatch, inventory: str,
               names: list[str]) -> dict[str, Any]:  # fmt: skip
    prom.switch(False)
    q0, since = len(prom.queries), time.monotonic()
    proc = playbook(b, inventory, "bench-canary-abort")
    last = STEPS[-1]["weight"]
    if not watch.wait(lambda w: all(w.get(n) == last for n in names), DEADLINE):
        proc.kill()
        finish(b, proc, "abort")
        raise RuntimeError(f"the canaries never all reached {last}%: {watch.weights}")
    crossed = prom.switch(True)
    log(f"canary: every route at {last}%; the canaries fail from now on")
    watch.wait(lambda w: all(w.get(n) == 0 for n in names), DEADLINE)
    code, text = finish(b, proc, "abort")
    failed = re.findall(r"^(\S+)\s+:\s+ok=\d+.*\sfailed=(\d+)", text, re.M)
    aborted = sum(1 for _h, n in failed if int(n)) if "Canary of release" in text else 0
    queries = prom.queries[q0:]
    failing = next((q["at"] for q in queries if q["failing"]), None)
    stable = all_stable_at(watch.timeline, names, crossed)
    steps = steps_taken(watch.timeline, since)
    rec = {
        "ok": code != 0 and stable is not None and aborted == RELEASES,
        "exit_code": code,
        "aborted_releases": aborted,
        **_query_figures(queries, steps),
        "crossing_to_stable_seconds": None if stable is None else stable - crossed,
        "failing_check_to_stable_seconds": (
            None if stable is None or failing is None else stable - failing
        ),
        "deploy_seconds": time.monotonic() - since,
    }
    if not rec["ok"]:
        rec["output_tail"] = text[-3000:]
        b.results["failures"].append({"tool": "canary", "step": "abort", **rec})
    log(
        f"canary abort: crossing -> 100% stable {_s(rec['crossing_to_stable_seconds'])}, "
        f"failing check -> stable {_s(rec['failing_check_to_stable_seconds'])}, "
        f"{len(queries)} queries / {steps} steps, {aborted} aborted"
    )
    return rec


def promote_case(b: Bench, prom: FakePrometheus, watch: RouteWatch, inventory: str,
                 names: list[str]) -> dict[str, Any]:  # fmt: skip
    prom.switch(False)
    q0, since = len(prom.queries), time.monotonic()
    code, text = finish(b, playbook(b, inventory, "bench-canary-promote"), "promote")
    queries = prom.queries[q0:]
    last_check = queries[-1]["at"] if queries else None
    stable = None if last_check is None else all_stable_at(watch.timeline, names, last_check)
    steps = steps_taken(watch.timeline, since)
    states = b.cluster.deployment_states(names)
    promoted = sum(1 for s in states.values() if s[0] == image("bench-canary-promote"))
    rec = {
        "ok": code == 0 and stable is not None and promoted == RELEASES,
        "exit_code": code,
        "promoted_releases": promoted,
        **_query_figures(queries, steps),
        "last_check_to_stable_seconds": (
            None if stable is None or last_check is None else stable - last_check
        ),
        "deploy_seconds": time.monotonic() - since,
    }
    if not rec["ok"]:
        rec["output_tail"] = text[-3000:]
        rec["weights"], rec["states"] = dict(watch.weights), states
        b.results["failures"].append({"tool": "canary", "step": "promote", **rec})
    log(
        f"canary promote: last check -> 100% stable {_s(rec['last_check_to_stable_seconds'])}, "
        f"{len(queries)} queries / {steps} steps, deploy {rec['deploy_seconds']:.1f}s"
    )
    return rec


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f}s"
