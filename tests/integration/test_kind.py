"""The kind tier: what only a real kubelet shows (make molecule-kind runs these on its second kind
cluster, beside the half it runs on molecule's). The stand-in application (cluster/kind/standin)
exits 2 when SERVER_ADDR has no port and 1 when a backend does not accept TCP connections; the
backends are TCP listeners; the Sealed Secrets controller and metrics-server run in the cluster."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from conftest import Cluster, grant_deployer, vaulted_vars
from kubernetes import client

from ansible_collections.exchange.platform.plugins.filter.seal import FilterModule

pytestmark = pytest.mark.kind
seal = FilterModule().filters()["seal"]

IMAGE = "exchange-platform/standin:dev"
GOOD = {
    "server_addr": "0.0.0.0:8080",
    "database_url": "postgres://router:kind-tier@postgres:5432/exchange",
    "redis_url": "redis://redis:6379/0",
}
BASE = {"exchange_router_image": IMAGE, "exchange_router_progress_deadline_seconds": 120}


def deploy_plain(kind: Cluster, namespace: str, secret: dict[str, str], *args: str, **kw):
    values = dict(BASE, exchange_router_namespace=namespace, exchange_router_secret_mode="plain")
    return kind.playbook(
        kw.pop("playbook", "deploy"),
        None,
        "--vault-password-file",
        str(kind.work / "vault-password"),
        *args,
        vars_text=vaulted_vars(kind, values, secret),
        **kw,
    )


def secret_values(kind: Cluster, namespace: str) -> dict[str, str]:
    data = kind.core.read_namespaced_secret("exchange-router-secret", namespace).data
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def env_hashes(kind: Cluster, namespace: str) -> list[dict[str, str]]:
    """GET /env-hashes from each running pod of the release, through the API server's proxy:
    the sha256 of each value the pod's environment got, never the value."""
    pods = kind.core.list_namespaced_pod(namespace, label_selector="app=exchange-router").items
    found = []
    for pod in pods:
        if pod.metadata.deletion_timestamp or pod.status.phase != "Running":
            continue
        answer = kind.core.connect_get_namespaced_pod_proxy_with_path(
            f"{pod.metadata.name}:8080", namespace, "env-hashes", _preload_content=False
        )
        found.append(json.loads(answer.data))
    return found


def hashes_of(values: dict[str, str]) -> dict[str, str]:
    return {k.upper(): hashlib.sha256(v.encode()).hexdigest() for k, v in values.items()}


@pytest.mark.parametrize(
    ("bad", "exit_code", "log_line"),
    [
        ({"server_addr": "0.0.0.0"}, 2, "SERVER_ADDR must be host:port"),
        (
            {"redis_url": "redis://nowhere.invalid:6379/0"},
            1,
            "REDIS_URL: its host does not accept TCP connections",
        ),
    ],
    ids=["server-addr-without-port", "unreachable-redis"],
)
def test_a_crash_loop_fails_fast_with_exit_code_and_log_and_restores_the_secret(
    kind: Cluster, kind_namespace: str, bad: dict[str, str], exit_code: int, log_line: str
) -> None:
    first = deploy_plain(kind, kind_namespace, GOOD)
    assert first.ok, first.output
    assert env_hashes(kind, kind_namespace) == [hashes_of(GOOD)]

    broken = dict(GOOD, **bad)
    run = deploy_plain(kind, kind_namespace, broken)
    assert not run.ok
    assert f"exited with code {exit_code}" in run.output, run.output
    assert log_line in run.output, run.output
    assert "ProgressDeadlineExceeded" not in run.output  # diagnosed, not waited out
    assert "Rolled back to revision 1" in run.output, run.output
    for value in bad.values():
        assert value not in run.output
    assert GOOD["database_url"] not in run.output
    # The whole previous revision is back: the plain-mode Secret too, and pods serve again.
    assert secret_values(kind, kind_namespace) == GOOD
    status = kind.apps.read_namespaced_deployment(
        "exchange-router-deployment", kind_namespace
    ).status
    assert status.available_replicas == 1, status


def _controller_cert(kind: Cluster) -> str:
    answer = kind.core.connect_get_namespaced_service_proxy_with_path(
        "sealed-secrets-controller:http", "kube-system", "v1/cert.pem", _preload_content=False
    )
    return answer.data.decode()


def _sealed(namespace: str, cert: str, scope: str, values: dict[str, str], name: str = ""):
    name = name or ("exchange-router-secret" if scope == "strict" else "")
    return dict(
        BASE,
        exchange_router_namespace=namespace,
        exchange_router_secret_mode="sealed",
        exchange_router_sealed_secret_scope=scope,
        exchange_router_sealed_secret_encrypted_data={
            key: seal(value, cert=cert, namespace=namespace, name=name, scope=scope)
            for key, value in values.items()
        },
    )


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_sealed_secrets_unsealed_by_the_controller_reach_the_pods_and_rotation_rolls_them(
    kind: Cluster, kind_namespace: str, scope: str
) -> None:
    cert = _controller_cert(kind)
    run = kind.deploy(_sealed(kind_namespace, cert, scope, GOOD))
    assert run.ok, run.output
    assert env_hashes(kind, kind_namespace) == [hashes_of(GOOD)]

    rotated = dict(GOOD, database_url="postgres://router:rotated@postgres:5432/exchange")
    run = kind.deploy(_sealed(kind_namespace, cert, scope, rotated))
    assert run.ok, run.output
    assert "rotated" not in run.output
    assert env_hashes(kind, kind_namespace) == [hashes_of(rotated)]


