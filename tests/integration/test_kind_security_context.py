"""The kind tier: a securityContext merged over the restricted preset is what the kubelet runs.
The kubelet reports the identity the container's process got from the runtime in the pod's status
(containerStatuses[].user.linux: uid, gid, supplementalGroups); the preset alone is the control."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import Cluster, create_secret

pytestmark = pytest.mark.kind

IMAGE = "exchange-platform/standin:dev"
GOOD = {
    "server_addr": "0.0.0.0:8080",
    "database_url": "postgres://router:kind-tier@postgres:5432/exchange",
    "redis_url": "redis://redis:6379/0",
}


def _identities(kind: Cluster, namespace: str) -> list[tuple[int, int, list[int]]]:
    """(uid, gid, supplementalGroups) of each running router container, as the kubelet reports
    them (once every pod of the release is the latest and reports one)."""
    for _attempt in range(60):
        pods = kind.core.list_namespaced_pod(namespace, label_selector="app=exchange-router").items
        live = [p for p in pods if not p.metadata.deletion_timestamp]
        users = [s.user for p in live for s in (p.status.container_statuses or []) if s.ready]
        if users and len(users) == len(live) and all(u and u.linux for u in users):
            return [(u.linux.uid, u.linux.gid, sorted(u.linux.supplemental_groups)) for u in users]
        time.sleep(1)
    raise AssertionError(f"no identity reported: {[p.status for p in pods]}")


def test_the_merged_security_context_is_the_running_containers_identity(
    kind: Cluster, kind_namespace: str
) -> None:
    create_secret(kind, kind_namespace, GOOD)
    values: dict[str, Any] = {
        "exchange_router_namespace": kind_namespace,
        "exchange_router_image": IMAGE,
        "exchange_router_progress_deadline_seconds": 120,
        "exchange_router_autoscaling": {"enabled": False},
        "exchange_router_pod_security_level": "restricted",
    }
    run = kind.deploy(values)
    assert run.ok, run.output
    # the control: the restricted preset alone runs as exchange_router_run_as_user
    preset = _identities(kind, kind_namespace)
    assert [uid for uid, _gid, _groups in preset] == [65532], preset
    assert all(2000 not in groups for _uid, _gid, groups in preset), preset

    merged = {
        **values,
        # containerd needs the pod's own user beside its group (pod_rules.py refuses it otherwise)
        "exchange_router_pod_security_context": {
            "runAsUser": 1000,
            "runAsGroup": 3000,
            "fsGroup": 2000,
        },
        # the container's user wins over the restricted preset's 65532 (and the pod's 1000)
        "exchange_router_container_security_context": {"runAsUser": 1001},
    }
    run = kind.deploy(merged)
    assert run.ok, run.output
    ((uid, gid, groups),) = _identities(kind, kind_namespace)
    assert (uid, gid) == (1001, 3000)
    assert 2000 in groups  # fsGroup, a supplemental group of the process
    container = kind.apps.read_namespaced_deployment(
        "exchange-router-deployment", kind_namespace
    ).spec.template.spec.containers[0]
    assert container.security_context.capabilities.drop == ["ALL"]  # the preset's, kept
