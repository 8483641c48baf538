"""exchange.platform benchmark: the collection against the Ansible floor F, kubectl, helm and a
naive role, on the local cluster.  Run through bench/run.sh (`make bench`), which fetches helm
and kubectl, starts the local cluster and passes --kubeconfig and --tools-dir.

Every namespace it creates is named xr-bench-<run id>-... and labelled
exchange-platform.bench/run=<run id>; it deletes them again at the end.  The parts:
  runners.py   how each tool is run (collection, F, naive, kubectl, helm, empty play)
  apicount.py  API requests: exact per tool (the apiserver's audit log) and
               apiserver_request_total
  manifests.py the objects, the helm chart and the naive role's templates, from `make render`
  scale.py     1/10/50 namespaces in one play, and the helm loop over as many: first,
               no-op, check and image change of the whole fleet
  canary.py    a fleet of 10 releases canaried side by side (a fake Prometheus and Gateway
               controller): time to 100% stable after an abort and a promote, queries per step
  profiling.py where the collection's time goes (per task, per function)
  report.py    bench/results/latest.{md,json}, scale.png and BENCHMARKS.md
Phases, all in one invocation (this file): preflight (objects, chart, versions), warm-up and
counted runs (audit log), idle baseline, interleaved timing rounds, scale, canary, profile.
`--only canary` runs the canary row alone (bench/results/canary.{md,json}), `--only drift` the
drift row alone (a fleet of 50 deployed and its image rolled, then scale.drift_pair:
bench/results/drift.{md,json}); BENCHMARKS.md and latest.* are left as they are.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import manifests
import yaml
from apicount import AuditLog, audit_log_path, classify_metrics, classify_requests
from canary import run_canary
from common import (
    COUNTED_TOOLS,
    DEFAULT_TAG,
    DEPLOY_STEPS,
    LABEL,
    RELEASE,
    RESULTS,
    ROOT,
    SHORT,
    STEPS,
    TOOLS,
    VENV_BIN,
    code_fingerprint,
    log,
    machine,
)
from profiling import run_profile
from report import report, report_canary, report_drift
from runners import Runners
from scale import run_drift, run_scale

from cluster import Cluster


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = secrets.token_hex(3)
        self.work = Path(tempfile.mkdtemp(prefix=f"xr-bench-{self.run_id}-"))
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
        tools = Path(args.tools_dir)
        self.cluster = Cluster(args.kubeconfig, str(tools / "kubectl"), self.env)
        self.runners = Runners(self.work, str(tools / "helm"), str(tools / "kubectl"), self.env)
        self.results: dict[str, Any] = {
            "run_id": self.run_id,
            "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "args": {k: v for k, v in vars(args).items() if k != "kubeconfig"},
            "timed": [],
            "counted": {},
            "cold_discovery": {},
            "scale": [],
            "failures": self.runners.failures,
            "discarded": [],
            "repeated": [],
            "notes": [],
        }

    def ns(self, *parts: object) -> str:
        return "-".join(["xr-bench", self.run_id, *map(str, parts)])

    def execute(self, tool: str, step: str, ns: str, tag: str, **kw: Any) -> dict[str, Any]:
        return self.runners.execute(tool, step, ns, tag, self.cluster, **kw)

    def attempts(self, what: str, tries: int = 3) -> Iterator[int]:
        """Attempt numbers for work an apiserver outage or a failure may spoil; the caller
        breaks out when an attempt succeeds."""
        for attempt in range(1, tries + 1):
            self.cluster.wait_ready()
            if attempt > 1:
                log(f"{what}: repeating it in a fresh namespace (attempt {attempt})")
                self.results["repeated"].append(what)
            yield attempt
        log(f"{what}: still failing after {tries} attempts; left out")

    # ---- preflight -----------------------------------------------------------------------

    def preflight(self) -> None:
        log(f"run id {self.run_id}, work dir {self.work}")
        stale = self.cluster.kubectl("get", "namespace", "-l", LABEL, "-o", "name", check=False)
        if stale.strip():
            log("deleting namespaces left by an earlier benchmark run: " + " ".join(stale.split()))
            self.cluster.delete_namespaces(LABEL)
        self.audit = AuditLog(
            Path(self.args.audit_log or audit_log_path(self.args.kubeconfig)),
            f"xr-bench-{self.run_id}",
        )
        self.objects()
        self.results["versions"] = self.versions()
        self.results["machine"] = machine()
        self.results["code_at_start"] = code_fingerprint()

    def objects(self) -> None:
        """The objects every tool deploys: the role's own rendering (`make render`), which
        kubectl and F apply; the helm chart and the naive role's templates are generated from
        it (bench/manifests.py). The chart is checked to render the same objects."""
        rendered = manifests.render_role(self.work / "role-render", self.env)
        self.runners.manifests = rendered_objs = manifests.objects(rendered)
        manifests.write_chart(rendered, self.runners.chart)
        manifests.write_naive_templates(rendered, self.runners.naive_templates)
        out = subprocess.run(
            [self.runners.helm, "template", RELEASE, str(self.runners.chart), "-n", "placeholder"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        image = manifests.image_of(rendered)
        expected = [manifests.with_placeholders(o, "placeholder", image) for o in rendered_objs]
        if [d for d in yaml.safe_load_all(out) if d] != expected:
            raise RuntimeError("the generated chart does not render the role's objects:\n" + out)
        log(f"objects from make render: {', '.join(o['kind'] for o in self.runners.manifests)}")

    def check_chart(self, ns: str) -> None:
        """The role's render must be what the collection deployed into ns: a server-side diff
        as the collection's field manager may only bump the generation and drop the
        collection's secret checksum annotation (an HMAC with a per-release key that no render
        can know)."""
        diff = self.cluster.kubectl(
            "diff",
            "--server-side",
            "--field-manager=exchange.platform",
            "--force-conflicts",
            "-f",
            str(self.runners.manifest_file(ns, DEFAULT_TAG)),
            check=False,
        )
        changed = [
            line
            for line in diff.splitlines()
            if line[:1] in "+-"
            and line[:3] not in ("+++", "---")
            and not any(k in line for k in ("generation:", "secret-checksum", "annotations:"))
        ]
        self.results["render_matches_deploy"] = not changed
        if changed:
            note = (
                "make render no longer renders what the role deploys by default; differences: "
                + " ".join(changed[:12])
            )
            self.results["notes"].append(note)
            log("WARNING: " + note)

    def versions(self) -> dict[str, str]:
        def out(argv: list[str]) -> str:
            proc = subprocess.run(
                argv, capture_output=True, text=True, env=self.env, cwd=ROOT, check=False
            )
            return proc.stdout.strip()

        py = str(VENV_BIN / "python")
        core = out(
            [py, "-c", "import ansible_collections.kubernetes.core as m; print(m.__path__[0])"]
        )
        server = json.loads(self.cluster.get("/version"))
        kubectl = out([self.runners.kubectl, "version", "--client", "-o", "json"])
        return {
            "collection commit": code_fingerprint()["commit"],
            "ansible-core": out([py, "-c", "import ansible.release as r; print(r.__version__)"]),
            "kubernetes.core": json.loads((Path(core) / "MANIFEST.json").read_text())[
                "collection_info"
            ]["version"],
            "kubernetes (Python)": out(
                [py, "-c", "import kubernetes; print(kubernetes.__version__)"]
            ),
            "Python": out([py, "-c", "import platform; print(platform.python_version())"]),
            "kube-apiserver": server.get("gitVersion", "?"),
            "kubectl": json.loads(kubectl or "{}").get("clientVersion", {}).get("gitVersion", "?"),
            "helm": out([self.runners.helm, "version", "--short"]),
        }

    # ---- warm-up and exact counts --------------------------------------------------------

    def warmup_and_count(self) -> None:
        """Untimed: warm every tool's caches, then count each tool's requests exactly."""
        log("warm-up: one first deploy per tool (discovery caches, page cache)")
        warm = {t: self.ns(SHORT[t], "warm") for t in TOOLS}
        counted = {t: self.ns(SHORT[t], "count") for t in COUNTED_TOOLS}
        self.cluster.create_namespaces([*warm.values(), *counted.values()], self.run_id)
        for tool in TOOLS:
            for step in ("first", "render"):
                if self.runners.commands(tool, step, warm[tool], DEFAULT_TAG):
                    self.execute(tool, step, warm[tool], DEFAULT_TAG)
        self.check_chart(warm["collection"])
        log("counting API requests per tool in the apiserver's audit log")
        audit, cenv = self.counting_env()
        for tool in COUNTED_TOOLS:
            # The counting env's discovery caches start empty: this no-op shows a cold cache
            # and warms it. naive and F share kubernetes.core's with the collection.
            if tool in ("collection", "kubectl", "helm"):
                mark = audit.mark()
                rec = self.execute(tool, "noop", warm[tool], DEFAULT_TAG, env=cenv)
                audit.flush(self.cluster, mark)
                self.results["cold_discovery"][tool] = classify_requests(audit.since(mark)) | {
                    "seconds": rec["seconds"]
                }
            for attempt in self.attempts(f"counted runs of {tool}"):
                ns = counted[tool] + ("" if attempt == 1 else f"-a{attempt}")
                if attempt > 1:
                    self.cluster.create_namespaces([ns], self.run_id)
                steps = self.results["counted"][tool] = {}
                for step in DEPLOY_STEPS:
                    tag = "bench-count" if step == "change" else DEFAULT_TAG
                    mark = audit.mark()
                    rec = self.execute(tool, step, ns, tag, env=cenv)
                    audit.flush(self.cluster, mark)
                    steps[step] = classify_requests(audit.since(mark)) | {"ok": rec["ok"]}
                    if not rec["ok"]:
                        break
                if all(c["ok"] for c in steps.values()):
                    break

    def counting_env(self) -> tuple[AuditLog, dict[str, str]]:
        """The audit log, and an environment for the counted runs: a client certificate of the
        benchmark's own (user xr-bench-<run id> in system:masters), whose requests are exactly
        the tool's, and empty discovery caches (kubectl and helm: KUBECACHEDIR;
        kubernetes.core: its file in TMPDIR)."""
        audit = self.audit
        user = audit.user
        kubeconfig = self.work / "count-kubeconfig.yaml"
        subprocess.run(
            [str(ROOT / "cluster" / "kwok.sh"), "user-kubeconfig", user, "system:masters",
             str(kubeconfig)],
            env=self.env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        tmp = self.work / "count-tmp"
        tmp.mkdir()
        env = dict(self.env, KUBECONFIG=str(kubeconfig), K8S_AUTH_KUBECONFIG=str(kubeconfig))
        env |= {"KUBECACHEDIR": str(self.work / "kube-cache-count"), "TMPDIR": str(tmp)}
        self.results["counted_as"] = {"user": user, "audit_log": str(audit.path)}
        return audit, env

    def idle_baseline(self, seconds: float = 10.0) -> None:
        log(f"idle baseline: apiserver_request_total over {seconds:.0f}s with no tool running")
        delta: dict[str, Any] = {}
        for _attempt in self.attempts("the idle baseline"):
            before = self.cluster.request_totals()
            time.sleep(seconds)
            delta = classify_metrics(before, self.cluster.request_totals())
            if not delta.get("reset"):
                break
        self.results["idle_per_second"] = {
            k: delta.get(k, 0) / seconds for k in ("reads", "writes", "discovery")
        }

    # ---- interleaved timing rounds -------------------------------------------------------

    def tool_round(self, tool: str, i: int) -> None:
        """One tool's steps in a fresh namespace; repeated whole if a step failed or the
        apiserver restarted meanwhile (its counters reset)."""
        for attempt in self.attempts(f"round {i} of {tool}"):
            ns = self.ns(SHORT[tool], i) + ("" if attempt == 1 else f"-a{attempt}")
            if tool != "empty":
                self.cluster.create_namespaces([ns], self.run_id)
            recs = []
            for step in STEPS:
                if not self.runners.commands(tool, step, ns, DEFAULT_TAG):
                    continue
                tag = f"bench-{i}" if step == "change" else DEFAULT_TAG
                rec = self.execute(tool, step, ns, tag, metrics=True) | {"round": i}
                recs.append(rec)
                status = "" if rec["ok"] else " FAILED"
                status += " (apiserver restarted)" if rec["metrics"].get("reset") else ""
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
            names = self.cluster.kubectl("get", "namespace", "-o", "name", check=False).split()
            self.results.setdefault("other_tenants", []).append(
                {
                    "xr_it_namespaces": sum(1 for n in names if n.startswith("namespace/xr-it-")),
                    "loadavg_1m": os.getloadavg()[0],
                }
            )
            k = (i - 1) % len(TOOLS)
            order = TOOLS[k:] + TOOLS[:k]
            log(f"round {i}/{runs}: {' '.join(order)}")
            for tool in order:
                self.tool_round(tool, i)
        log("deleting the timing namespaces")
        self.cluster.delete_namespaces(f"{LABEL}={self.run_id}")

    def phase(self, fn: Any) -> None:
        """Scale and profile: a crash there is reported, and the rest of the run is kept."""
        try:
            fn(self)
        except Exception as e:
            self.results["notes"].append(f"{fn.__name__} stopped: {type(e).__name__}: {e}")
            log(f"{fn.__name__} stopped: {e!r}")

    @contextlib.contextmanager
    def cleaned_up(self) -> Iterator[None]:
        """Whatever happens inside: this run's namespaces deleted, its work dir too (unless
        --keep-work)."""
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self.cluster.delete_namespaces(f"{LABEL}={self.run_id}", wait=120)
            if not self.args.keep_work:
                shutil.rmtree(self.work, ignore_errors=True)

    def run(self) -> None:
        t0 = time.monotonic()
        with self.cleaned_up():
            self.preflight()
            self.warmup_and_count()
            self.cluster.delete_namespaces(f"{LABEL}={self.run_id}")
            self.idle_baseline()
            self.timed_rounds()
            for skip, phase in (
                (self.args.skip_scale, run_scale),
                (self.args.skip_canary, run_canary),
                (self.args.skip_profile, run_profile),
            ):
                if not skip:
                    self.phase(phase)
        self.results["elapsed_seconds"] = time.monotonic() - t0
        self.results["code_at_end"] = code_fingerprint()
        self.results["loadavg_at_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        report(self.results)

    def run_only(self, part: str) -> None:
        """--only canary|drift: that row alone, reported in bench/results/<part>.{md,json}."""
        phase, write = {"canary": (run_canary, report_canary), "drift": (run_drift, report_drift)}[
            part
        ]
        t0 = time.monotonic()
        log(f"run id {self.run_id}, work dir {self.work}: the {part} row only")
        with self.cleaned_up():
            stale = self.cluster.kubectl("get", "namespace", "-l", LABEL, "-o", "name", check=False)
            if stale.strip():
                log("deleting namespaces left by an earlier benchmark run")
                self.cluster.delete_namespaces(LABEL)
            self.results["versions"] = self.versions()
            self.results["machine"] = machine()
            self.results["code_at_start"] = code_fingerprint()
            self.phase(phase)
        self.results["elapsed_seconds"] = time.monotonic() - t0
        self.results["code_at_end"] = code_fingerprint()
        self.results["loadavg_at_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        write(self.results)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--kubeconfig", help="the cluster's admin kubeconfig (bench/run.sh)")
    p.add_argument("--tools-dir", help="directory with helm and kubectl (bench/run.sh)")
    p.add_argument(
        "--audit-log",
        help="the apiserver's audit log (default: logs/audit.log beside the kubeconfig)",
    )
    p.add_argument("--runs", type=int, default=4, help="timing rounds (default 4)")
    p.add_argument("--scale-runs", type=int, default=2, help="runs of sizes below 50 (default 2)")
    p.add_argument("--scale-runs-large", type=int, default=1, help="runs of 50 (default 1)")
    p.add_argument(
        "--helm-loop-runs",
        type=int,
        default=1,
        help="runs of the helm loop over the largest size (default 1)",
    )
    p.add_argument(
        "--scale-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 50]
    )
    p.add_argument("--forks", type=int, default=10, help="ansible forks for the scale runs")
    p.add_argument("--skip-scale", action="store_true")
    p.add_argument("--skip-canary", action="store_true")
    p.add_argument(
        "--only",
        choices=["canary", "drift"],
        help="run only this part (canary: the canary row; drift: the drift row over a fleet of "
        "50; writes bench/results/<part>.*)",
    )
    p.add_argument(
        "--gateway-api-crds",
        help="the Gateway API CRDs for the canary row (bench/run.sh: kind.sh build-gateway-api)",
    )
    p.add_argument("--skip-profile", action="store_true")
    p.add_argument("--keep-work", action="store_true", help="keep the temporary work dir")
    p.add_argument("--keep-logs", action="store_true", help="keep -vvv logs and request lists")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="only rewrite the reports from bench/results/latest.json",
    )
    args = p.parse_args()
    if args.report_only:
        report(json.loads((RESULTS / "latest.json").read_text()))
        return
    if not (args.kubeconfig and args.tools_dir):
        p.error("--kubeconfig and --tools-dir are required (bench/run.sh passes them)")
    bench = Bench(args)
    if args.only:
        bench.run_only(args.only)
    else:
        bench.run()


if __name__ == "__main__":
    main()
