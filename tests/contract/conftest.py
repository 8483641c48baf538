"""The contract between the release engine and a cluster: every test takes `backend` and runs
twice, against the in-memory FakeCluster the unit tests use and against the kwok tier's real
kube-apiserver (cluster/kwok.sh), through the same `Client` calls. A behaviour the fake invents,
or one it lacks, fails the fake's run of a test the real server passes.

`pytest tests/contract -k fake` runs the fake's side alone (no cluster), `-k kwok` the real one.
Each test has a namespace of its own, deleted after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client
from ansible_collections.exchange.platform.plugins.plugin_utils.connection import connect, resolve
from ansible_collections.exchange.platform.tests.contract.backends import (
    Backend,
    FakeBackend,
    KwokBackend,
)
from ansible_collections.exchange.platform.tests.integration.conftest import CLUSTER, _start
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fake_cluster import (
    MANAGER,
    FakeCluster,
)


@pytest.fixture(scope="session")
def kwok_client() -> Client:
    """The kwok tier's API server as the engine reaches it (connection.connect)."""
    kubeconfig = _start([str(CLUSTER), "up"])
    return connect(resolve({"kubeconfig": str(kubeconfig)}, {}), MANAGER)


@pytest.fixture(params=["fake", "kwok"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    namespace = f"xr-contract-{uuid.uuid4().hex[:8]}"
    if request.param == "fake":
        fake = FakeCluster(namespaces=(namespace,))
        yield FakeBackend("fake", fake, namespace, fake=fake)
        return
    client = request.getfixturevalue("kwok_client")
    client.request(
        "POST",
        "/api/v1/namespaces",
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
    )
    try:
        yield KwokBackend("kwok", client, namespace, logs_dir=tmp_path)
    finally:
        client.request("DELETE", f"/api/v1/namespaces/{namespace}")
