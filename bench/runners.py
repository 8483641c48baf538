"""How each tool is run: the commands of one measured step, and running them.

collection  playbooks/deploy.yml (the release engine), render.yml for render
floor       F: bench/floor.yml, an empty play plus ONE kubernetes.core.k8s task that server-side
            applies the same three objects (wait: true for the steps that roll out)
naive       bench/naive.yml: one kubernetes.core.k8s task per object, a template each
kubectl     kubectl apply --server-side + rollout status; diff --server-side
helm        helm upgrade --install --wait of the chart; --dry-run=server; helm template
The objects of F and kubectl, the naive role's templates and the chart all come from `make render`
(bench/manifests.py, set up by the preflight).
empty       an empty play (bench/profile/empty.yml): the floor of render
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml
from common import DEFAULT_TAG, DEPLOYMENT, PLAYBOOK, RELEASE, ROOT, image, log

from cluster import Cluster

KUBECTL_MANAGER = "xr-bench-kubectl"
Command = tuple[list[str], set[int]]  # argv, accepted exit codes
ROLLOUT_STEPS = ("first", "change")  # the steps that end when the new pods are rolled out


def rollout_problem(state: tuple[str, int, int, int], tag: str) -> str | None:
    """What is wrong with a Deployment's (image, updated, available, replicas) after a step
    that rolls out image tag; None when it is rolled out."""
    img, updated, available, replicas = state
    if img != image(tag) or available < 1 or updated != replicas:
        return f"image={img} updated={updated} available={available}"
    return None


class Runners:
    def __init__(self, work: Path, helm: str, kubectl: str, env: dict[str, str]) -> None:
        self.work, self.helm, self.kubectl, self.env = work, helm, kubectl, env
        # Set by the preflight from `make render` (bench/manifests.py): the role's objects, and
        # the chart and naive templates generated from them.
        self.manifests: list[dict[str, Any]] = []
        self.chart = work / "chart"
        self.naive_templates = work / "naive-templates"
        self.failures: list[dict[str, Any]] = []

    def manifest_file(self, ns: str, tag: str) -> Path:
        """The release's objects for namespace ns and image tag, one multi-document file (the
        input of kubectl and F; written once, untimed)."""
        out = self.work / "manifests" / f"{ns}-{tag}.yaml"
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            docs = []
            for doc in json.loads(json.dumps(self.manifests)):
                doc["metadata"]["namespace"] = ns
                if doc["kind"] == "Deployment":
                    doc["spec"]["template"]["spec"]["containers"][0]["image"] = image(tag)
                docs.append(doc)
            out.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        return out

    def commands(self, tool: str, step: str, ns: str, tag: str) -> list[Command]:
        """The commands of one measured run; [] where the tool has no such step."""
        return getattr(self, f"_{tool}")(step, ns, tag)

    def _collection(self, step: str, ns: str, tag: str) -> list[Command]:
        if step == "render":
            out = self.work / "render" / ns
            shutil.rmtree(out, ignore_errors=True)
            return [
                (
                    [
                        PLAYBOOK,
                        "playbooks/render.yml",
                        "-e",
                        f"exchange_router_render_dir={out}",
                        "-e",
                        f"exchange_router_namespace={ns}",
                    ],
                    {0},
                )
            ]
        return [self.collection_deploy(step, tag, ["-e", f"exchange_router_namespace={ns}"])]

    @staticmethod
    def collection_deploy(step: str, tag: str, target: list[str]) -> Command:
        """playbooks/deploy.yml for one deploy step (first, noop, check, change) of the release
        targets chosen by target: one namespace (-e exchange_router_namespace=NS) or, in the
        scale phase, an inventory with one host per namespace."""
        argv = [PLAYBOOK, "playbooks/deploy.yml", *target]
        if tag != DEFAULT_TAG:
            argv += ["-e", f"exchange_router_image={image(tag)}"]
        return (argv + (["--check", "--diff"] if step == "check" else []), {0})

    def _floor(self, step: str, ns: str, tag: str) -> list[Command]:
        if step == "render":
            return []
        argv = [PLAYBOOK, "bench/floor.yml", "-e", f"floor_manifests={self.manifest_file(ns, tag)}"]
        if step == "check":
            return [([*argv, "--check", "--diff"], {0})]
        if step == "noop":
            return [(argv, {0})]
        # F + the rollout wait: kubernetes.core.k8s's own wait polls every 5 s (wait_sleep), far
        # coarser than a rollout on kwok; kubectl's watch measures the wait itself.
        return [(argv, {0}), self._rollout_status(ns)]

    def _naive(self, step: str, ns: str, tag: str) -> list[Command]:
        if step == "render":
            return []
        argv = [PLAYBOOK, "bench/naive.yml", "-e", f"naive_templates={self.naive_templates}"]
        argv += ["-e", f"naive_namespace={ns}", "-e", f"naive_image={image(tag)}"]
        return [(argv + (["--check", "--diff"] if step == "check" else []), {0})]

    def _kubectl(self, step: str, ns: str, tag: str) -> list[Command]:
        if step == "render":
            return []
        src = str(self.manifest_file(ns, tag))
        common = ["--server-side", f"--field-manager={KUBECTL_MANAGER}", "--force-conflicts"]
        if step == "check":
            return [([self.kubectl, "diff", *common, "-f", src], {0, 1})]
        return [([self.kubectl, "apply", *common, "-f", src], {0}), self._rollout_status(ns)]

    def _rollout_status(self, ns: str) -> Command:
        argv = [self.kubectl, "-n", ns, "rollout", "status", f"deployment/{DEPLOYMENT}"]
        return ([*argv, "--timeout=300s"], {0})

    def _helm(self, step: str, ns: str, tag: str) -> list[Command]:
        chart = str(self.chart)
        if step == "render":
            out = self.work / "helm-render" / ns
            shutil.rmtree(out, ignore_errors=True)
            return [
                ([self.helm, "template", RELEASE, chart, "-n", ns, "--output-dir", str(out)], {0})
            ]
        argv = [self.helm, "upgrade", "--install", RELEASE, chart, "-n", ns]
        if tag != DEFAULT_TAG:
            argv += ["--set", f"image.tag={tag}"]
        argv += ["--dry-run=server"] if step == "check" else ["--wait", "--timeout", "300s"]
        return [(argv, {0})]

    def _empty(self, step: str, ns: str, tag: str) -> list[Command]:
        return [([PLAYBOOK, "bench/profile/empty.yml"], {0})] if step == "render" else []

    def execute(
        self,
        tool: str,
        step: str,
        ns: str,
        tag: str,
        cluster: Cluster,
        env: dict[str, str] | None = None,
        metrics: bool = False,
    ) -> dict[str, Any]:
        """Run one measured step: seconds cover its commands and nothing else. With metrics,
        apiserver_request_total is read right before and after them. A step that rolls out is
        checked afterwards (untimed): the expected image, updated and available."""
        from apicount import classify_metrics

        cmds = self.commands(tool, step, ns, tag)
        outputs, ok = [], True
        before = cluster.request_totals() if metrics else {}
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
            rec["metrics"] = classify_metrics(before, cluster.request_totals())
        text = "\n".join(outputs)
        changed = re.findall(r"^\S+\s+:\s+ok=\d+\s+changed=(\d+)", text, re.M)
        if changed:
            rec["changed"] = sum(int(c) for c in changed)
        if tool == "kubectl" and step == "check":
            rec["changed"] = int(bool(text.strip()))
        if ok and step in ROLLOUT_STEPS and tool != "empty":
            problem = rollout_problem(cluster.deployment_state(ns), tag)
            if problem:
                ok = rec["ok"] = False
                text += f"\nverify: {problem}"
        if not ok:
            rec["output_tail"] = text[-3000:]
            self.failures.append(rec)
            log(f"FAILED {tool} {step} in {ns}:\n{text[-1500:]}")
        return rec
