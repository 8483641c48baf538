"""Least privilege: the shipped RBAC is enough to deploy, and nothing less is."""

from __future__ import annotations

import datetime

import yaml
from conftest import (
    CRASH,
    SECRET_VALUES,
    Cluster,
    create_secret,
    deployer_can,
    edit_image_by_hand,
    flat,
    grant_deployer,
    make_namespace,
    slow,
)
from kubernetes import client


def test_the_shipped_serviceaccount_deploys_slowly_rolls_back_removes_and_takes_over_a_lock(
    cluster: Cluster, namespace: str
) -> None:
    """Everything a deployer does, as the ServiceAccount playbooks/rbac.yml makes, under real
    timing: a rollout lasting several lock renewals, a crash loop diagnosed (pods/log) and
    rolled back, the rollback playbook, a dead run's lock taken over, the drift report (read
    object by object: the deployer may not list across namespaces), removal."""
    grant_deployer(cluster, namespace)
    kubeconfig = cluster.service_account_kubeconfig(namespace, "exchange-router-deployer")
    values = {"exchange_router_namespace": namespace}

    slow_run = cluster.deploy(
        dict(values, exchange_router_pod_annotations=slow(25)), kubeconfig=kubeconfig
    )
    assert slow_run.ok, slow_run.output

    crash = cluster.deploy(
        dict(values, exchange_router_pod_annotations=CRASH), kubeconfig=kubeconfig
    )
    assert not crash.ok
    assert "CrashLoopBackOff" in crash.output and "forbidden" not in crash.output
    assert "Rolled back to revision 1" in crash.output

    back = cluster.playbook(
        "rollback", dict(values, exchange_router_rollback_revision=1), kubeconfig=kubeconfig
    )
    assert back.ok, back.output
    history = cluster.playbook("history", values, kubeconfig=kubeconfig)
    assert history.ok and "system:serviceaccount:" in history.output, history.output

    leases = client.CoordinationV1Api(cluster.api)
    leases.create_namespaced_lease(
        namespace,
        client.V1Lease(
            metadata=client.V1ObjectMeta(name="exchange-router-deploy-lock"),
            spec=client.V1LeaseSpec(
                holder_identity="a run that died",
                lease_duration_seconds=30,
                acquire_time=datetime.datetime.now(datetime.UTC),
                renew_time=datetime.datetime.now(datetime.UTC),
            ),
        ),
    )
    takeover = cluster.deploy(
        dict(values, exchange_router_image="example/app:after"), kubeconfig=kubeconfig
    )
    assert takeover.ok, takeover.output

    # The drift report of a fleet as this deployer: bound in a second namespace too, it reports
    # both releases in one batch, whose list of each kind across namespaces its Roles refuse, so
    # the report reads each object instead (drift.Live) and still sees a hand edit.
    other = make_namespace(cluster)
    create_secret(cluster, other, SECRET_VALUES)
    granted = cluster.playbook(
        "rbac",
        {
            "exchange_router_namespace": other,
            "exchange_router_deployer_subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": "exchange-router-deployer",
                    "namespace": namespace,
                }
            ],
        },
    )
    assert granted.ok, granted.output
    assert cluster.deploy({"exchange_router_namespace": other}, kubeconfig=kubeconfig).ok
    assert deployer_can(cluster, namespace, "watch", "apps/deployments")  # the review's control
    assert not deployer_can(cluster, namespace, "list", "apps/deployments", everywhere=True)
    fleet = cluster.inventory(
        {
            "here": {"exchange_router_namespace": namespace},
            "other": {"exchange_router_namespace": other},
        }
    )
    clean = cluster.playbook("diff", {}, "-i", str(fleet), kubeconfig=kubeconfig)  # the control
    assert clean.ok and "changed=" in clean.output and "changed=1" not in clean.output, clean.output
    for ns in (namespace, other):
        assert f"in namespace {ns}: no drift from revision" in flat(clean.output)
    edit_image_by_hand(cluster, namespace)
    drift = cluster.playbook("diff", {}, "-i", str(fleet), kubeconfig=kubeconfig)
    out = flat(drift.output)
    assert drift.ok and "forbidden" not in out.lower(), drift.output
    assert f"in namespace {namespace}: 1 field drifted" in out, drift.output
    assert "spec.template.spec.containers[0].image" in out, drift.output
    assert f"in namespace {other}: no drift from revision" in out, drift.output
    cluster.core.delete_namespace(other)

    removed = cluster.playbook("remove", values, kubeconfig=kubeconfig)
    assert removed.ok, removed.output
    assert not cluster.apps.list_namespaced_deployment(namespace).items
    assert cluster.core.read_namespaced_secret(
        "exchange-router-secret", namespace
    )  # not the release's


