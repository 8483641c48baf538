"""The release engine under production conditions: rejected values, partial and slow rollouts,
whole-release rollback, history, replica hand-off, removal by ownership, Secret rotation."""

from __future__ import annotations

import base64

from conftest import CRASH, SECRET_VALUES, Cluster, slow
from kubernetes import client

DEPLOYMENT = "exchange-router-deployment"
PLAIN = {"exchange_router_secret_mode": "plain", "exchange_router_secret_data": SECRET_VALUES}


def _deployment(cluster: Cluster, namespace: str) -> client.V1Deployment:
    return cluster.apps.read_namespaced_deployment(DEPLOYMENT, namespace)


def _image(cluster: Cluster, namespace: str) -> str:
    return _deployment(cluster, namespace).spec.template.spec.containers[0].image


def _secret(cluster: Cluster, namespace: str) -> dict[str, str]:
    data = cluster.core.read_namespaced_secret("exchange-router-secret", namespace).data
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def test_values_the_api_server_rejects_write_nothing_and_name_each_variable(
    cluster: Cluster, empty_namespace: str
) -> None:
    base = dict(PLAIN, exchange_router_namespace=empty_namespace)
    assert cluster.deploy(base).ok
    before = cluster.resource_versions(empty_namespace)
    run = cluster.deploy(
        dict(
            base,
            exchange_router_secret_data=dict(SECRET_VALUES, redis_url="redis://new-value:6379"),
            exchange_router_image="example/changed:2",
            exchange_router_readiness_probe={"tcpSocket": {"port": 70000}},
            exchange_router_tolerations=[{"key": "k", "operator": "Sometimes"}],
            # the container's env[3], after exchange_router_secret_env's three entries
            exchange_router_env=[{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "no"}}}],
        )
    )
    assert not run.ok
    assert "nothing was written" in run.output
    assert "exchange_router_readiness_probe:" in run.output
    assert "exchange_router_tolerations:" in run.output
    assert "exchange_router_env: Deployment" in run.output
    assert "exchange_router_secret_env:" not in run.output
    assert "redis://new-value" not in run.output
    # Every object, the Secret included, is exactly as it was.
    assert cluster.resource_versions(empty_namespace) == before
    assert _secret(cluster, empty_namespace) == SECRET_VALUES


def test_an_unchanged_redeploy_of_a_partial_rollout_is_reported_never_rolled_back(
    cluster: Cluster, namespace: str
) -> None:
    values = {"exchange_router_namespace": namespace}
    assert cluster.deploy(dict(values, exchange_router_image="example/app:a")).ok
    assert cluster.deploy(dict(values, exchange_router_image="example/app:b")).ok
    cluster.core.create_namespaced_resource_quota(
        namespace,
        client.V1ResourceQuota(
            metadata=client.V1ObjectMeta(name="pods"),
            spec=client.V1ResourceQuotaSpec(hard={"pods": "1"}),
        ),
    )
    # A scale-out (as the HPA would make it) that the quota blocks: ReplicaFailure.
    cluster.apps.patch_namespaced_deployment_scale(DEPLOYMENT, namespace, {"spec": {"replicas": 2}})
    for _attempt in range(60):
        conditions = _deployment(cluster, namespace).status.conditions or []
        if any(c.type == "ReplicaFailure" and c.status == "True" for c in conditions):
            break
        __import__("time").sleep(0.5)
    revisions = len(cluster.history(namespace))

    run = cluster.deploy(dict(values, exchange_router_image="example/app:b"))
    assert run.ok, run.output
    assert "not fully rolled out" in run.output and "nothing was rolled back" in run.output
    assert _image(cluster, namespace) == "example/app:b"
    assert len(cluster.history(namespace)) == revisions
    assert _deployment(cluster, namespace).spec.replicas == 2


def test_a_slow_rollout_this_run_did_not_start_is_not_judged(
    cluster: Cluster, namespace: str
) -> None:
    values = {"exchange_router_namespace": namespace, "exchange_router_pod_annotations": slow(40)}
    assert cluster.deploy({"exchange_router_namespace": namespace}).ok
    started = cluster.deploy(
        dict(values, exchange_router_image="example/app:slow", exchange_router_wait=False)
    )
    assert started.ok, started.output
    run = cluster.deploy(dict(values, exchange_router_image="example/app:slow"))
    assert run.ok, run.output
    assert "not fully rolled out" in run.output
    assert _image(cluster, namespace) == "example/app:slow"
    assert [r["status"] for r in cluster.history(namespace)] == ["superseded", "deployed"]


