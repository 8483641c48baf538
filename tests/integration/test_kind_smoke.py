"""The kind tier's edge smoke check (cluster/kind/smoke.sh) in `make test`: the stand-in behind
Traefik with three certificates from the CA ClusterIssuer, and the NetworkPolicy with its control:
the same client reaches the stand-in's pod straight before the policy is applied and is blocked
after it (curl timed out or was refused), while the edge answers both times. Then Prometheus
(namespace monitoring) and the edge's metrics with their control: a backend not yet called has no
series while the called one has code 200 counts; after requests to a stand-in with ERROR_RATE
through an HTTPRoute, Prometheus counts them all, the 500s in that share. (The kwok tier's smoke
checks run as `make smoke-kwok`, on a throwaway cluster of their own.)
"""

from __future__ import annotations

import os

import pytest
from conftest import KIND_CLUSTER_NAME, ROOT, Cluster
from test_second_checkout import run_script

pytestmark = pytest.mark.kind


def test_the_edge_end_to_end_and_the_network_policy_with_its_control(kind: Cluster) -> None:
    env = dict(os.environ, KIND_CLUSTER_NAME=KIND_CLUSTER_NAME)
    smoke = run_script(ROOT / "cluster/kind/smoke.sh", env=env)
    assert smoke.returncode == 0, smoke.stderr[-6000:]
    before, after = smoke.stderr.split("client pod (after the NetworkPolicy):", 1)
    assert "straight to the pod: 200" in before, smoke.stderr[-6000:]
    blocked = ("straight to the pod: timeout", "straight to the pod: refused")
    assert any(line in after for line in blocked), smoke.stderr[-6000:]
    assert "edge smoke test passed" in after
    control, counted = after.split("Prometheus, after", 1)
    assert 'gateway"): 0 series' in control, smoke.stderr[-6000:]
    assert '"code":"500"' in counted and '"code":"200"' in counted, smoke.stderr[-6000:]
    assert "metrics smoke test passed" in counted, smoke.stderr[-6000:]