def test_a_user_without_the_rbac_gets_forbidden_and_nothing_is_applied(
    cluster: Cluster, namespace: str
) -> None:
    kubeconfig = cluster.work / "stranger.kubeconfig"
    cluster.cluster_sh("user-kubeconfig", "stranger", "strangers", str(kubeconfig))
    before = cluster.resource_versions(namespace)
    run = cluster.deploy({"exchange_router_namespace": namespace}, kubeconfig=kubeconfig)
    assert not run.ok
    assert "forbidden" in run.output
    # The first request is the lock's: the message names the user, the verb and the resource.
    assert 'User "stranger" cannot get resource "leases"' in run.output, run.output
    assert cluster.resource_versions(namespace) == before


def test_a_bearer_token_from_the_environment_as_awx_injects_it(
    cluster: Cluster, namespace: str
) -> None:
    """AWX's Kubernetes bearer-token credential sets K8S_AUTH_HOST, K8S_AUTH_API_KEY and
    K8S_AUTH_SSL_CA_CERT and no kubeconfig: the engine and kubernetes.core.k8s both use them,
    and the token never reaches the output."""
    grant_deployer(cluster, namespace)
    token = cluster.service_account_token(namespace, "exchange-router-deployer")
    server = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
    env: dict[str, str | None] = {
        "KUBECONFIG": None,
        "K8S_AUTH_KUBECONFIG": None,
        "HOME": str(cluster.work),  # no ~/.kube/config to fall back on
        "K8S_AUTH_HOST": server["server"],
        "K8S_AUTH_API_KEY": token,
        "K8S_AUTH_SSL_CA_CERT": server["certificate-authority"],
    }
    run = cluster.deploy({"exchange_router_namespace": namespace}, "-vvv", env_override=env)
    assert run.ok, run.output
    assert token not in run.output
    history = cluster.history(namespace)
    assert history[-1]["deployer"] == (
        f"system:serviceaccount:{namespace}:exchange-router-deployer"
    ), history


def test_a_deployer_without_watch_waits_for_a_slow_rollout_by_polling(
    cluster: Cluster, namespace: str
) -> None:
    """An older deployer Role (before the engine followed rollouts with a watch) has no `watch`
    on Deployments: the engine's watch is refused and each rollout wait falls back to polling,
    so a rollout longer than the lock's renewal interval (10 s) is still waited for, and nothing
    says forbidden."""
    grant_deployer(cluster, namespace)
    rbac = client.RbacAuthorizationV1Api(cluster.api)
    role = rbac.read_namespaced_role("exchange-router-deployer", namespace)
    kept = [r for r in role.rules if r.verbs != ["watch"]]
    assert len(kept) == len(role.rules) - 1  # the one watch rule is gone
    role.rules = kept
    rbac.replace_namespaced_role("exchange-router-deployer", namespace, role)
    kubeconfig = cluster.service_account_kubeconfig(namespace, "exchange-router-deployer")
    assert not deployer_can(cluster, namespace, "watch", "apps/deployments")

    run = cluster.deploy(
        {"exchange_router_namespace": namespace, "exchange_router_pod_annotations": slow(15)},
        kubeconfig=kubeconfig,
    )
    assert run.ok, run.output
    assert "forbidden" not in run.output.lower(), run.output
    status = cluster.apps.read_namespaced_deployment("exchange-router-deployment", namespace).status
    assert status.available_replicas == status.replicas == status.updated_replicas == 1
    pod = cluster.core.list_namespaced_pod(namespace, label_selector="app=exchange-router").items
    ready = next(c for c in pod[0].status.conditions if c.type == "Ready")
    assert ready.status == "True"


def test_the_shipped_serviceaccount_creates_changes_prunes_and_removes_the_config_map(
    cluster: Cluster, namespace: str
) -> None:
    """The release's ConfigMap (exchange_router_config_files) as the deployer rbac.yml makes,
    granted by the catalogue alone: created, changed (the pods roll), pruned when the files
    are dropped, made again and removed by removal."""
    grant_deployer(cluster, namespace)
    kubeconfig = cluster.service_account_kubeconfig(namespace, "exchange-router-deployer")
    values = {"exchange_router_namespace": namespace}

    def deploy(files: dict[str, str]) -> str:
        run = cluster.deploy(
            dict(values, exchange_router_config_files=files), kubeconfig=kubeconfig
        )
        assert run.ok and "forbidden" not in run.output.lower(), run.output
        template = cluster.apps.read_namespaced_deployment(
            "exchange-router-deployment", namespace
        ).spec.template
        return (template.metadata.annotations or {}).get("exchange.platform/config-checksum", "")

    def config() -> dict[str, str] | None:
        found = cluster.core.list_namespaced_config_map(
            namespace, field_selector="metadata.name=exchange-router-config"
        ).items
        return found[0].data if found else None

    first = deploy({"app.yaml": "level: info\n"})
    assert config() == {"app.yaml": "level: info\n"} and first
    second = deploy({"app.yaml": "level: debug\n"})
    assert config() == {"app.yaml": "level: debug\n"} and second not in ("", first)
    assert deploy({}) == "" and config() is None  # pruned
    deploy({"app.yaml": "level: info\n"})
    removed = cluster.playbook("remove", values, kubeconfig=kubeconfig)
    assert removed.ok, removed.output
    assert config() is None
