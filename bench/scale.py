"""Scale: the collection into N namespaces in one play (one inventory host per namespace, all on
the one local cluster, so the engine batches them into one apply), first deploy and no-op
re-deploy; and `helm upgrade --install --wait` looped over as many namespaces, the way users
script it (its own namespaces: helm will not adopt objects another field manager created)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import TYPE_CHECKING, Any

import yaml
from apicount import classify_metrics
from common import LABEL, PLAYBOOK, RELEASE, ROOT, log

if TYPE_CHECKING:
    from run import Bench

LARGE = 50  # sizes from here on run --scale-runs-large times


def run_scale(b: Bench) -> None:
    sizes, runs, large = b.args.scale_sizes, b.args.scale_runs, b.args.scale_runs_large
    for r in range(1, max(runs, large) + 1):
        for n in sizes:
            if r <= (large if n >= LARGE else runs):
                collection_run(b, n, r)
        if r <= b.args.helm_loop_runs:
            helm_loop(b, max(sizes), r)


def collection_run(b: Bench, n: int, r: int) -> None:
    for attempt in b.attempts(f"scale run {r} of {n} namespaces"):
        suffix = "" if attempt == 1 else f"a{attempt}-"
        names = [b.ns("s", n, r, f"{suffix}{k:02d}") for k in range(1, n + 1)]
        b.cluster.create_namespaces(names, b.run_id)
        inventory = b.work / f"scale-{n}-{r}-{attempt}.yml"
        hosts = {ns: {"exchange_router_namespace": ns} for ns in names}
        inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
        argv = [
            PLAYBOOK,
            "playbooks/deploy.yml",
            "-i",
            str(inventory),
            "-e",
            "exchange_router_hosts=all",
            "-f",
            str(b.args.forks),
        ]
        recs = []
        for step in ("first", "noop"):
            before = b.cluster.request_totals()
            start = time.perf_counter()
            proc = subprocess.run(
                argv, cwd=ROOT, env=b.env, capture_output=True, text=True, check=False
            )
            seconds = time.perf_counter() - start
            recap = re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", proc.stdout, re.M)
            ok = proc.returncode == 0 and len(recap) == n
            rec = {
                "tool": "collection",
                "namespaces": n,
                "run": r,
                "step": step,
                "seconds": seconds,
                "ok": ok,
                "changed_hosts": sum(1 for _h, c in recap if int(c)),
                "metrics": classify_metrics(before, b.cluster.request_totals()),
                "loadavg_1m": os.getloadavg()[0],
            }
            recs.append(rec)
            log(f"scale collection {n:3} namespaces run {r} {step:5} {seconds:7.2f}s")
            if not ok:
                rec["output_tail"] = (proc.stdout + proc.stderr)[-3000:]
                b.results["failures"].append(rec)
                log(f"FAILED scale {n} {step}:\n{rec['output_tail'][-1500:]}")
                break
        b.cluster.delete_namespaces(f"{LABEL}={b.run_id}")
        if all(x["ok"] and not x["metrics"].get("reset") for x in recs):
            b.results["scale"].extend(recs)
            return
        b.results["discarded"].extend(recs)


def helm_loop(b: Bench, n: int, r: int) -> None:
    """`for ns in ...; do helm upgrade --install --wait ...; done`, first and no-op."""
    names = [b.ns("h", n, r, f"{k:02d}") for k in range(1, n + 1)]
    b.cluster.create_namespaces(names, b.run_id)
    chart = str(b.runners.chart)
    for step in ("first", "noop"):
        start = time.perf_counter()
        ok = True
        for ns in names:
            argv = [
                b.runners.helm,
                "upgrade",
                "--install",
                RELEASE,
                chart,
                "-n",
                ns,
                "--wait",
                "--timeout",
                "300s",
            ]
            proc = subprocess.run(argv, env=b.env, capture_output=True, text=True, check=False)
            if proc.returncode:
                ok = False
                log(f"FAILED helm loop {ns} {step}: {proc.stderr[-800:]}")
                break
        seconds = time.perf_counter() - start
        log(f"scale helm loop {n:3} namespaces run {r} {step:5} {seconds:7.2f}s")
        rec: dict[str, Any] = {
            "tool": "helm-loop",
            "namespaces": n,
            "run": r,
            "step": step,
            "seconds": seconds,
            "ok": ok,
            "loadavg_1m": os.getloadavg()[0],
        }
        b.results["scale" if ok else "discarded"].append(rec)
        if not ok:
            break
    b.cluster.delete_namespaces(f"{LABEL}={b.run_id}")
