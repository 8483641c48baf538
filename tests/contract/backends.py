"""The two clusters of the contract suite, behind one `Backend`: its `client` (the `Client` the
engine would be given) and a namespace of the test's own. What a test needs that is no `Client`
call (a pod that runs and logs, a PodDisruptionBudget the disruption controller has counted) each
backend provides as its cluster would: on kwok, its stages make the pods Ready and its `Logs`
resource (the CRD cluster/kwokctl.yaml.in enables) serves their logs from files the test writes;
the fake is told the same through its test helpers (status, set_log).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.client import (
    Client,
    KubeError,
    Ref,
)
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fake_cluster import (
    FakeCluster,
)

# A kwok pod's "image": nothing pulls it.
IMAGE = "contract.invalid/none:1"
# kwok's fake nodes carry this taint unless a pod tolerates it.
TOLERATIONS = [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def until(what: str, probe: Callable[[], Any], seconds: float = 60) -> Any:
    """Poll `probe` until it returns something true; fail saying what never happened."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = probe()
        except KubeError as error:
            found, last = None, error
        else:
            last = None
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {seconds:.0f}s (last error: {last})")
        time.sleep(0.25)


def pod(namespace: str, name: str, labels: dict[str, str], containers: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "containers": [{"name": c, "image": IMAGE} for c in containers],
            "tolerations": TOLERATIONS,
        },
    }


def ready(obj: dict[str, Any] | None) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


# container -> (its log, its previous instance's log or None)
Logs = dict[str, tuple[str, str | None]]


@dataclass
class Backend:
    """One cluster seen through `Client`, with a namespace of the test's own."""

    name: str
    client: Client
    namespace: str
    missing_namespace: str = field(default_factory=lambda: f"xr-none-{uuid.uuid4().hex[:8]}")

    def run_pod(
        self,
        name: str,
        labels: dict[str, str],
        logs: Logs | None = None,
    ) -> None:
        """A Ready pod with one container per `logs` entry (name -> (current log, previous
        instance's log or None)); one container "app" with no output when not given."""
        self.start_pod(name, labels, logs or {"app": ("", None)})

    def start_pod(self, name: str, labels: dict[str, str], logs: Logs) -> None:
        raise NotImplementedError

    def settle(self, budget: str, allowed: int) -> None:
        """Wait until the disruption controller has counted the PodDisruptionBudget's pods and
        allows `allowed` disruptions."""
        raise NotImplementedError


@dataclass
class FakeBackend(Backend):
    fake: FakeCluster = field(default_factory=FakeCluster)

    def start_pod(self, name: str, labels: dict[str, str], logs: Logs) -> None:
        self.client.create(pod(self.namespace, name, labels, list(logs)))
        live = self.fake.objects[Ref("Pod", self.namespace, name)]
        live["status"] = {  # what kwok's pod-ready stage writes
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": c, "ready": True, "restartCount": 0, "state": {"running": {}}}
                for c in logs
            ],
        }
        for container, (current, previous) in logs.items():
            self.fake.set_log(self.namespace, name, container, current, previous)

    def settle(self, budget: str, allowed: int) -> None:
        """The fake counts a budget's pods when a pod is evicted."""


@dataclass
class KwokBackend(Backend):
    logs_dir: Path = Path()

    def start_pod(self, name: str, labels: dict[str, str], logs: Logs) -> None:
        if any(text for pair in logs.values() for text in pair):
            self._serve_logs(name, logs)
        self.client.create(pod(self.namespace, name, labels, list(logs)))
        until(f"pod {name} Ready", lambda: ready(self.client.get("Pod", self.namespace, name)))
        if any(text for pair in logs.values() for text in pair):
            container = next(iter(logs))
            until(  # kwok-controller watches Logs objects: it may not have seen this one yet
                f"kwok serving the logs of pod {name}",
                lambda: self.client.log(self.namespace, name, container, 1, False) is not None,
            )

    def _serve_logs(self, name: str, logs: Logs) -> None:
        """kwok's Logs resource: each container's log files, written in the CRI log format a
        kubelet reads."""
        entries = []
        for container, (current, previous) in logs.items():
            entry: dict[str, Any] = {"containers": [container]}
            for key, text in (("logsFile", current), ("previousLogsFile", previous)):
                if text is not None:
                    path = self.logs_dir / f"{name}-{container}-{key}.log"
                    path.write_text(
                        "".join(
                            f"2026-01-01T00:00:00.000000000Z stdout F {line}\n"
                            for line in text.splitlines()
                        )
                    )
                    entry[key] = str(path)
            entries.append(entry)
        request = self.client.request  # type: ignore[attr-defined]
        try:
            request(
                "POST",
                f"/apis/kwok.x-k8s.io/v1alpha1/namespaces/{self.namespace}/logs",
                body={
                    "apiVersion": "kwok.x-k8s.io/v1alpha1",
                    "kind": "Logs",
                    "metadata": {"name": name, "namespace": self.namespace},
                    "spec": {"logs": entries},
                },
            )
        except KubeError as error:
            if error.status != 404:
                raise
            pytest.fail(
                "this kwok cluster has no Logs resource: it was made before "
                "cluster/kwokctl.yaml.in enabled kwok's Logs CRD; recreate it with: "
                "cluster/kwok.sh up --recreate"
            )

    def settle(self, budget: str, allowed: int) -> None:
        def counted() -> bool:
            pdb = self.client.get("PodDisruptionBudget", self.namespace, budget) or {}
            status = pdb.get("status") or {}
            return (
                status.get("observedGeneration") == pdb["metadata"]["generation"]
                and status.get("disruptionsAllowed") == allowed
            )

        until(f"PodDisruptionBudget {budget} allowing {allowed}", counted)