def test_a_crash_loop_fails_fast_and_restores_the_whole_previous_revision(
    cluster: Cluster, empty_namespace: str
) -> None:
    good = dict(PLAIN, exchange_router_namespace=empty_namespace)
    assert cluster.deploy(good).ok
    bad_secret = dict(SECRET_VALUES, redis_url="redis://unreachable-canary:6379/0")
    run = cluster.deploy(
        dict(
            good,
            exchange_router_secret_data=bad_secret,
            exchange_router_service_port=81,
            exchange_router_autoscaling={"enabled": False},
            exchange_router_replicas=2,
            exchange_router_pod_annotations=CRASH,
        )
    )
    assert not run.ok
    assert "exited with code 1" in run.output and "CrashLoopBackOff" in run.output
    assert "timed out" not in run.output
    assert "unreachable-canary" not in run.output
    assert "Rolled back to revision 1" in run.output
    assert "changed: true" in run.output
    # The whole revision 1 is back: Secret values, Service, HPA, pod template.
    assert _secret(cluster, empty_namespace) == SECRET_VALUES
    service = cluster.core.read_namespaced_service("exchange-router-service", empty_namespace)
    assert service.spec.ports[0].port == 80
    hpas = client.AutoscalingV2Api(cluster.api).list_namespaced_horizontal_pod_autoscaler(
        empty_namespace
    )
    assert [h.metadata.name for h in hpas.items] == ["exchange-router-hpa"]
    annotations = _deployment(cluster, empty_namespace).spec.template.metadata.annotations or {}
    assert "exchange-platform.test/crash" not in annotations
    history = cluster.history(empty_namespace)
    assert [(r["revision"], r["status"]) for r in history] == [
        (1, "superseded"),
        (2, "failed"),
        (3, "deployed"),
    ]
    assert history[-1]["description"] == "rollback to revision 1"


def test_replicas_hand_off_between_the_release_and_the_hpa(
    cluster: Cluster, namespace: str
) -> None:
    values = {
        "exchange_router_namespace": namespace,
        "exchange_router_autoscaling": {"enabled": False, "max_replicas": 6},
        "exchange_router_replicas": 3,
    }
    assert cluster.deploy(values).ok
    assert _deployment(cluster, namespace).spec.replicas == 3
    # off -> on keeps the count
    on = dict(values, exchange_router_autoscaling={"enabled": True, "max_replicas": 6})
    run = cluster.deploy(on)
    assert run.ok, run.output
    assert _deployment(cluster, namespace).spec.replicas == 3
    # the HPA scales out; a re-deploy (even a changed one) never undoes it
    cluster.apps.patch_namespaced_deployment_scale(DEPLOYMENT, namespace, {"spec": {"replicas": 5}})
    again = cluster.deploy(dict(on, exchange_router_image="example/app:next"))
    assert again.ok, again.output
    assert _deployment(cluster, namespace).spec.replicas == 5
    assert cluster.deploy(dict(on, exchange_router_image="example/app:next")).ok
    assert _deployment(cluster, namespace).spec.replicas == 5
    # on -> off sets exchange_router_replicas and removes the HPA
    off = dict(values, exchange_router_replicas=2)
    assert cluster.deploy(off).ok
    assert _deployment(cluster, namespace).spec.replicas == 2
    hpas = client.AutoscalingV2Api(cluster.api).list_namespaced_horizontal_pod_autoscaler(namespace)
    assert not hpas.items


def test_removal_deletes_the_plain_secret_it_created_without_the_vault_password(
    cluster: Cluster, empty_namespace: str
) -> None:
    assert cluster.deploy(dict(PLAIN, exchange_router_namespace=empty_namespace)).ok
    vaulted = (
        f"exchange_router_namespace: {empty_namespace}\nexchange_router_secret_mode: plain\n"
        "exchange_router_secret_data:\n  server_addr: !vault |\n"
        "    $ANSIBLE_VAULT;1.1;AES256\n    61626364\n"
    )
    removed = cluster.playbook("remove", vars_text=vaulted)
    assert removed.ok, removed.output
    assert not cluster.core.list_namespaced_secret(empty_namespace).items
