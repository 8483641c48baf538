"""exchange.platform benchmark: the collection against kubectl, helm and a naive role.

Run through bench/run.sh (`make bench`), which fetches helm/kubectl, starts the local cluster and
passes --kubeconfig and --tools-dir. Every namespace it creates is named xr-bench-<run id>-...
and labelled exchange-platform.bench/run=<run id>; it deletes them again at the end.

Phases, all in one invocation:
  1. warm-up: one deploy per tool (discovery caches, page cache), then one counted sequence per
     tool through bench/apiproxy.py (exact API requests, by path and verb);
  2. timing rounds (--runs): per round one fresh namespace per tool, and in it, timed:
     first deploy, no-op re-deploy, --check --diff, image change (and render: collection vs
     helm template); apiserver_request_total is read before and after every timed run;
  3. scale: the collection into 1/10/50 namespaces in one play (-f --forks); --scale-runs runs
     of 1 and 10, --scale-runs-large of 50 (a 50-namespace run takes ~4.5 min on 2 cores);
  4. profile of the collection (profile_tasks, -vvv log timestamps, importtime, discovery cache);
  5. report: bench/results/latest.{md,json}, bench/results/scale.png, BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apiproxy import CountingProxy, Request

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
VENV_BIN = ROOT / ".venv" / "bin"

TOOLS = ["collection", "kubectl", "helm", "naive"]
SHORT = {"collection": "col", "kubectl": "kub", "helm": "hlm", "naive": "nai"}
DEPLOY_STEPS = ["first", "noop", "check", "change"]
STEPS = [*DEPLOY_STEPS, "render"]
STEP_TITLES = {
    "first": "1. first deploy (until rolled out)",
    "noop": "2. no-op re-deploy",
    "check": "3. check / diff, unchanged",
    "change": "4. image tag change (until rolled out)",
    "render": "5. render only",
}
IMAGE_REPO = "jogeshwar01/exchange-router"
DEFAULT_TAG = "ed9f044dc79ee713da9518648524e0c68a70ddf7"
RELEASE = "exchange-router"
DEPLOYMENT = "exchange-router-deployment"
FIELD_MANAGER = "xr-bench-kubectl"
LABEL = "exchange-platform.bench/run"
SECRET_DATA = {
    "server_addr": "0.0.0.0:8080",
    "database_url": "postgres://bench:bench@db.invalid:5432/exchange",
    "redis_url": "redis://redis.invalid:6379/0",
}
# Resources whose apiserver_request_total counters are read (the ones a deploy touches or
# causes); and the objects a deploy of the release writes.
METRIC_RESOURCES = {
    "deployments",
    "replicasets",
    "pods",
    "services",
    "horizontalpodautoscalers",
    "secrets",
    "leases",
    "events",
}
VERSION_ORDER = [
    "collection commit", "ansible-core", "kubernetes.core", "kubernetes (Python)", "Python",
    "kube-apiserver", "kubectl", "helm",
]  # fmt: skip
LARGE_SCALE = 50  # scale sizes from here on run --scale-runs-large times
WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"}
READ_VERBS = {"GET", "LIST", "WATCH", "WATCHLIST"}
DISCOVERY_RE = re.compile(
    r"^/(?:api|apis|version|api/v1|apis/[^/]+|apis/[^/]+/[^/]+|openapi/.*)/?$"
)
GOALS = {
    "noop": 1.5,  # no-op re-deploy <= 1.5x helm's
    "first": 2.0,  # first deploy <= 2x helm's
    "check": 1.5,  # check-mode diff <= 1.5x helm's no-op upgrade (--dry-run=server)
    "writes_per_object": 2,
    "scale": 10.0,  # 50 namespaces in <= 10x the time of one
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- statistics


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    values = sorted(values)
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return {
        "n": len(values),
        "median": statistics.median(values),
        "min": values[0],
        "max": values[-1],
        "q1": q[0],
        "q3": q[2],
    }


def fmt_s(s: dict[str, Any]) -> str:
    if not s or not s.get("n"):
        return "n/a"
    return f"{s['median']:.2f} [{s['min']:.2f}-{s['max']:.2f}]"


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if not a or not b or not a.get("n") or not b.get("n") or not b["median"]:
        return None
    return a["median"] / b["median"]


def fmt_r(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.1f}x"


# --------------------------------------------------------------------------- the cluster


class Cluster:
    """kubectl for setup/cleanup, and the apiserver's /metrics read with the admin cert."""

    def __init__(self, kubeconfig: str, kubectl: str, env: dict[str, str]) -> None:
        self.kubeconfig, self.kubectl_bin, self.env = kubeconfig, kubectl, env
        cfg = yaml.safe_load(Path(kubeconfig).read_text())
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        url = urlsplit(cluster["server"])
        self.server = cluster["server"]
        self.host, self.port = url.hostname, url.port or 443
        self.ssl = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.ssl.load_cert_chain(user["client-certificate"], user["client-key"])

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            [self.kubectl_bin, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        if check and proc.returncode:
            raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def get(self, path: str) -> bytes:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ssl, timeout=30)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"GET {path}: {resp.status}")
            return body
        finally:
            conn.close()

    def ready(self) -> bool:
        try:
            self.get("/readyz")
            return True
        except (OSError, RuntimeError, http.client.HTTPException):
            return False

    def wait_ready(self, timeout: float = 300) -> None:
        """Wait while the apiserver is down (the shared cluster's outage tests stop it)."""
        if self.ready():
            return
        log("the apiserver does not answer (an outage test?); waiting for it")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(2)
            if self.ready():
                log("the apiserver is back")
                time.sleep(5)  # let the controllers' informers reconnect
                return
        raise RuntimeError(f"the apiserver did not come back within {timeout:.0f}s")

    def request_totals(self) -> dict[tuple[str, ...], float] | None:
        """apiserver_request_total by (verb, resource, subresource, dry_run, code); None if the
        apiserver does not answer."""
        totals: dict[tuple[str, ...], float] = {}
        pattern = re.compile(r'(\w+)="([^"]*)"')
        try:
            text = self.get("/metrics").decode()
        except (OSError, RuntimeError, http.client.HTTPException):
            return None
        for line in text.splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            labels_part, value = line.rsplit(" ", 1)
            labels = dict(pattern.findall(labels_part))
            key = (
                labels.get("verb", ""),
                labels.get("resource", ""),
                labels.get("subresource", ""),
                labels.get("dry_run", ""),
                labels.get("code", ""),
            )
            totals[key] = totals.get(key, 0.0) + float(value)
        return totals

    def create_namespaces(self, names: list[str], run_id: str) -> None:
        docs = []
        for ns in names:
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": ns, "labels": {LABEL: run_id}},
                }
            )
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "exchange-router-secret", "namespace": ns},
                    "type": "Opaque",
                    "stringData": SECRET_DATA,
                }
            )
        self.kubectl(
            "apply", "--server-side", "--field-manager=xr-bench-setup", "-f", "-",
            stdin=yaml.safe_dump_all(docs),
        )  # fmt: skip

    def delete_namespaces(self, selector: str, wait: float = 240) -> None:
        self.kubectl("delete", "namespace", "-l", selector, "--wait=false", check=False)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not self.kubectl(
                "get", "namespace", "-l", selector, "-o", "name", check=False
            ).strip():
                return
            time.sleep(1)
        log(f"namespaces {selector} still terminating after {wait:.0f}s; going on")

    def deployment_state(self, ns: str) -> tuple[str, int, int, int]:
        out = self.kubectl(
            "-n", ns, "get", "deployment", DEPLOYMENT, "-o",
            "jsonpath={.spec.template.spec.containers[0].image} {.status.updatedReplicas}"
            " {.status.availableReplicas} {.status.replicas}",
            check=False,
        ).split()  # fmt: skip
        if len(out) < 1:
            return ("", 0, 0, 0)
        nums = [int(x) for x in out[1:4]] + [0] * (3 - len(out[1:4]))
        return (out[0], nums[0], nums[1], nums[2])


