"""The kind tier: the pods' files on a real kubelet. The release's ConfigMap
(exchange_router_config_files) and an emptyDir (exchange_router_volumes and
exchange_router_volume_mounts) are mounted in the stand-in, which reads them back
(GET /files/..., cluster/kind/standin/files.go), as it echoes an extra environment variable
(GET /env/ECHO_...); a changed file rolls the pods, and the new pods read the new content."""

from __future__ import annotations

import json

import pytest
from conftest import Cluster
from test_kind import GOOD, deploy_plain

pytestmark = pytest.mark.kind

MOUNT = "/etc/exchange-router"
SCRATCH = {"name": "scratch", "emptyDir": {}}


def answers(kind: Cluster, namespace: str, path: str) -> dict[str, str]:
    """pod name -> its answer to GET /<path>, from each running pod of the release, through the
    API server's proxy."""
    pods = kind.core.list_namespaced_pod(namespace, label_selector="app=exchange-router").items
    found = {}
    for pod in pods:
        if pod.metadata.deletion_timestamp or pod.status.phase != "Running":
            continue
        answer = kind.core.connect_get_namespaced_pod_proxy_with_path(
            f"{pod.metadata.name}:8080", namespace, path, _preload_content=False
        )
        found[pod.metadata.name] = answer.data.decode()
    return found


def values(config: str) -> str:
    return json.dumps(
        {
            "exchange_router_autoscaling": {"enabled": False},
            "exchange_router_replicas": 1,
            "exchange_router_config_files": {"app.yaml": config},
            "exchange_router_volumes": [SCRATCH],
            "exchange_router_volume_mounts": [{"name": "scratch", "mountPath": "/scratch"}],
            "exchange_router_env": [
                {"name": "STANDIN_FILES", "value": f"{MOUNT}:/scratch"},
                {"name": "ECHO_GREETING", "value": "hello from the inventory"},
            ],
        }
    )


def test_the_mounted_files_and_env_reach_the_app_and_a_changed_file_rolls_the_pods(
    kind: Cluster, kind_namespace: str
) -> None:
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", values("level: info\n"))
    assert run.ok, run.output
    first = answers(kind, kind_namespace, f"files{MOUNT}/app.yaml")
    assert list(first.values()) == ["level: info\n"], first
    assert list(answers(kind, kind_namespace, "files/scratch").values()) == ["[]\n"]
    greeting = answers(kind, kind_namespace, "env/ECHO_GREETING")
    assert list(greeting.values()) == ["hello from the inventory"]

    run = deploy_plain(kind, kind_namespace, GOOD, "-e", values("level: debug\n"))
    assert run.ok, run.output
    second = answers(kind, kind_namespace, f"files{MOUNT}/app.yaml")
    assert list(second.values()) == ["level: debug\n"], second
    assert not set(second) & set(first)  # new pods: the change rolled them
