"""Bad input, failed rollouts, outages and concurrent deploys against the real API server."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import yaml
from conftest import SECRET_VALUES, Cluster, create_secret, make_namespace, slow

NEVER_READY = {"exchange-platform.test/never-ready": "true"}

# One of each way invalid values are stopped (each value's message: tests/render, tests/unit):
# the argument spec, a rule of the role, a filter over the pure rules.
INVALID = {
    "wrong type": {"exchange_router_autoscaling": {"enabled": "sometimes"}},
    "port 70000": {"exchange_router_container_port": 70000},
    "request above limit": {
        "exchange_router_resources": {"requests": {"cpu": "3"}, "limits": {"cpu": "2"}}
    },
}


def test_invalid_values_leave_the_cluster_exactly_as_it_was(
    cluster: Cluster, namespace: str
) -> None:
    assert cluster.deploy({"exchange_router_namespace": namespace}).ok
    before = cluster.resource_versions(namespace)
    for name, values in INVALID.items():
        run = cluster.deploy(
            dict(
                values,
                exchange_router_namespace=namespace,
                exchange_router_image="example/changed:1",
            )
        )
        assert not run.ok, f"{name} was accepted"
        assert cluster.resource_versions(namespace) == before, f"{name} changed the cluster"


def _deployment(cluster: Cluster, namespace: str):
    return cluster.apps.read_namespaced_deployment("exchange-router-deployment", namespace)


def test_a_rollout_that_cannot_complete_fails_with_the_reason_and_rolls_back(
    cluster: Cluster, namespace: str
) -> None:
    assert cluster.deploy({"exchange_router_namespace": namespace}).ok
    good = _deployment(cluster, namespace)

    run = cluster.deploy(
        {
            "exchange_router_namespace": namespace,
            "exchange_router_image": "jogeshwar01/exchange-router:never-ready",
            "exchange_router_pod_annotations": NEVER_READY,
            "exchange_router_progress_deadline_seconds": 5,
            "exchange_router_rollout_timeout": 0,
        }
    )
    assert not run.ok
    assert "progress deadline exceeded" in run.output
    assert "timed out after" not in run.output  # failed on the condition, not our timeout
    assert "condition Progressing=False (ProgressDeadlineExceeded)" in run.output
    assert "Ready=False" in run.output  # the new pod's state
    assert (
        "Rolled back to revision 1 (recorded as revision 3); that rollout is complete."
        in run.output
    )

    after = _deployment(cluster, namespace)
    container = after.spec.template.spec.containers[0]
    assert container.image == good.spec.template.spec.containers[0].image
    assert "exchange-platform.test/never-ready" not in (
        after.spec.template.metadata.annotations or {}
    )
    assert after.status.updated_replicas == after.status.available_replicas == 1

    # The next good deploy converges on top of the rollback.
    again = cluster.deploy(
        {
            "exchange_router_namespace": namespace,
            "exchange_router_image": "jogeshwar01/exchange-router:next",
        }
    )
    assert again.ok, again.output
    assert _deployment(cluster, namespace).spec.template.spec.containers[0].image.endswith(":next")


def _kubeconfig_variant(cluster: Cluster, name: str, server: str | None = None) -> Path:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    if server:
        for entry in config["clusters"]:
            entry["cluster"]["server"] = server
    path = cluster.work / f"{name}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_an_unreachable_api_server_is_a_clear_error(cluster: Cluster, namespace: str) -> None:
    before = cluster.resource_versions(namespace)
    kubeconfig = _kubeconfig_variant(cluster, "unreachable", server="https://127.0.0.1:9")
    run = cluster.deploy({"exchange_router_namespace": namespace}, kubeconfig=kubeconfig)
    assert not run.ok
    assert "Cannot reach the API server" in run.output
    assert "Connection refused" in run.output
    assert cluster.resource_versions(namespace) == before


def test_a_wrong_context_is_a_clear_error(cluster: Cluster, namespace: str) -> None:
    before = cluster.resource_versions(namespace)
    run = cluster.deploy(
        {"exchange_router_namespace": namespace, "exchange_router_context": "no-such-context"}
    )
    assert not run.ok
    assert "no-such-context" in run.output
    assert cluster.resource_versions(namespace) == before


def _wait_for_line(process: subprocess.Popen[str], text: str) -> list[str]:
    seen = []
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never appeared:\n{''.join(seen)}")


def test_an_outage_in_the_middle_of_a_deploy_then_a_rerun_converges(
    cluster: Cluster, namespace: str
) -> None:
    assert cluster.deploy({"exchange_router_namespace": namespace}).ok
    values = {
        "exchange_router_namespace": namespace,
        "exchange_router_image": "jogeshwar01/exchange-router:after-outage",
        "exchange_router_pod_annotations": slow(10),
    }
    cluster.env["PYTHONUNBUFFERED"] = "1"
    process = cluster.playbook("deploy", values, background=True)
    assert isinstance(process, subprocess.Popen)
    try:
        _wait_for_line(process, "Release the batch")
        time.sleep(1)
        cluster.cluster_sh("stop-apiserver")
        rest, _stderr = process.communicate(timeout=300)
    finally:
        cluster.cluster_sh("start-apiserver")
        cluster.env.pop("PYTHONUNBUFFERED")
    assert process.returncode != 0, rest

    rerun = cluster.deploy(values)
    assert rerun.ok, rerun.output
    deployment = _deployment(cluster, namespace)
    assert deployment.spec.template.spec.containers[0].image.endswith(":after-outage")
    assert deployment.status.updated_replicas == deployment.status.available_replicas == 1


def test_each_distinct_reason_is_said_once(cluster: Cluster) -> None:
    """A pod refused by PodSecurity admission: the Deployment's condition and the ReplicaSet's
    events all carry the same violation; the failure states it once."""
    namespace = make_namespace(cluster, {"pod-security.kubernetes.io/enforce": "restricted"})
    try:
        create_secret(cluster, namespace, SECRET_VALUES)
        run = cluster.deploy({"exchange_router_namespace": namespace})
        assert not run.ok
        failure = run.output.split("fatal:", 1)[1]
        assert failure.count('violates PodSecurity "restricted') == 1, failure
    finally:
        cluster.core.delete_namespace(namespace)