def classify_metrics(
    before: dict[tuple[str, ...], float] | None, after: dict[tuple[str, ...], float] | None
) -> dict[str, Any]:
    """Deltas of apiserver_request_total, all clients (controllers included)."""
    if before is None or after is None:
        return {"reset": True}
    out: dict[str, Any] = {"reads": 0, "writes": 0, "dry_run_writes": 0, "discovery": 0}
    by_resource: dict[str, dict[str, int]] = defaultdict(lambda: {"reads": 0, "writes": 0})
    for key, value in after.items():
        delta = value - before.get(key, 0.0)
        if delta < 0:
            return {"reset": True}
        if not delta:
            continue
        verb, resource, sub, dry_run, _code = key
        n = int(delta)
        if not resource and (sub in ("api", "apis") or sub.startswith("openapi")):
            out["discovery"] += n
        elif resource in METRIC_RESOURCES:
            if verb in WRITE_VERBS:
                if dry_run:
                    out["dry_run_writes"] += n
                else:
                    out["writes"] += n
                    by_resource[resource]["writes"] += n
            elif verb in READ_VERBS:
                out["reads"] += n
                by_resource[resource]["reads"] += n
    out["by_resource"] = dict(by_resource)
    return out


# --------------------------------------------------------------------------- proxy counting


def resource_of(path: str) -> tuple[str, str | None]:
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "api":
        rest = parts[2:]
    elif parts and parts[0] == "apis":
        rest = parts[3:]
    else:
        return ("(other)", None)
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    if not rest:
        return ("(other)", None)
    return (rest[0] + ("/" + rest[2] if len(rest) > 2 else ""), rest[1] if len(rest) > 1 else None)


def classify_requests(reqs: list[Request]) -> dict[str, Any]:
    """Exact counts of one tool's requests, from the counting proxy."""
    out: dict[str, Any] = {
        "total": len(reqs),
        "reads": 0,
        "writes": 0,
        "dry_run_writes": 0,
        "discovery": 0,
        "watches": 0,
    }
    discovery: Counter[str] = Counter()
    writes_by_resource: Counter[str] = Counter()
    reads_by_resource: Counter[str] = Counter()
    agents: Counter[str] = Counter()
    for r in reqs:
        agents[r.agent.split(" ")[0]] += 1
        if r.method == "GET" and DISCOVERY_RE.match(r.path):
            out["discovery"] += 1
            discovery[r.path] += 1
            continue
        resource, _name = resource_of(r.path)
        if r.method in WRITE_VERBS:
            if "dryRun=All" in r.query:
                out["dry_run_writes"] += 1
            else:
                out["writes"] += 1
                writes_by_resource[resource] += 1
        else:
            out["reads"] += 1
            reads_by_resource[resource] += 1
            if "watch=" in r.query and "watch=false" not in r.query:
                out["watches"] += 1
    out["discovery_paths"] = dict(discovery)
    out["repeated_discovery"] = {p: n for p, n in discovery.items() if n > 1}
    out["writes_by_resource"] = dict(writes_by_resource)
    out["reads_by_resource"] = dict(reads_by_resource)
    out["max_writes_per_object"] = max(writes_by_resource.values(), default=0)
    out["agents"] = dict(agents)
    out["requests"] = [
        f"{r.method} {r.path}{'?' + r.query if r.query else ''} -> {r.status}" for r in reqs
    ]
    return out


