"""Least privilege: the shipped RBAC is enough to deploy, and nothing less is."""

from __future__ import annotations

from conftest import Cluster


def _grant(cluster: Cluster, namespace: str, group: str) -> None:
    run = cluster.playbook(
        "rbac",
        {
            "exchange_router_namespace": namespace,
            "exchange_router_deployer_subjects": [
                {"kind": "Group", "name": group, "apiGroup": "rbac.authorization.k8s.io"}
            ],
        },
    )
    assert run.ok, run.output


def test_a_deployer_with_exactly_the_shipped_rbac_can_deploy_and_remove(
    cluster: Cluster, namespace: str
) -> None:
    _grant(cluster, namespace, "exchange-deployers")
    kubeconfig = cluster.work / "deployer.kubeconfig"
    cluster.cluster_sh("user-kubeconfig", "deployer", "exchange-deployers", str(kubeconfig))
    values = {"exchange_router_namespace": namespace}

    run = cluster.deploy(values, kubeconfig=kubeconfig)
    assert run.ok, run.output
    assert cluster.apps.read_namespaced_deployment("exchange-router-deployment", namespace)

    rollout_failure = cluster.deploy(
        dict(
            values,
            exchange_router_pod_annotations={"exchange-platform.test/never-ready": "true"},
            exchange_router_progress_deadline_seconds=5,
        ),
        kubeconfig=kubeconfig,
    )
    assert not rollout_failure.ok
    assert "Rolled back to revision 1" in rollout_failure.output  # diagnostics + rollback allowed

    plain = dict(
        values,
        exchange_router_secret_mode="plain",
        exchange_router_secret_data={"server_addr": "a", "database_url": "b", "redis_url": "c"},
    )
    run = cluster.deploy(plain, kubeconfig=kubeconfig)
    assert run.ok, run.output
    removed = cluster.playbook("remove", values, kubeconfig=kubeconfig)
    assert removed.ok, removed.output


def test_a_user_without_the_rbac_gets_forbidden_and_nothing_is_applied(
    cluster: Cluster, namespace: str
) -> None:
    kubeconfig = cluster.work / "stranger.kubeconfig"
    cluster.cluster_sh("user-kubeconfig", "stranger", "strangers", str(kubeconfig))
    before = cluster.resource_versions(namespace)
    run = cluster.deploy({"exchange_router_namespace": namespace}, kubeconfig=kubeconfig)
    assert not run.ok
    assert "forbidden" in run.output
    assert 'User \\"stranger\\" cannot get resource \\"secrets\\"' in run.output or (
        'User "stranger" cannot get resource "secrets"' in run.output
    ), run.output
    assert cluster.resource_versions(namespace) == before
