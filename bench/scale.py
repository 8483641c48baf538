"""Scale: the collection into N namespaces in one play (one inventory host per namespace, all on
the one local cluster, so the engine batches them into one apply); and `helm upgrade --install
--wait` looped over as many namespaces, the way users script it (its own namespaces: helm will
not adopt objects another field manager created). Both go through the steps of one release
(common.DEPLOY_STEPS) on the whole fleet: first deploy, no-op re-deploy, check of the unchanged
fleet (`--check --diff`; helm `--dry-run=server` looped) and an image tag change until rolled
out. The command lines are the single-release ones (runners.py): the collection's with an
inventory instead of one namespace, helm's once per namespace. At 50 namespaces and more, the
fleet then gets a drift report: playbooks/diff.yml over the inventory against `kubectl diff
--server-side` looped over the same namespaces with the same objects, three times each in
alternating order (the medians are compared)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import TYPE_CHECKING, Any

import yaml
from apicount import classify_metrics
from common import DEFAULT_TAG, DEPLOY_STEPS, LABEL, PLAYBOOK, ROOT, log
from runners import ROLLOUT_STEPS, Runners, rollout_problem

if TYPE_CHECKING:
    from run import Bench

LARGE = 50  # sizes from here on run --scale-runs-large times
DRIFT_ROUNDS = 3  # runs of each drift command, alternating (drift_pair)


def run_scale(b: Bench) -> None:
    sizes, runs, large = b.args.scale_sizes, b.args.scale_runs, b.args.scale_runs_large
    for r in range(1, max(runs, large) + 1):
        for n in sizes:
            if r <= (large if n >= LARGE else runs):
                collection_run(b, n, r)
        if r <= b.args.helm_loop_runs:
            helm_loop(b, max(sizes), r)


def fleet_tag(step: str, r: int) -> str:
    """The image tag of a fleet step: a new one for the image change, as in the timing rounds."""
    return f"bench-scale-{r}" if step == "change" else DEFAULT_TAG


def fleet_problem(b: Bench, names: list[str], tag: str) -> str | None:
    """After a step that rolls out: the first namespace whose Deployment is not rolled out to
    tag (untimed, one list call for the whole fleet)."""
    for ns, state in b.cluster.deployment_states(names).items():
        problem = rollout_problem(state, tag)
        if problem:
            return f"verify {ns}: {problem}"
    return None


def run_drift(b: Bench) -> None:
    """`--only drift`: the FLEET-release fleet deployed and its image rolled once, as the scale
    phase leaves it, then its drift report (drift_pair)."""
    collection_run(b, LARGE, 1, ("first", "change"))


def collection_run(b: Bench, n: int, r: int, steps: tuple[str, ...] = tuple(DEPLOY_STEPS)) -> None:
    for attempt in b.attempts(f"scale run {r} of {n} namespaces"):
        suffix = "" if attempt == 1 else f"a{attempt}-"
        names = [b.ns("s", n, r, f"{suffix}{k:02d}") for k in range(1, n + 1)]
        b.cluster.create_namespaces(names, b.run_id)
        inventory = b.work / f"scale-{n}-{r}-{attempt}.yml"
        hosts = {ns: {"exchange_router_namespace": ns} for ns in names}
        inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
        target = ["-i", str(inventory), "-e", "exchange_router_hosts=all"]
        target += ["-f", str(b.args.forks)]
        recs = []
        for step in steps:  # first, noop, check, change, on the same namespaces
            tag = fleet_tag(step, r)
            argv, codes = Runners.collection_deploy(step, tag, target)
            before = b.cluster.request_totals()
            start = time.perf_counter()
            proc = subprocess.run(
                argv, cwd=ROOT, env=b.env, capture_output=True, text=True, check=False
            )
            seconds = time.perf_counter() - start
            metrics = classify_metrics(before, b.cluster.request_totals())
            recap = re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", proc.stdout, re.M)
            ok = proc.returncode in codes and len(recap) == n
            text = proc.stdout + proc.stderr
            if ok and step in ROLLOUT_STEPS:
                problem = fleet_problem(b, names, tag)
                if problem:
                    ok, text = False, f"{text}\n{problem}"
            rec = {
                "tool": "collection",
                "namespaces": n,
                "run": r,
                "step": step,
                "seconds": seconds,
                "ok": ok,
                "changed_hosts": sum(1 for _h, c in recap if int(c)),
                "metrics": metrics,
                "loadavg_1m": os.getloadavg()[0],
            }
            recs.append(rec)
            log(f"scale collection {n:3} namespaces run {r} {step:6} {seconds:7.2f}s")
            if not ok:
                rec["output_tail"] = text[-3000:]
                b.results["failures"].append(rec)
                log(f"FAILED scale {n} {step}:\n{rec['output_tail'][-1500:]}")
                break
        if n >= LARGE and all(x["ok"] for x in recs):
            recs += drift_pair(b, names, target, fleet_tag("change", r), r)
        b.cluster.delete_namespaces(f"{LABEL}={b.run_id}")
        if all(x["ok"] and not x.get("metrics", {}).get("reset") for x in recs):
            b.results["scale"].extend(recs)
            return
        b.results["discarded"].extend(recs)


def drift_pair(b: Bench, names: list[str], target: list[str], tag: str, r: int) -> list[dict]:
    """The drift report of the rolled-out fleet: diff.yml over its inventory (one play) and
    `kubectl diff --server-side` of the same objects looped over its namespaces, DRIFT_ROUNDS
    times each, their order swapped every round: the first run after the fleet's rollout meets an
    API server still busy with its old pods, so neither tool always gets it."""
    runs = {
        "collection": [([PLAYBOOK, "playbooks/diff.yml", *target], {0})],
        "kubectl-loop": [
            c for ns in names for c in b.runners.commands("kubectl", "check", ns, tag)
        ],
    }
    order = list(runs.items())
    recs = []
    for i in range(DRIFT_ROUNDS):
        recs += _drift_round(b, names, order[::-1] if i % 2 else order, r)
    return recs


def _drift_round(
    b: Bench, names: list[str], order: list[tuple[str, list[Any]]], r: int
) -> list[dict]:
    recs = []
    for tool, commands in order:
        start, ok, text = time.perf_counter(), True, ""
        for argv, codes in commands:
            proc = subprocess.run(
                argv, cwd=ROOT, env=b.env, capture_output=True, text=True, check=False
            )
            if proc.returncode not in codes:
                ok, text = False, proc.stdout + proc.stderr
                break
        seconds = time.perf_counter() - start
        log(f"scale {tool} {len(names):3} namespaces run {r} drift  {seconds:7.2f}s")
        rec = {
            "tool": tool,
            "namespaces": len(names),
            "run": r,
            "step": "drift",
            "seconds": seconds,
            "ok": ok,
            "loadavg_1m": os.getloadavg()[0],
        }
        if not ok:
            rec["output_tail"] = text[-3000:]
            b.results["failures"].append(rec)
            log(f"FAILED scale {tool} drift:\n{text[-1500:]}")
        recs.append(rec)
    return recs


def helm_loop(b: Bench, n: int, r: int) -> None:
    """`for ns in ...; do helm upgrade --install ...; done` for each fleet step: the single-release
    helm commands (runners.py) once per namespace, one after the other."""
    names = [b.ns("h", n, r, f"{k:02d}") for k in range(1, n + 1)]
    b.cluster.create_namespaces(names, b.run_id)
    for step in DEPLOY_STEPS:  # first, noop, check, change, on the same namespaces
        tag = fleet_tag(step, r)
        start = time.perf_counter()
        ok = True
        for ns in names:
            for argv, codes in b.runners.commands("helm", step, ns, tag):
                proc = subprocess.run(argv, env=b.env, capture_output=True, text=True, check=False)
                if proc.returncode not in codes:
                    ok = False
                    log(f"FAILED helm loop {ns} {step}: {proc.stderr[-800:]}")
                    break
            if not ok:
                break
        seconds = time.perf_counter() - start
        if ok and step in ROLLOUT_STEPS:
            problem = fleet_problem(b, names, tag)
            if problem:
                ok = False
                log(f"FAILED helm loop {step}: {problem}")
        log(f"scale helm loop {n:3} namespaces run {r} {step:6} {seconds:7.2f}s")
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
            b.results["failures"].append(rec)
            break
    b.cluster.delete_namespaces(f"{LABEL}={b.run_id}")