# --------------------------------------------------------------------------- the tools


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = secrets.token_hex(3)
        self.work = Path(tempfile.mkdtemp(prefix=f"xr-bench-{self.run_id}-"))
        self.helm = str(Path(args.tools_dir) / "helm")
        self.kubectl = str(Path(args.tools_dir) / "kubectl")
        self.env = dict(os.environ)
        self.env.update(
            {
                "PATH": f"{VENV_BIN}:{self.env.get('PATH', '')}",
                "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_LOCALHOST_WARNING": "False",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
                "KUBECONFIG": args.kubeconfig,
                "K8S_AUTH_KUBECONFIG": args.kubeconfig,
                "KUBECACHEDIR": str(self.work / "kube-cache"),
                "HELM_CACHE_HOME": str(self.work / "helm" / "cache"),
                "HELM_CONFIG_HOME": str(self.work / "helm" / "config"),
                "HELM_DATA_HOME": str(self.work / "helm" / "data"),
            }
        )
        for var in ("ANSIBLE_CALLBACKS_ENABLED", "ANSIBLE_LOG_PATH", "ANSIBLE_STDOUT_CALLBACK"):
            self.env.pop(var, None)
        self.cluster = Cluster(args.kubeconfig, self.kubectl, self.env)
        self.template_manifests: list[dict[str, Any]] = []
        self.results: dict[str, Any] = {
            "run_id": self.run_id,
            "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "args": {k: v for k, v in vars(args).items() if k not in ("kubeconfig",)},
            "timed": [],
            "counted": {},
            "cold_discovery": {},
            "scale": [],
            "failures": [],
            "discarded": [],
            "repeated": [],
            "notes": [],
        }

    # ---- helpers -------------------------------------------------------------------------

    def ns(self, *parts: object) -> str:
        return "-".join(["xr-bench", self.run_id, *map(str, parts)])

    def image(self, tag: str) -> str:
        return f"{IMAGE_REPO}:{tag}"

    def render_collection(self, out: Path, ns: str, env: dict[str, str] | None = None) -> None:
        shutil.rmtree(out, ignore_errors=True)
        proc = subprocess.run(
            [
                str(VENV_BIN / "ansible-playbook"), "playbooks/render.yml",
                "-e", f"exchange_router_render_dir={out}", "-e", f"exchange_router_namespace={ns}",
            ],
            cwd=ROOT, env=env or self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode:
            raise RuntimeError(f"render failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")

    def kubectl_manifests(self, ns: str, tag: str) -> Path:
        """The collection's rendered defaults, for namespace ns and image tag (kubectl's input)."""
        out = self.work / "manifests" / f"{ns}-{tag}"
        if out.exists():
            return out
        out.mkdir(parents=True)
        for doc in self.template_manifests:
            doc = json.loads(json.dumps(doc))
            doc["metadata"]["namespace"] = ns
            if doc["kind"] == "Deployment":
                doc["spec"]["template"]["spec"]["containers"][0]["image"] = self.image(tag)
            (out / f"{doc['kind'].lower()}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        return out

    def commands(self, tool: str, step: str, ns: str, tag: str) -> list[tuple[list[str], set[int]]]:
        """The commands of one measured run: (argv, accepted exit codes)."""
        playbook = str(VENV_BIN / "ansible-playbook")
        if tool == "collection":
            if step == "render":
                out = self.work / "render" / ns
                shutil.rmtree(out, ignore_errors=True)
                return [
                    (
                        [
                            playbook, "playbooks/render.yml",
                            "-e", f"exchange_router_render_dir={out}",
                            "-e", f"exchange_router_namespace={ns}",
                        ],
                        {0},
                    )
                ]  # fmt: skip
            argv = [playbook, "playbooks/deploy.yml", "-e", f"exchange_router_namespace={ns}"]
            if tag != DEFAULT_TAG:
                argv += ["-e", f"exchange_router_image={self.image(tag)}"]
            if step == "check":
                argv += ["--check", "--diff"]
            return [(argv, {0})]
        if tool == "naive":
            if step == "render":
                return []
            argv = [playbook, "bench/naive.yml", "-e", f"naive_namespace={ns}"]
            if tag != DEFAULT_TAG:
                argv += ["-e", f"naive_image={self.image(tag)}"]
            if step == "check":
                argv += ["--check", "--diff"]
            return [(argv, {0})]
        if tool == "kubectl":
            if step == "render":
                return []
            manifests = str(self.kubectl_manifests(ns, tag))
            if step == "check":
                return [
                    (
                        [
                            self.kubectl, "diff", "--server-side",
                            f"--field-manager={FIELD_MANAGER}", "--force-conflicts",
                            "-f", manifests,
                        ],
                        {0, 1},
                    )
                ]  # fmt: skip
            return [
                (
                    [
                        self.kubectl, "apply", "--server-side", f"--field-manager={FIELD_MANAGER}",
                        "--force-conflicts", "-f", manifests,
                    ],
                    {0},
                ),
                (
                    [
                        self.kubectl, "-n", ns, "rollout", "status", f"deployment/{DEPLOYMENT}",
                        "--timeout=300s",
                    ],
                    {0},
                ),
            ]  # fmt: skip
        if tool == "helm":
            chart = str(BENCH / "chart")
            if step == "render":
                out = self.work / "helm-render" / ns
                shutil.rmtree(out, ignore_errors=True)
                return [
                    (
                        [self.helm, "template", RELEASE, chart, "-n", ns, "--output-dir", str(out)],
                        {0},
                    )
                ]
            argv = [self.helm, "upgrade", "--install", RELEASE, chart, "-n", ns]
            if tag != DEFAULT_TAG:
                argv += ["--set", f"image.tag={tag}"]
            if step == "check":
                argv += ["--dry-run=server"]
            else:
                argv += ["--wait", "--timeout", "300s"]
            return [(argv, {0})]
        raise ValueError(tool)

    def execute(
        self,
        tool: str,
        step: str,
        ns: str,
        tag: str,
        env: dict[str, str] | None = None,
        metrics: bool = False,
    ) -> dict[str, Any]:
        """Run one measured step; seconds cover every command of the step, nothing else.

        With metrics, apiserver_request_total is read right before and after the commands (so
        the check that follows, done with kubectl, is not counted)."""
        cmds = self.commands(tool, step, ns, tag)
        outputs = []
        ok = True
        before = self.cluster.request_totals() if metrics else {}
        start = time.perf_counter()
        for argv, codes in cmds:
            proc = subprocess.run(
                argv, cwd=ROOT, env=env or self.env, capture_output=True, text=True, check=False
            )
            outputs.append(proc.stdout + proc.stderr)
            if proc.returncode not in codes:
                ok = False
                break
        seconds = time.perf_counter() - start
        rec: dict[str, Any] = {"tool": tool, "step": step, "ns": ns, "seconds": seconds, "ok": ok}
        if metrics:
            rec["metrics"] = classify_metrics(before, self.cluster.request_totals())
        text = "\n".join(outputs)
        changed = re.findall(r"^\S+\s+:\s+ok=\d+\s+changed=(\d+)", text, re.M)
        if changed:
            rec["changed"] = sum(int(c) for c in changed)
        if tool == "kubectl" and step == "check":
            rec["changed"] = 0 if text.strip() == "" else 1
        if ok and step in ("first", "change"):
            # The step must have rolled out the expected image.
            image, updated, available, replicas = self.cluster.deployment_state(ns)
            if image != self.image(tag) or available < 1 or updated != replicas:
                ok = rec["ok"] = False
                text += f"\nverify: image={image} updated={updated} available={available}"
        if not ok:
            rec["output_tail"] = text[-3000:]
            self.results["failures"].append(rec)
            log(f"FAILED {tool} {step} in {ns}:\n{text[-1500:]}")
        return rec

    # ---- phases --------------------------------------------------------------------------

    def preflight(self) -> None:
        log(f"run id {self.run_id}, work dir {self.work}")
        stale = self.cluster.kubectl("get", "namespace", "-l", LABEL, "-o", "name", check=False)
        if stale.strip():
            log("deleting namespaces left by an earlier benchmark run: " + " ".join(stale.split()))
            self.cluster.delete_namespaces(LABEL)
        # The objects every tool deploys: the collection's render of its defaults.
        render = self.work / "template-render"
        self.render_collection(render, "xr-bench-placeholder")
        self.template_manifests = [
            yaml.safe_load(p.read_text()) for p in sorted(render.glob("*.yaml"))
        ]
        kinds = sorted(d["kind"] for d in self.template_manifests)
        # The chart must render the same objects.
        helm_out = subprocess.run(
            [self.helm, "template", RELEASE, str(BENCH / "chart"), "-n", "xr-bench-placeholder"],
            env=self.env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        chart = {d["kind"]: d for d in yaml.safe_load_all(helm_out) if d}
        role = {d["kind"]: d for d in self.template_manifests}
        same = chart == role
        self.results["chart_matches_role"] = same
        if not same:
            note = (
                "bench/chart no longer renders exactly what the role renders by default "
                f"(role: {kinds}, chart: {sorted(chart)}); update bench/chart and "
                "bench/templates/naive-*.j2"
            )
            self.results["notes"].append(note)
            log("WARNING: " + note)
        self.results["versions"] = self.versions()
        self.results["machine"] = machine()
        self.results["code_at_start"] = code_fingerprint()

    def versions(self) -> dict[str, str]:
        def out(argv: list[str]) -> str:
            try:
                return subprocess.run(
                    argv, capture_output=True, text=True, env=self.env, cwd=ROOT, check=False
                ).stdout.strip()
            except OSError:
                return "?"

        k8s_core = json.loads(
            (
                Path(
                    out([str(VENV_BIN / "python"), "-c",
                         "import ansible_collections.kubernetes.core as m; print(m.__path__[0])"])
                )
                / "MANIFEST.json"
            ).read_text()
        )["collection_info"]["version"]  # fmt: skip
        server = json.loads(self.cluster.get("/version"))
        commit = out(["git", "rev-parse", "--short", "HEAD"])
        dirty = out(["git", "status", "--porcelain", "--", "roles", "plugins", "playbooks"])
        return {
            "collection commit": commit + (" + uncommitted changes" if dirty else ""),
            "ansible-core": out([str(VENV_BIN / "python"), "-c",
                                 "import ansible.release as r; print(r.__version__)"]),
            "kubernetes.core": k8s_core,
            "kubernetes (Python)": out([str(VENV_BIN / "python"), "-c",
                                        "import kubernetes; print(kubernetes.__version__)"]),
            "Python": platform.python_version(),
            "kube-apiserver": server.get("gitVersion", "?"),
            "kubectl": out([self.kubectl, "version", "--client", "-o", "json"]).split(
                '"gitVersion": "')[-1].split('"')[0],
            "helm": out([self.helm, "version", "--short"]),
        }  # fmt: skip

    def warmup_and_count(self) -> None:
        """Untimed: warm every tool's caches, then count each tool's requests exactly."""
        log("warm-up: one first deploy per tool (discovery caches, page cache)")
        warm = {t: self.ns(SHORT[t], "warm") for t in TOOLS}
        counted = {t: self.ns(SHORT[t], "count") for t in TOOLS}
        self.cluster.create_namespaces(list(warm.values()) + list(counted.values()), self.run_id)
        for tool in TOOLS:
            self.execute(tool, "first", warm[tool], DEFAULT_TAG)
            self.execute(tool, "render", warm[tool], DEFAULT_TAG)
        proxy = CountingProxy(self.args.kubeconfig, str(self.work))
        proxy.start()
        penv = dict(self.env, KUBECONFIG=proxy.kubeconfig, K8S_AUTH_KUBECONFIG=proxy.kubeconfig)
        penv["KUBECACHEDIR"] = str(self.work / "kube-cache-proxy")
        try:
            log("counting API requests per tool through the counting proxy")
            for tool in TOOLS:
                # The proxy's address is new to every discovery cache (they are per server):
                # this no-op re-deploy shows a cold cache, and warms it for the counted runs.
                # naive shares kubernetes.core's cache (per server and user) with the collection.
                if tool != "naive":
                    mark = proxy.mark()
                    rec = self.execute(tool, "noop", warm[tool], DEFAULT_TAG, env=penv)
                    self.results["cold_discovery"][tool] = classify_requests(proxy.since(mark)) | {
                        "seconds": rec["seconds"]
                    }
                for attempt in self.attempts(f"counted runs of {tool}"):
                    ns = counted[tool] + ("" if attempt == 1 else f"-a{attempt}")
                    if attempt > 1:
                        self.cluster.create_namespaces([ns], self.run_id)
                    self.results["counted"][tool] = {}
                    for step in DEPLOY_STEPS:
                        tag = "bench-count" if step == "change" else DEFAULT_TAG
                        mark = proxy.mark()
                        rec = self.execute(tool, step, ns, tag, env=penv)
                        self.results["counted"][tool][step] = classify_requests(
                            proxy.since(mark)
                        ) | {"ok": rec["ok"]}
                        if not rec["ok"]:
                            break
                    if all(c["ok"] for c in self.results["counted"][tool].values()):
                        break
        finally:
            proxy.stop()
            # kubernetes.core's discovery cache for the proxy's one-off address.
            discovery_cache_path(f"https://127.0.0.1:{proxy.port}").unlink(missing_ok=True)

    def idle_baseline(self, seconds: float = 10.0) -> None:
        log(f"idle baseline: apiserver_request_total over {seconds:.0f}s with no tool running")
        for _attempt in self.attempts("the idle baseline"):
            before = self.cluster.request_totals()
            time.sleep(seconds)
            delta = classify_metrics(before, self.cluster.request_totals())
            if not delta.get("reset"):
                break
        self.results["idle_per_second"] = {
            k: delta.get(k, 0) / seconds for k in ("reads", "writes", "discovery")
        }

    def attempts(self, what: str, tries: int = 3) -> Iterator[int]:
        """Attempt numbers for work that an apiserver outage or a failure may spoil; the caller
        breaks out when an attempt succeeds."""
        for attempt in range(1, tries + 1):
            self.cluster.wait_ready()
            if attempt > 1:
                log(f"{what}: repeating it in a fresh namespace (attempt {attempt})")
                self.results["repeated"].append(what)
            yield attempt
        log(f"{what}: still failing after {tries} attempts; left out")

    def tool_round(self, tool: str, i: int) -> None:
        """One tool's steps in a fresh namespace; repeated whole if any step failed or the
        apiserver restarted meanwhile (its counters reset)."""
        for attempt in self.attempts(f"round {i} of {tool}"):
            ns = self.ns(SHORT[tool], i) + ("" if attempt == 1 else f"-a{attempt}")
            self.cluster.create_namespaces([ns], self.run_id)
            recs = []
            for step in STEPS:
                if not self.commands(tool, step, ns, DEFAULT_TAG):
                    continue
                tag = f"bench-{i}" if step == "change" else DEFAULT_TAG
                rec = self.execute(tool, step, ns, tag, metrics=True)
                rec["round"] = i
                recs.append(rec)
                status = "" if rec["ok"] else " FAILED"
                if rec["metrics"].get("reset"):
                    status += " (apiserver restarted)"
                log(f"  {tool:10} {step:6} {rec['seconds']:6.2f}s{status}")
                if not rec["ok"] or rec["metrics"].get("reset"):
                    break
            if all(r["ok"] and not r["metrics"].get("reset") for r in recs):
                self.results["timed"].extend(recs)
                return
            self.results["discarded"].extend(recs)

    def timed_rounds(self) -> None:
        runs = self.args.runs
        for i in range(1, runs + 1):
            self.results.setdefault("other_tenants", []).append(self.other_tenants())
            order = TOOLS[(i - 1) % len(TOOLS) :] + TOOLS[: (i - 1) % len(TOOLS)]
            log(f"round {i}/{runs}: {' '.join(order)}")
            for tool in order:
                self.tool_round(tool, i)
        log("deleting the timing namespaces")
        self.cluster.delete_namespaces(LABEL + "=" + self.run_id)

    def other_tenants(self) -> dict[str, Any]:
        """Other users of the shared cluster/machine during a round: they add noise."""
        names = self.cluster.kubectl("get", "namespace", "-o", "name", check=False).split()
        return {
            "xr_it_namespaces": sum(1 for n in names if n.startswith("namespace/xr-it-")),
            "loadavg_1m": os.getloadavg()[0],
        }

    def scale(self) -> None:
        sizes, runs = self.args.scale_sizes, self.args.scale_runs
        large = self.args.scale_runs_large
        for r in range(1, max(runs, large) + 1):
            for n in sizes:
                if r <= (large if n >= LARGE_SCALE else runs):
                    self.scale_run(n, r)

    def scale_run(self, n: int, r: int) -> None:
        for attempt in self.attempts(f"scale run {r} of {n} namespaces"):
            suffix = "" if attempt == 1 else f"a{attempt}-"
            names = [self.ns("s", n, r, f"{suffix}{k:02d}") for k in range(1, n + 1)]
            self.cluster.create_namespaces(names, self.run_id)
            inventory = self.work / f"scale-{n}-{r}-{attempt}.yml"
            hosts = {ns: {"exchange_router_namespace": ns} for ns in names}
            inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
            recs = []
            for step in ("first", "noop"):
                argv = [
                    str(VENV_BIN / "ansible-playbook"), "playbooks/deploy.yml",
                    "-i", str(inventory), "-e", "exchange_router_hosts=all",
                    "-f", str(self.args.forks),
                ]  # fmt: skip
                before = self.cluster.request_totals()
                start = time.perf_counter()
                proc = subprocess.run(
                    argv, cwd=ROOT, env=self.env, capture_output=True, text=True, check=False
                )
                seconds = time.perf_counter() - start
                after = self.cluster.request_totals()
                recap = re.findall(
                    r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+).*failed=(\d+)", proc.stdout, re.M
                )
                ok = proc.returncode == 0 and len(recap) == n
                rec = {
                    "namespaces": n, "run": r, "step": step, "seconds": seconds, "ok": ok,
                    "changed_hosts": sum(1 for _h, c, _f in recap if int(c)),
                    "metrics": classify_metrics(before, after),
                    "loadavg_1m": os.getloadavg()[0],
                }  # fmt: skip
                recs.append(rec)
                if not ok:
                    rec["output_tail"] = (proc.stdout + proc.stderr)[-3000:]
                    self.results["failures"].append(rec)
                    log(f"FAILED scale {n} {step}:\n{rec['output_tail'][-1500:]}")
                log(f"scale {n:3} namespaces run {r} {step:5} {seconds:7.2f}s")
                if not ok or rec["metrics"].get("reset"):
                    break
            self.cluster.delete_namespaces(LABEL + "=" + self.run_id)
            if all(x["ok"] and not x["metrics"].get("reset") for x in recs):
                self.results["scale"].extend(recs)
                return
            self.results["discarded"].extend(recs)

    # ---- profile -------------------------------------------------------------------------

    def profile(self) -> None:
        for attempt in self.attempts("the profile"):
            try:
                self.profile_once(attempt)
                return
            except (RuntimeError, subprocess.CalledProcessError) as e:
                log(f"profile failed: {str(e)[-1500:]}")

    def profile_once(self, attempt: int) -> None:
        log("profiling the collection: startup, per-task, module packaging/execution, imports")
        prof: dict[str, Any] = {}
        ns_first = self.ns("prof", attempt)
        self.cluster.create_namespaces([ns_first], self.run_id)
        # (a) ansible-playbook startup + teardown: a play with no task, same config.
        empty = [
            self.timed([str(VENV_BIN / "ansible-playbook"), "bench/profile/empty.yml"])
            for _run in range(3)
        ]
        prof["empty_playbook"] = summary(empty)
        # (b) per-module cost: 5 x ping (AnsiballZ only) and 5 x k8s_info (plus the kubernetes
        # client, its configuration, the discovery cache and one GET), as loops of one task.
        out = self.run_profiled(["bench/profile/modules.yml"], "modules")
        prof["modules"] = out
        # (c) the role: first deploy and no-op re-deploy, with profile_tasks and -vvv timestamps.
        for step, extra in (("first", []), ("noop", [])):
            prof[step] = self.run_profiled(
                ["playbooks/deploy.yml", "-e", f"exchange_router_namespace={ns_first}", *extra],
                step,
            )
        # (d) import time of what a kubernetes.core module imports.
        prof["imports"] = self.import_profile()
        # (e) the discovery cache kubernetes.core keeps per server and user.
        prof["discovery_cache"] = self.discovery_cache()
        # (f) what if: the no-op re-deploy with pipelining (no temp dir, no file per module).
        deploy = [
            str(VENV_BIN / "ansible-playbook"),
            "playbooks/deploy.yml",
            "-e",
            f"exchange_router_namespace={ns_first}",
        ]
        plain, piped = [], []
        for _run in range(3):
            plain.append(self.timed(deploy))
            piped.append(self.timed(deploy, ANSIBLE_PIPELINING="True"))
        prof["noop_plain"], prof["noop_pipelining"] = summary(plain), summary(piped)
        self.results["profile"] = prof
        self.cluster.delete_namespaces(LABEL + "=" + self.run_id)

    def timed(self, argv: list[str], **env: str) -> float:
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=self.env | env, capture_output=True, check=True)
        return time.perf_counter() - start

    def run_profiled(self, args: list[str], name: str) -> dict[str, Any]:
        logfile = self.work / f"profile-{name}.log"
        env = dict(
            self.env,
            ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
            PROFILE_TASKS_TASK_OUTPUT_LIMIT="100",
            PROFILE_TASKS_SORT_ORDER="none",
            ANSIBLE_LOG_PATH=str(logfile),
        )
        t0 = time.time()
        proc = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-vvv", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        t1 = time.time()
        if proc.returncode:
            raise RuntimeError(f"profiled run {name} failed:\n{proc.stdout[-2000:]}")
        # The same run without -vvv and the callback, for the undisturbed wall time.
        plain = self.timed([str(VENV_BIN / "ansible-playbook"), *args]) if name == "noop" else None
        parsed = parse_vvv_log(logfile.read_text(), t0, t1)
        parsed["profile_tasks"] = parse_profile_tasks(proc.stdout)
        if plain is not None:
            parsed["plain_seconds"] = plain
        shutil.copy(logfile, RESULTS / f"profile-{name}.log") if self.args.keep_logs else None
        return parsed

    def import_profile(self) -> dict[str, Any]:
        code = (
            "import ansible.module_utils.basic\n"
            "import ansible_collections.kubernetes.core.plugins.module_utils.k8s.runner\n"
            "import ansible_collections.kubernetes.core.plugins.module_utils.k8s.client\n"
        )
        py = str(VENV_BIN / "python")
        bare = [self.timed([py, "-c", "pass"]) for _run in range(3)]
        full = [self.timed([py, "-c", code]) for _run in range(3)]
        proc = subprocess.run(
            [py, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        cumulative: dict[str, int] = {}
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
            if m:
                cumulative[m.group(4)] = max(cumulative.get(m.group(4), 0), int(m.group(2)))
        top = {
            k: cumulative.get(k, 0) / 1e6
            for k in (
                "ansible.module_utils.basic",
                "kubernetes",
                "kubernetes.client.models",
                "kubernetes.client.api",
                "kubernetes.dynamic",
                "urllib3",
                "yaml",
                "ansible_collections.kubernetes.core.plugins.module_utils.k8s.runner",
            )
        }
        return {
            "python_startup": statistics.median(bare),
            "python_with_imports": statistics.median(full),
            "imports_only": statistics.median(full) - statistics.median(bare),
            "cumulative_seconds": top,
        }

    def discovery_cache(self) -> dict[str, Any]:
        path = discovery_cache_path(self.cluster.server)
        info: dict[str, Any] = {"path": str(path), "exists": path.exists()}
        if path.exists():
            start = time.perf_counter()
            data = json.loads(path.read_text())
            info["load_seconds"] = time.perf_counter() - start
            info["bytes"] = path.stat().st_size
            groups = data.get("resources", {})
            info["group_versions_cached"] = sum(
                len(v) for prefix in groups.values() for v in prefix.values()
            )
        return info

    # ---- main ----------------------------------------------------------------------------

    def run(self) -> None:
        t0 = time.monotonic()
        try:
            self.preflight()
            self.warmup_and_count()
            self.cluster.delete_namespaces(LABEL + "=" + self.run_id)
            self.idle_baseline()
            self.timed_rounds()
            if not self.args.skip_scale:
                self.scale()
            if not self.args.skip_profile:
                self.profile()
        finally:
            with contextlib.suppress(Exception):
                self.cluster.delete_namespaces(LABEL + "=" + self.run_id, wait=120)
            if not self.args.keep_work:
                shutil.rmtree(self.work, ignore_errors=True)
        self.results["elapsed_seconds"] = time.monotonic() - t0
        self.results["code_at_end"] = code_fingerprint()
        report(self.results, self.args)


def discovery_cache_path(server: str) -> Path:
    """The file kubernetes.core caches discovery in: sha256 of "<server>-<user>", with the user
    found as it finds it (login name, else a non-zero uid, else $USERNAME)."""
    user = None
    with contextlib.suppress(OSError):
        user = os.getlogin() or None
    if not user and os.getuid():
        user = str(os.getuid())
    user = user or os.environ.get("USERNAME")
    cache_id = f"{server}-{user}" if user else server
    digest = hashlib.sha256(cache_id.encode()).hexdigest()
    return Path(tempfile.gettempdir()) / f"k8srcp-{digest}.json"


def code_fingerprint() -> dict[str, str]:
    """The commit and a hash of the collection's code as it is on disk (committed or not)."""
    digest = hashlib.sha256()
    for top in ("roles", "plugins", "playbooks"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
        check=False,
    ).stdout.strip()  # fmt: skip
    return {"commit": commit or "?", "content": digest.hexdigest()[:16]}


# --------------------------------------------------------------------------- log parsing

LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) p=\d+ u=\S+ n=\S+ \S+\| (.*)$")


def parse_vvv_log(text: str, t0: float, t1: float) -> dict[str, Any]:
    """Phases of each task from an ansible -vvv log with timestamps (ANSIBLE_LOG_PATH)."""
    events: list[tuple[float, str]] = []
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if m:
            ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            events.append((ts, m.group(2)))
    tasks: list[dict[str, Any]] = []
    play_start = recap = None
    current: dict[str, Any] | None = None
    for ts, msg in events:
        if msg.startswith("PLAY [") and play_start is None:
            play_start = ts
        if msg.startswith("TASK [") or msg.startswith("PLAY RECAP"):
            if current:
                current["end"] = ts
                tasks.append(current)
            current = None
            if msg.startswith("TASK ["):
                name = msg[len("TASK [") :].rsplit("]", 1)[0]
                current = {"name": name.split(" : ", 1)[-1], "start": ts, "modules": []}
            else:
                recap = ts
            continue
        if current is None or not msg.startswith("<"):
            continue
        if "echo ~" in msg:
            current["modules"].append({"begin": ts})
        elif "mkdir" in msg and current["modules"]:
            current["modules"][-1]["mkdir"] = ts
        elif " PUT " in msg and current["modules"]:
            current["modules"][-1]["put"] = ts
        elif "AnsiballZ_" in msg and "EXEC" in msg and "chmod" not in msg and current["modules"]:
            current["modules"][-1]["exec"] = ts
            current["modules"][-1]["module"] = re.search(r"AnsiballZ_(\w+)\.py", msg).group(1)
        elif "rm -f -r" in msg and current["modules"]:
            current["modules"][-1]["done"] = ts
    out_tasks = []
    totals = Counter()
    for t in tasks:
        dur = t["end"] - t["start"]
        row = {"name": t["name"], "seconds": dur, "module_runs": len(t["modules"])}
        pack = exe = 0.0
        row["packaging_runs"] = []
        for m in t["modules"]:
            if "put" in m and "begin" in m:
                pack += m["put"] - m["begin"]
                row["packaging_runs"].append(m["put"] - m["begin"])
            if "exec" in m and "done" in m:
                exe += m["done"] - m["exec"]
            row["module"] = m.get("module", "?")
        row["packaging"], row["execution"] = pack, exe
        row["controller"] = dur - pack - exe
        out_tasks.append(row)
        totals["tasks"] += 1
        totals["module_runs"] += len(t["modules"])
        totals["packaging"] += pack
        totals["execution"] += exe
        totals["controller"] += dur - pack - exe
        totals["skipped_or_controller_only_tasks"] += 0 if t["modules"] else 1
    first_task = tasks[0]["start"] if tasks else t0
    return {
        "wall_seconds": t1 - t0,
        "startup": (play_start or first_task) - t0,
        "play_setup": first_task - (play_start or first_task),
        "teardown": t1 - (recap or t1),
        "tasks": out_tasks,
        "totals": dict(totals),
    }


def parse_profile_tasks(stdout: str) -> list[tuple[str, float]]:
    rows = []
    for line in stdout.splitlines():
        m = re.match(r"^(.*?) -{2,} (\d+\.\d+)s$", line.strip())
        if m:
            rows.append((m.group(1).split(" : ", 1)[-1], float(m.group(2))))
    return rows


# --------------------------------------------------------------------------- report


def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "os": platform.platform(terse=True),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def timing_summaries(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for step in STEPS:
        table[step] = {}
        for tool in TOOLS:
            vals = [
                r["seconds"]
                for r in results["timed"]
                if r["tool"] == tool and r["step"] == step and r["ok"]
            ]
            table[step][tool] = summary(vals)
    return table


def metric_summaries(results: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    idle = results.get("idle_per_second", {})
    out: dict[str, dict[str, dict[str, float]]] = {}
    for step in DEPLOY_STEPS:
        out[step] = {}
        for tool in TOOLS:
            rows = [
                r for r in results["timed"]
                if r["tool"] == tool and r["step"] == step and r["ok"]
                and not r["metrics"].get("reset")
            ]  # fmt: skip
            if not rows:
                continue
            out[step][tool] = {
                k: statistics.median(
                    max(0.0, r["metrics"][k] - idle.get(k, 0) * r["seconds"]) for r in rows
                )
                for k in ("reads", "writes", "discovery")
            } | {"dry_run_writes": statistics.median(r["metrics"]["dry_run_writes"] for r in rows)}
    return out


def scale_summaries(results: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    out: dict[str, dict[int, dict[str, Any]]] = {"first": {}, "noop": {}}
    for step in out:
        for n in sorted({r["namespaces"] for r in results["scale"]}):
            vals = [
                r["seconds"]
                for r in results["scale"]
                if r["namespaces"] == n and r["step"] == step and r["ok"]
            ]
            out[step][n] = summary(vals)
    return out


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    times = timing_summaries(results)
    metrics = metric_summaries(results)
    scale = scale_summaries(results)
    counted = results["counted"]
    results["summary"] = {
        "times": times,
        "metrics": metrics,
        "scale": {k: {str(n): s for n, s in v.items()} for k, v in scale.items()},
    }
    md: list[str] = []
    m, v = results["machine"], results["versions"]
    md += [
        f"Measured {m['date']} on {m['nproc']} cores ({m['cpu']}), {m['memory']} RAM, {m['os']}; "
        f"`make bench` took {results['elapsed_seconds'] / 60:.1f} min. "
        f"Run id `{results['run_id']}`.",
        "",
        "| component | version |",
        "| --- | --- |",
        *[f"| {k} | {v[k]} |" for k in VERSION_ORDER if k in v],
        *[f"| {k} | {val} |" for k, val in v.items() if k not in VERSION_ORDER],
        "",
        f"### Wall time per step (seconds, median [min-max] of {args.runs} runs)",
        "",
        "Each tool deploys the same Deployment + Service + HPA (the role's defaults, secret mode "
        "`existing`) into a fresh namespace per round; tools are interleaved and their order "
        "rotates each round. kubectl applies the collection's rendered manifests (rendering not "
        "timed); helm uses `bench/chart`; naive is `bench/naive.yml`.",
        "",
        "| step | collection | kubectl | helm | naive |",
        "| --- | --- | --- | --- | --- |",
    ]
    commands = {
        "first": "deploy.yml / apply --server-side + rollout status / upgrade --install --wait"
        " / naive.yml",
        "check": "--check --diff / diff --server-side / upgrade --dry-run=server / --check --diff",
        "render": "render.yml / - / helm template / -",
    }
    for step in STEPS:
        md.append(
            f"| {STEP_TITLES[step]} | " + " | ".join(fmt_s(times[step][t]) for t in TOOLS) + " |"
        )
    md += [
        "",
        "What runs: "
        + "; ".join(f"{STEP_TITLES[k].split(' ', 1)[1]}: {c}" for k, c in commands.items())
        + ". helm has no diff without the helm-diff plugin: `helm upgrade --dry-run=server` "
        "is its check equivalent; note that helm 4 then renders and reads the release and the "
        "cluster's discovery, but sends the objects nowhere (no server-side dry-run request, see "
        "the request counts), so it checks less than `kubectl diff` or the collection.",
        "",
        "### Ratios (median / median)",
        "",
        "| step | collection / kubectl | collection / helm | collection / naive |",
        "| --- | --- | --- | --- |",
    ]
    for step in STEPS:
        md.append(
            f"| {STEP_TITLES[step]} | "
            + " | ".join(
                fmt_r(ratio(times[step]["collection"], times[step][t]))
                for t in ("kubectl", "helm", "naive")
            )
            + " |"
        )
    # goals
    col = counted.get("collection", {})
    deploy_counts = [col[s] for s in ("first", "noop", "change") if s in col]
    max_writes = max((c["max_writes_per_object"] for c in deploy_counts), default=None)
    repeated = {s: col[s]["repeated_discovery"] for s in col if col[s]["repeated_discovery"]}
    s1 = scale["first"].get(1, {})
    s50 = scale["first"].get(50, {})
    n1 = scale["noop"].get(1, {})
    n50 = scale["noop"].get(50, {})
    r_first50, r_noop50 = ratio(s50, s1), ratio(n50, n1)
    goals = [
        ("no-op re-deploy ≤ 1.5x helm's",
         ratio(times["noop"]["collection"], times["noop"]["helm"]), GOALS["noop"]),
        ("first deploy ≤ 2x helm's",
         ratio(times["first"]["collection"], times["first"]["helm"]), GOALS["first"]),
        ("check-mode diff ≤ 1.5x helm's no-op upgrade (`--dry-run=server`)",
         ratio(times["check"]["collection"], times["check"]["helm"]), GOALS["check"]),
    ]  # fmt: skip
    md += [
        "",
        "### Goals",
        "",
        "| goal | measured | |",
        "| --- | --- | --- |",
    ]
    for name, r, limit in goals:
        md.append(f"| {name} | {fmt_r(r)} | {met(None if r is None else r <= limit)} |")
    md.append(
        f"| ≤ 2 write requests per object per deploy | max {max_writes} "
        f"(first/no-op/change, counted at the proxy) | "
        f"{met(None if max_writes is None else max_writes <= GOALS['writes_per_object'])} |"
    )
    md.append(
        "| no repeated API discovery within a run | "
        + (
            "none repeated"
            if not repeated
            else "; ".join(
                f"{s}: " + ", ".join(f"{p}x{n}" for p, n in r.items()) for s, r in repeated.items()
            )
        )
        + f" | {met(None if not col else not repeated)} |"
    )
    scale_ok = (
        None
        if r_first50 is None or r_noop50 is None
        else max(r_first50, r_noop50) <= GOALS["scale"]
    )
    md.append(
        f"| 50 namespaces ≤ 10x the time of one | first {fmt_r(r_first50)}, "
        f"no-op {fmt_r(r_noop50)} | {met(scale_ok)} |"
    )
    # API requests
    md += [
        "",
        "### API requests per run, made by the tool (exact, counted at a proxy)",
        "",
        "One untimed run per tool and step through `bench/apiproxy.py`, a TLS proxy that logs "
        "every request of the tool (and no one else's): reads (GET/LIST/WATCH) / writes "
        "(POST/PUT/PATCH/DELETE) / server-side dry-run writes / discovery (`/api`, `/apis`, "
        "`/apis/<group>/<version>`, `/version`, `/openapi`). Discovery caches warm.",
        "",
        "| step | collection | kubectl | helm | naive |",
        "| --- | --- | --- | --- | --- |",
    ]
    for step in DEPLOY_STEPS:
        cells = []
        for tool in TOOLS:
            c = counted.get(tool, {}).get(step)
            cells.append(
                "n/a"
                if not c
                else f"{c['reads']} / {c['writes']} / {c['dry_run_writes']} / {c['discovery']}"
            )
        md.append(f"| {STEP_TITLES[step]} | " + " | ".join(cells) + " |")
    md += ["", "Writes by resource (first / no-op / change):", ""]
    for tool in TOOLS:
        c = counted.get(tool, {})
        parts = []
        for step in ("first", "noop", "change"):
            if step in c:
                parts.append(
                    ", ".join(f"{k} {n}" for k, n in sorted(c[step]["writes_by_resource"].items()))
                    or "none"
                )
        md.append(f"- {tool}: " + " / ".join(parts))
    cold = results.get("cold_discovery", {})
    if cold:
        md += [
            "",
            "Discovery with a cold cache (first contact with a server, e.g. a new machine or "
            "kubeconfig): "
            + "; ".join(f"{t} {c['discovery']} requests" for t, c in cold.items())
            + ".",
        ]
    idle = results.get("idle_per_second", {})
    md += [
        "",
        "### API requests per run as the apiserver counts them (`apiserver_request_total`)",
        "",
        "Deltas read from `/metrics` before and after each timed run, for deployments, "
        "replicasets, pods, services, horizontalpodautoscalers, secrets, leases and events, minus "
        f"an idle baseline ({idle.get('reads', 0):.2f} reads/s, {idle.get('writes', 0):.2f} "
        "writes/s). The metric has no client label: these include the controllers' reaction to "
        "the deploy (ReplicaSet, Pods, status updates, Events), and any other client of the "
        "cluster at the time; discovery here is only aggregated discovery and /openapi (the "
        "apiserver does not count the legacy discovery paths the Python client uses). Median "
        "reads / writes / discovery.",
        "",
        "| step | collection | kubectl | helm | naive |",
        "| --- | --- | --- | --- | --- |",
    ]
    for step in DEPLOY_STEPS:
        cells = []
        for tool in TOOLS:
            c = metrics.get(step, {}).get(tool)
            cells.append(
                "n/a" if not c else f"{c['reads']:.0f} / {c['writes']:.0f} / {c['discovery']:.0f}"
            )
        md.append(f"| {STEP_TITLES[step]} | " + " | ".join(cells) + " |")
    # scale
    if results["scale"]:
        md += [
            "",
            f"### Scale: one play, N namespaces as inventory hosts (`-f {args.forks}`)",
            "",
            f"Median [min-max] of {args.scale_runs} runs ({args.scale_runs_large} of 50 "
            "namespaces, to keep `make bench` near 15 minutes).",
            "",
            "| namespaces | first deploy (s) | no-op re-deploy (s) | first, per namespace "
            "| API writes (first, all clients) |",
            "| --- | --- | --- | --- | --- |",
        ]
        for n in sorted(scale["first"]):
            f = scale["first"][n]
            writes = [
                r["metrics"].get("writes", 0)
                for r in results["scale"]
                if r["namespaces"] == n and r["step"] == "first" and r["ok"]
            ]
            md.append(
                f"| {n} | {fmt_s(f)} | {fmt_s(scale['noop'].get(n, {}))} | "
                f"{f['median'] / n:.2f} | {statistics.median(writes) if writes else 'n/a'} |"
                if f.get("n")
                else f"| {n} | n/a | n/a | n/a | n/a |"
            )
        md += [
            "",
            f"50 / 1 namespaces: first deploy {fmt_r(r_first50)}, no-op {fmt_r(r_noop50)}; "
            f"10 / 1: first {fmt_r(ratio(scale['first'].get(10), s1))}, "
            f"no-op {fmt_r(ratio(scale['noop'].get(10), n1))}. "
            "Plot: `bench/results/scale.png`.",
        ]
        plot_scale(scale, args)
    if "profile" in results:
        md += profile_markdown(results["profile"])
    tenants = results.get("other_tenants", [])
    busy = [t for t in tenants if t["xr_it_namespaces"]]
    md += ["", "### Noise", ""]
    md.append(
        f"Other tenants: xr-it-* namespaces (integration tests) were present in {len(busy)} of "
        f"{len(tenants)} rounds; 1-minute load average at round starts "
        + ", ".join(f"{t['loadavg_1m']:.1f}" for t in tenants)
        + f" ({results['machine']['nproc']} cores)."
    )
    if results["failures"]:
        md.append(
            f"Failed commands (excluded from the statistics): {len(results['failures'])}: "
            + "; ".join(
                f"{f.get('tool', str(f.get('namespaces')) + ' namespaces')} {f['step']}"
                for f in results["failures"]
            )
            + "."
        )
    if results["repeated"]:
        md.append(
            "Repeated in a fresh namespace after a failure or an apiserver restart (the shared "
            "cluster's outage tests stop it): " + "; ".join(results["repeated"]) + "."
        )
    start, end = results.get("code_at_start", {}), results.get("code_at_end", {})
    if start and end and start.get("content") != end.get("content"):
        md.append(
            "Note: roles/, plugins/ or playbooks/ changed on disk while the benchmark ran "
            f"(commit {start.get('commit')} at the start, {end.get('commit')} at the end): the "
            "numbers mix versions of the collection."
        )
    for note in results["notes"]:
        md.append(f"Note: {note}")
    body = "\n".join(md) + "\n"
    (RESULTS / "latest.md").write_text(
        "# exchange.platform benchmark: latest results\n\n"
        "Generated by `make bench` (bench/run.sh); see BENCHMARKS.md.\n\n" + body
    )
    slim = json.loads(json.dumps(results, default=str))
    for tool in slim.get("counted", {}).values():
        for step in tool.values():
            step.pop("requests", None) if not args.keep_logs else None
    (RESULTS / "latest.json").write_text(json.dumps(slim, indent=1, sort_keys=True) + "\n")
    update_benchmarks_md(body)
    log(f"wrote {RESULTS / 'latest.md'}, {RESULTS / 'latest.json'}, BENCHMARKS.md")


def per_run(task: dict[str, Any] | None, key: str) -> float:
    if not task or not task["module_runs"]:
        return 0.0
    return task[key] / task["module_runs"]


def breakdown(r: dict[str, Any], imports: dict[str, Any]) -> list[tuple[str, float]]:
    """Where one -vvv run's wall time went."""
    tasks = r["tasks"]
    no_module = [t for t in tasks if not t["module_runs"]]
    with_module = [t for t in tasks if t["module_runs"]]
    runs = sum(t["module_runs"] for t in with_module)
    execution = sum(t["execution"] for t in with_module)
    per_import = imports.get("python_startup", 0) + imports.get("imports_only", 0)
    interp = min(execution, runs * per_import)
    return [
        ("ansible-playbook start (Python, plugins, inventory, playbook) until the play",
         r["startup"]),
        ("play start, end and stats", r["play_setup"] + r["teardown"]),
        (f"{len(no_module)} tasks that run no module (assert, set_fact, skipped)",
         sum(t["seconds"] for t in no_module)),
        (f"{runs} module runs: controller side (arguments, temp dir, result)",
         sum(t["controller"] for t in with_module)),
        (f"{runs} module runs: AnsiballZ packaging", sum(t["packaging"] for t in with_module)),
        (f"{runs} module runs: new Python + imports (kubernetes, ansible basic; "
         f"{per_import:.2f} s each, measured alone)", interp),
        (f"{runs} module runs: the rest of execution (kubeconfig, zipped module_utils, "
         "API calls, waiting)", execution - interp),
    ]  # fmt: skip


def profile_markdown(p: dict[str, Any]) -> list[str]:
    md = ["", "### Where the collection's time goes", ""]
    imports = p.get("imports", {})
    mods = p.get("modules", {})
    ping = next((t for t in mods.get("tasks", []) if t.get("module") == "ping"), None)
    info = next((t for t in mods.get("tasks", []) if t.get("module") == "k8s_info"), None)
    md.append(
        f"- ansible-playbook start and stop, empty play: {fmt_s(p['empty_playbook'])} s "
        "(median [min-max] of 3)."
    )
    if ping and info:
        md.append(
            f"- one module run (`connection: local`, loops of {info['module_runs']}, -vvv "
            f"timestamps): `ansible.builtin.ping` {per_run(ping, 'seconds'):.2f} s (packaging "
            f"{per_run(ping, 'packaging'):.2f}, execution {per_run(ping, 'execution'):.2f}); "
            f"`kubernetes.core.k8s_info` of one Namespace {per_run(info, 'seconds'):.2f} s "
            f"(packaging {per_run(info, 'packaging'):.2f}: {info['packaging_runs'][0]:.2f} for "
            f"the first run of the module in the play, then cached; execution "
            f"{per_run(info, 'execution'):.2f})."
        )
    if imports:
        cum = imports["cumulative_seconds"]
        md.append(
            f"- imports of a kubernetes.core module: {imports['imports_only']:.2f} s on top of "
            f"Python's {imports['python_startup']:.2f} s start (`python -X importtime`: "
            f"kubernetes {cum.get('kubernetes', 0):.2f} s, of which kubernetes.client.api "
            f"{cum.get('kubernetes.client.api', 0):.2f} s and kubernetes.client.models "
            f"{cum.get('kubernetes.client.models', 0):.2f} s; ansible.module_utils.basic "
            f"{cum.get('ansible.module_utils.basic', 0):.2f} s)."
        )
    dc = p.get("discovery_cache", {})
    if dc.get("exists"):
        md.append(
            f"- kubernetes.core's discovery cache (`{dc['path']}`, per server and user): "
            f"{dc['bytes'] / 1024:.0f} KiB, {dc.get('group_versions_cached', '?')} group-versions, "
            f"{dc['load_seconds'] * 1000:.0f} ms to parse; with it warm a deploy makes no "
            "discovery request (see the request counts)."
        )
    if p.get("noop_plain", {}).get("n"):
        md.append(
            f"- no-op re-deploy {fmt_s(p['noop_plain'])} s as is, {fmt_s(p['noop_pipelining'])} s "
            "with `ANSIBLE_PIPELINING=True` (median [min-max] of 3, interleaved)."
        )
    first, noop = p.get("first"), p.get("noop")
    if first and noop:
        rollout = [
            next((t for t in r["tasks"] if t.get("module") == "k8s_rollout"), None)
            for r in (first, noop)
        ]
        if all(rollout):
            md.append(
                f"- waiting: the rollout task takes {rollout[0]['execution']:.2f} s in the first "
                f"deploy and {rollout[1]['execution']:.2f} s in the no-op one (kwok's pods are "
                "ready at once: on a real cluster the wait for the pods dominates a first deploy, "
                "for every tool alike)."
            )
        md += [
            "",
            "Breakdown of one run with `-vvv` and profile_tasks "
            f"(first deploy {first['wall_seconds']:.2f} s, no-op {noop['wall_seconds']:.2f} s wall"
            + (f"; {noop['plain_seconds']:.2f} s without them" if "plain_seconds" in noop else "")
            + "):",
            "",
            "| part | first deploy (s) | % | no-op re-deploy (s) | % |",
            "| --- | --- | --- | --- | --- |",
        ]
        for (name, a), (_n, b) in zip(
            breakdown(first, imports), breakdown(noop, imports), strict=True
        ):
            md.append(
                f"| {name} | {a:.2f} | {100 * a / first['wall_seconds']:.0f} | {b:.2f} | "
                f"{100 * b / noop['wall_seconds']:.0f} |"
            )
        md += [
            "",
            "Per task (no-op re-deploy; tasks under 10 ms left out):",
            "",
            "| task | s | module | packaging | execution |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in noop["tasks"]:
            if row["seconds"] < 0.01:
                continue
            module = row.get("module", "-") if row["module_runs"] else "-"
            md.append(
                f"| {row['name'][:80]} | {row['seconds']:.2f} | {module} | "
                f"{row['packaging']:.2f} | {row['execution']:.2f} |"
            )
    return md


def plot_scale(scale: dict[str, dict[int, dict[str, Any]]], args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for step, label, color in (
        ("first", "first deploy", "tab:blue"),
        ("noop", "no-op re-deploy", "tab:orange"),
    ):
        ns = [n for n in sorted(scale[step]) if scale[step][n].get("n")]
        if not ns:
            continue
        med = [scale[step][n]["median"] for n in ns]
        err = [
            [scale[step][n]["median"] - scale[step][n]["min"] for n in ns],
            [scale[step][n]["max"] - scale[step][n]["median"] for n in ns],
        ]
        ax.errorbar(
            ns,
            med,
            yerr=err,
            marker="o",
            capsize=4,
            color=color,
            label=f"{label} (median, min-max)",
        )
        if 1 in scale[step] and scale[step][1].get("n"):
            base = scale[step][1]["median"]
            ax.plot(
                [1, max(ns)],
                [GOALS["scale"] * base] * 2,
                ls=":",
                color=color,
                alpha=0.7,
                label=f"goal for {label}: 10x one namespace",
            )
            ax.plot(
                ns,
                [base * n for n in ns],
                ls="--",
                color=color,
                alpha=0.25,
                label=f"{label}: one at a time",
            )
    ax.set_xlabel("namespaces (inventory hosts) in one play")
    ax.set_ylabel("seconds")
    ax.set_title(
        f"exchange.platform: deploy time vs namespaces (-f {args.forks}, {os.cpu_count()} cores)"
    )
    top = max((s["max"] for st in scale.values() for s in st.values() if s.get("n")), default=1)
    ax.set_ylim(0, top * 1.6)
    ax.set_xticks(sorted({n for st in scale.values() for n in st}))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(RESULTS / "scale.png")
    plt.close(fig)


BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"


def update_benchmarks_md(body: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    block = (
        f"{BEGIN}\n<!-- written by bench/run.py; edit outside these markers -->\n\n{body}\n{END}"
    )
    if path.exists() and BEGIN in path.read_text() and END in path.read_text():
        text = path.read_text()
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        path.write_text(head + block + tail)
    else:
        path.write_text(
            "# Benchmarks\n\n`make bench` (bench/run.sh) writes the section below.\n\n"
            "## Latest results\n\n" + block + "\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kubeconfig", help="the cluster's admin kubeconfig (bench/run.sh)")
    parser.add_argument("--tools-dir", help="directory with helm and kubectl (bench/run.sh)")
    parser.add_argument("--runs", type=int, default=5, help="timing rounds (default 5)")
    parser.add_argument(
        "--scale-runs", type=int, default=3, help="runs per scale size below 50 (default 3)"
    )
    parser.add_argument(
        "--scale-runs-large",
        type=int,
        default=1,
        help="runs of the sizes of 50 namespaces and more (default 1: ~4.5 min each on 2 cores)",
    )
    parser.add_argument(
        "--scale-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 50]
    )
    parser.add_argument("--forks", type=int, default=10, help="ansible forks for the scale runs")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--keep-work", action="store_true", help="keep the temporary work dir")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep -vvv logs and request lists in results/"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="only rewrite the reports from bench/results/latest.json (no cluster needed)",
    )
    args = parser.parse_args()
    if not args.report_only and not (args.kubeconfig and args.tools_dir):
        parser.error("--kubeconfig and --tools-dir are required (bench/run.sh passes them)")
    if args.report_only:
        results = json.loads((RESULTS / "latest.json").read_text())
        for key in ("runs", "scale_runs", "scale_runs_large", "forks"):
            setattr(args, key, results["args"][key])
        report(results, args)
        return
    Bench(args).run()


if __name__ == "__main__":
    main()
