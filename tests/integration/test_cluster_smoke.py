"""The clusters' own smoke checks (cluster/kwok/smoke.sh, cluster/kind/smoke.sh) in `make test`.

Each refusal they check comes with its control, the same request succeeding where it should: the
kwok smoke's never-ready pod beside Ready ones, a non-compliant pod refused where a compliant one
is admitted, a user Forbidden until bound, the apiserver down and back; the kind smoke's client
that reaches the stand-in's pod straight before the NetworkPolicy and is refused after it, while
the edge answers both times.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import CLUSTER, KIND_CLUSTER_NAME, ROOT, Cluster


def run_script(path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One of the cluster scripts, its output kept for the assertions (30 min at most: a build
    it starts may have much to do)."""
    return subprocess.run(
        [str(path), *args], capture_output=True, text=True, check=False, timeout=1800, env=env
    )


def test_the_kwok_smoke_checks_on_a_throwaway_cluster() -> None:
    """On a kwok cluster of its own: its apiserver outage must not reach the shared cluster
    (another checkout's tests may be using it)."""
    env = dict(os.environ, KWOK_CLUSTER_NAME=f"exchange-platform-smoke-{uuid.uuid4().hex[:8]}")
    try:
        smoke = run_script(ROOT / "cluster/kwok/smoke.sh", env=env)
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr[-4000:]
        assert "FAIL" not in smoke.stdout, smoke.stdout
        assert "restricted namespace admits a compliant pod" in smoke.stdout
        assert "user alice allowed after binding" in smoke.stdout
    finally:
        run_script(CLUSTER, "down", env=env)


@pytest.mark.kind
def test_the_kind_edge_smoke_with_the_network_policy_and_its_control(kind: Cluster) -> None:
    env = dict(os.environ, KIND_CLUSTER_NAME=KIND_CLUSTER_NAME)
    smoke = run_script(ROOT / "cluster/kind/smoke.sh", env=env)
    assert smoke.returncode == 0, smoke.stderr[-6000:]
    before, after = smoke.stderr.split("client pod (after the NetworkPolicy):", 1)
    assert "straight to the pod: 200" in before, smoke.stderr[-6000:]
    assert "straight to the pod: refused" in after, smoke.stderr[-6000:]
    assert "edge smoke test passed" in after
