"""The canary on kind (issue 26): one continuous HTTPS client through Traefik's Gateway while a
deploy runs a new pod template on the canary by the HTTPRoute's weights, judged from what the
kind tier's Prometheus (cluster/kind/manifests/prometheus.yaml: Traefik scraped every 5 s, its
API on the node's NodePort 30090) counted of the canary's requests. The stand-in fails every
20th request with ERROR_RATE=0.05 (cluster/kind/standin/faults.go), so a canary of it must be
aborted at its first check, with at most about first weight x error rate of the client's
requests failed; the same release then takes a harmless change through every step and is
promoted with no request failed. The faults (slow, killed, no traffic) are in
test_kind_canary_faults.py, which uses these helpers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Cluster, Run
from kubernetes import client
from steady_client import SteadyClient
from test_kind import GOOD, deploy_plain
from test_kind_edge import _gateway

pytestmark = pytest.mark.kind

PROMETHEUS_NODE_PORT = 30090
CANARY = "exchange-router-canary"
STABLE_ONLY = {"exchange-router-service": 100, CANARY: 0}
STEPS = [{"weight": 20, "pause": 25}, {"weight": 50, "pause": 25}]


def _prometheus_url(kind: Cluster) -> str:
    """Prometheus's API as the engine reaches it from the controller: the kind node's address
    (a container of the project's own dockerd) and the Service's NodePort."""
    node = kind.core.list_node().items[0]
    ip = next(a.address for a in node.status.addresses if a.type == "InternalIP")
    return f"http://{ip}:{PROMETHEUS_NODE_PORT}"


def canary_values(kind: Cluster, namespace: str, host: str) -> dict[str, Any]:
    """A release of 2 pods on a Gateway of its own, with the canary on (two steps of 25 s)."""
    return dict(
        _gateway(kind, namespace, host),
        exchange_router_autoscaling={"enabled": False},
        exchange_router_replicas=2,
        # The kind node allocates 2 CPUs: at the promote, 2 stable pods, the rollout's surge pod
        # and the canary's at the default 300m each, beside the tier's own, left one Pending.
        exchange_router_resources={"requests": {"cpu": "100m"}, "limits": {"cpu": "1000m"}},
        exchange_router_lifecycle={"preStop": {"sleep": {"seconds": 5}}},
        exchange_router_canary={
            "enabled": True,
            "steps": STEPS,
            "window": 20,
            "min_requests": 10,
            "prometheus_url": _prometheus_url(kind),
        },
    )


def env_var(name: str, value: str) -> dict[str, Any]:
    return {"exchange_router_env": [{"name": name, "value": value}]}


@dataclass
class CanaryRelease:
    """The release the canary tests deploy, as whoever `kubeconfig` authenticates (None: the
    cluster's admin)."""

    kind: Cluster
    namespace: str
    values: dict[str, Any]
    kubeconfig: Path | None = None

    def deploy(self, *changes: dict[str, Any], background: bool = False) -> Any:
        """ansible-playbook deploy.yml with the release's values and `changes` over them."""
        values = dict(self.values)
        for change in changes:
            values.update(change)
        return deploy_plain(
            self.kind,
            self.namespace,
            GOOD,
            "-e",
            json.dumps(values),
            kubeconfig=self.kubeconfig,
            background=background,
        )

    def timed_deploy(self, *changes: dict[str, Any]) -> tuple[Run, float]:
        start = time.monotonic()
        run = self.deploy(*changes)
        return run, time.monotonic() - start


@contextmanager
def serving_canary_release(
    kind: Cluster, namespace: str, kubeconfig: Path | None = None
) -> Iterator[tuple[CanaryRelease, SteadyClient]]:
    """The release deployed with the canary on (no stable revision yet: a plain deploy), and the
    continuous client through its Gateway, serving, with every request on stable."""
    host = f"canary-{namespace}.kind.test"
    release = CanaryRelease(kind, namespace, canary_values(kind, namespace, host), kubeconfig)
    first = release.timed_deploy()[0]
    assert first.ok, first.output
    with SteadyClient(kind, namespace, host) as steady:
        steady.wait_serving()
        assert route_weights(kind, namespace) == STABLE_ONLY
        yield release, steady


def route_weights(kind: Cluster, namespace: str) -> dict[str, int]:
    route = client.CustomObjectsApi(kind.api).get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", namespace, "httproutes", "exchange-router-route"
    )
    refs = route["spec"]["rules"][0]["backendRefs"]
    return {ref["name"]: ref.get("weight", 1) for ref in refs}


def canary_replicas(kind: Cluster, namespace: str) -> int:
    return kind.apps.read_namespaced_deployment(CANARY, namespace).spec.replicas or 0


def test_a_bad_canary_is_aborted_at_once_and_a_good_one_is_promoted_with_no_failed_request(
    kind: Cluster, kind_namespace: str
) -> None:
    with serving_canary_release(kind, kind_namespace) as (release, steady):
        before = steady.counts()
        run, to_abort = release.timed_deploy(env_var("ERROR_RATE", "0.05"))
        seen = steady.counts() - before
        print(f"bad canary: aborted in {to_abort:.0f} s; the client saw {seen}")
        assert not run.ok, run.output
        assert "success rate" in run.output, run.output
        assert route_weights(kind, kind_namespace) == STABLE_ONLY
        assert canary_replicas(kind, kind_namespace) == 0
        # The canary had 20% of requests and failed 5% of its own: about 1% of all, while the
        # deploy lasted (its canary's start and stop included); twice that is the bound.
        assert seen.sent >= 200, seen
        assert seen.failed <= 2 * seen.sent * STEPS[0]["weight"] / 100 * 0.05 + 2, seen

        before = steady.counts()
        run, to_promote = release.timed_deploy(env_var("CANARY_RELEASE", "good"))
        seen = steady.counts() - before
        print(f"good canary: promoted in {to_promote:.0f} s; the client saw {seen}")
        assert run.ok, run.output
        assert seen.sent >= 200 and seen.failed == 0, (seen, steady.failures(before.at))
        assert route_weights(kind, kind_namespace) == STABLE_ONLY
        assert canary_replicas(kind, kind_namespace) == 0
        stable = kind.apps.read_namespaced_deployment("exchange-router-deployment", kind_namespace)
        env = stable.spec.template.spec.containers[0].env or []
        assert any(e.name == "CANARY_RELEASE" for e in env)  # stable runs the new template

    history = deploy_plain(kind, kind_namespace, GOOD, playbook="history")
    assert history.ok, history.output
    print(history.output[-3000:])
    assert "failed" in history.output and "deployed" in history.output