def test_a_strict_sealed_secret_under_another_name_stays_sealed(
    kind: Cluster, kind_namespace: str
) -> None:
    cert = _controller_cert(kind)
    run = kind.deploy(_sealed(kind_namespace, cert, "strict", GOOD, name="another-name"))
    assert not run.ok
    assert "could not unseal" in run.output, run.output
    assert not kind.apps.list_namespaced_deployment(
        kind_namespace, label_selector="app.kubernetes.io/managed-by=exchange.platform"
    ).items


def test_least_privilege_deploys_rolls_back_and_removes_on_a_real_kubelet(
    kind: Cluster, kind_namespace: str
) -> None:
    """As the ServiceAccount playbooks/rbac.yml makes: a deploy whose pods pass the readiness
    probe, a crash loop diagnosed from its log (pods/log) and rolled back, rollback.yml,
    history.yml and removal."""
    grant_deployer(kind, kind_namespace)
    kubeconfig = kind.service_account_kubeconfig(kind_namespace, "exchange-router-deployer")

    first = deploy_plain(kind, kind_namespace, GOOD, kubeconfig=kubeconfig)
    assert first.ok, first.output
    crash = deploy_plain(
        kind, kind_namespace, dict(GOOD, server_addr="0.0.0.0"), kubeconfig=kubeconfig
    )
    assert not crash.ok
    assert "forbidden" not in crash.output, crash.output
    assert "SERVER_ADDR must be host:port" in crash.output, crash.output
    assert "Rolled back to revision 1" in crash.output, crash.output
    assert secret_values(kind, kind_namespace) == GOOD

    values = dict(
        BASE, exchange_router_namespace=kind_namespace, exchange_router_rollback_revision=1
    )
    back = kind.playbook("rollback", values, kubeconfig=kubeconfig)
    assert back.ok, back.output
    history = kind.playbook("history", values, kubeconfig=kubeconfig)
    assert history.ok and "system:serviceaccount:" in history.output, history.output

    removed = kind.playbook("remove", values, kubeconfig=kubeconfig)
    assert removed.ok, removed.output
    assert not kind.apps.list_namespaced_deployment(
        kind_namespace, label_selector="app.kubernetes.io/managed-by=exchange.platform"
    ).items
    with pytest.raises(client.ApiException):  # the release created it: removal deletes it
        kind.core.read_namespaced_secret("exchange-router-secret", kind_namespace)


def test_secret_mode_changes_keep_the_pods_environment_and_never_touch_a_foreign_secret(
    kind: Cluster, kind_namespace: str
) -> None:
    """plain -> sealed -> plain -> existing -> plain and back to sealed, on the real Sealed
    Secrets controller: the pods' environment is right at each step; the release's own Secret is
    handed to the controller and taken back; a Secret it did not create is taken only with
    exchange_router_secret_adopt; a Secret of someone else's is never touched."""
    kind.core.create_namespaced_secret(
        kind_namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="someone-elses"), string_data=GOOD),
    )
    foreign = kind.core.read_namespaced_secret("someone-elses", kind_namespace).metadata
    cert = _controller_cert(kind)
    steps = [
        dict(GOOD, database_url=f"postgres://router:step{i}@postgres:5432/x") for i in range(5)
    ]

    assert deploy_plain(kind, kind_namespace, steps[0]).ok
    assert env_hashes(kind, kind_namespace) == [hashes_of(steps[0])]
    run = kind.deploy(_sealed(kind_namespace, cert, "strict", steps[1]))
    assert run.ok, run.output
    assert env_hashes(kind, kind_namespace) == [hashes_of(steps[1])]
    run = deploy_plain(kind, kind_namespace, steps[2])
    assert run.ok, run.output
    assert env_hashes(kind, kind_namespace) == [hashes_of(steps[2])]
    owners = kind.core.read_namespaced_secret("exchange-router-secret", kind_namespace)
    assert not owners.metadata.owner_references and not owners.metadata.annotations
    existing = dict(BASE, exchange_router_namespace=kind_namespace)
    run = kind.deploy(existing)
    assert run.ok, run.output
    assert env_hashes(kind, kind_namespace) == [hashes_of(steps[2])]
    refused = deploy_plain(kind, kind_namespace, steps[3])
    assert not refused.ok and "exchange_router_secret_adopt" in refused.output, refused.output
    assert secret_values(kind, kind_namespace) == steps[2]
    adopted = deploy_plain(
        kind, kind_namespace, steps[3], "-e", "exchange_router_secret_adopt=true"
    )
    assert adopted.ok, adopted.output
    assert env_hashes(kind, kind_namespace) == [hashes_of(steps[3])]
    run = kind.deploy(_sealed(kind_namespace, cert, "strict", steps[4]))
    assert run.ok, run.output
    assert env_hashes(kind, kind_namespace) == [hashes_of(steps[4])]
    after = kind.core.read_namespaced_secret("someone-elses", kind_namespace).metadata
    assert after.resource_version == foreign.resource_version
