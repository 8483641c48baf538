"""Secret handling against the real API server: plain, sealed, existing, and no leaks."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from conftest import SECRET_VALUES, Cluster, vaulted_vars
from kubernetes import client

from ansible_collections.exchange.platform.plugins.filter.seal import FilterModule

seal = FilterModule().filters()["seal"]


def deploy_plain(cluster: Cluster, namespace: str, secret: dict[str, str], *args: str):
    values = {"exchange_router_namespace": namespace, "exchange_router_secret_mode": "plain"}
    return cluster.deploy(
        {},
        "--vault-password-file",
        str(cluster.work / "vault-password"),
        *args,
        vars_text=vaulted_vars(cluster, values, secret),
    )


def test_plain_mode_creates_the_secret_and_rolls_pods_only_when_it_changes(
    cluster: Cluster, empty_namespace: str
) -> None:
    run = deploy_plain(cluster, empty_namespace, SECRET_VALUES)
    assert run.ok, run.output
    stored = cluster.core.read_namespaced_secret("exchange-router-secret", empty_namespace)
    assert {k: base64.b64decode(v).decode() for k, v in stored.data.items()} == SECRET_VALUES
    first = cluster.apps.read_namespaced_deployment("exchange-router-deployment", empty_namespace)
    checksum = first.spec.template.metadata.annotations["exchange.platform/secret-checksum"]

    again = deploy_plain(cluster, empty_namespace, SECRET_VALUES)
    assert again.ok, again.output
    same = cluster.apps.read_namespaced_deployment("exchange-router-deployment", empty_namespace)
    assert same.metadata.generation == first.metadata.generation

    changed = dict(SECRET_VALUES, redis_url="redis://redis-2:6379/0")
    rolled = deploy_plain(cluster, empty_namespace, changed)
    assert rolled.ok, rolled.output
    new = cluster.apps.read_namespaced_deployment("exchange-router-deployment", empty_namespace)
    assert new.metadata.generation == first.metadata.generation + 1
    assert new.spec.template.metadata.annotations["exchange.platform/secret-checksum"] != checksum
    assert new.status.updated_replicas == new.status.available_replicas == 1


@pytest.fixture(scope="module")
def cert(cluster: Cluster) -> str:
    """The certificate of the real Sealed Secrets controller that `kwok.sh up` runs."""
    return cluster.cluster_sh("sealed-secrets-cert")


SCOPES = {
    "strict": {},
    "namespace-wide": {"sealedsecrets.bitnami.com/namespace-wide": "true"},
    "cluster-wide": {"sealedsecrets.bitnami.com/cluster-wide": "true"},
}
CHECKSUM = "exchange.platform/secret-checksum"


@pytest.mark.parametrize("scope", ["strict"])  # all three scopes: test_kind.py, test_sealing.py
def test_sealed_mode_unseals_reseal_does_not_roll_rotation_does(
    cluster: Cluster, empty_namespace: str, cert: str, scope: str
) -> None:
    def sealed(values: dict[str, str]) -> dict[str, object]:
        name = "exchange-router-secret" if scope == "strict" else ""
        return {
            "exchange_router_namespace": empty_namespace,
            "exchange_router_secret_mode": "sealed",
            "exchange_router_sealed_secret_scope": scope,
            "exchange_router_sealed_secret_encrypted_data": {
                key: seal(value, cert=cert, namespace=empty_namespace, name=name, scope=scope)
                for key, value in values.items()
            },
        }

    def deployment() -> client.V1Deployment:
        return cluster.apps.read_namespaced_deployment(
            "exchange-router-deployment", empty_namespace
        )

    run = cluster.deploy(sealed(SECRET_VALUES))
    assert run.ok, run.output
    obj = cluster.custom.get_namespaced_custom_object(
        "bitnami.com", "v1alpha1", empty_namespace, "sealedsecrets", "exchange-router-secret"
    )
    annotations = obj["metadata"].get("annotations", {})
    assert {k: v for k, v in annotations.items() if k.startswith("sealedsecrets")} == SCOPES[scope]
    stored = cluster.core.read_namespaced_secret("exchange-router-secret", empty_namespace)
    assert {k: base64.b64decode(v).decode() for k, v in stored.data.items()} == SECRET_VALUES
    first = deployment()
    checksum = first.spec.template.metadata.annotations[CHECKSUM]

    resealed = cluster.deploy(sealed(SECRET_VALUES))  # new ciphertext, same values
    assert resealed.ok, resealed.output
    assert deployment().metadata.generation == first.metadata.generation

    rotated = cluster.deploy(sealed(dict(SECRET_VALUES, redis_url="redis://rotated:6379/1")))
    assert rotated.ok, rotated.output
    after = deployment()
    assert after.metadata.generation == first.metadata.generation + 1
    assert after.spec.template.metadata.annotations[CHECKSUM] != checksum
    assert "redis://rotated" not in rotated.output


def test_no_output_or_annotation_ever_shows_a_secret_value(
    cluster: Cluster, empty_namespace: str
) -> None:
    canary = f"postgres://canary-{uuid.uuid4().hex}@db/exchange"
    secret = dict(SECRET_VALUES, database_url=canary)
    forbidden = [
        canary,
        base64.b64encode(canary.encode()).decode(),
        canary.split("@", maxsplit=1)[0],
    ]
    runs = {
        "-vvvv": deploy_plain(cluster, empty_namespace, secret, "-vvvv"),
        "--diff": deploy_plain(cluster, empty_namespace, dict(secret, redis_url="r2"), "--diff"),
        "--check --diff": deploy_plain(
            cluster,
            empty_namespace,
            dict(secret, server_addr="changed"),
            "--check",
            "--diff",
            "-vvv",
        ),
    }
    values = {
        "exchange_router_namespace": empty_namespace,
        "exchange_router_secret_mode": "plain",
        "exchange_router_pod_annotations": {"exchange-platform.test/never-ready": "true"},
        "exchange_router_progress_deadline_seconds": 5,
        "exchange_router_rollback_on_failure": True,
    }
    runs["failing rollout"] = cluster.deploy(
        {},
        "--vault-password-file",
        str(cluster.work / "vault-password"),
        "-vvv",
        vars_text=vaulted_vars(cluster, values, secret),
    )
    missing_namespace = dict(values, exchange_router_namespace="xr-it-no-such-namespace")
    runs["failing apply"] = cluster.deploy(
        {},
        "--vault-password-file",
        str(cluster.work / "vault-password"),
        "-vvv",
        vars_text=vaulted_vars(cluster, missing_namespace, secret),
    )
    assert runs["-vvvv"].ok and runs["--diff"].ok and runs["--check --diff"].ok
    assert not runs["failing rollout"].ok and not runs["failing apply"].ok
    for name, run in runs.items():
        for value in forbidden:
            assert value not in run.output, f"the canary leaked in the {name} run"

    objects = (
        cluster.apps.list_namespaced_deployment(empty_namespace).items
        + cluster.apps.list_namespaced_replica_set(empty_namespace).items
        + cluster.core.list_namespaced_pod(empty_namespace).items
        + cluster.core.list_namespaced_service(empty_namespace).items
        + cluster.core.list_namespaced_secret(empty_namespace).items
    )
    assert objects
    for obj in objects:
        annotations = json.dumps(obj.metadata.annotations or {})
        assert "last-applied-configuration" not in annotations
        for value in forbidden:
            assert value not in annotations, f"the canary is in {obj.kind} annotations"
