"""One cluster identity per release: with a kubeconfig naming one cluster and a bearer token naming
another (AWX's token credential beside the production inventory's kubeconfig), kubernetes.core.k8s
goes to the token's; every request of the release, the engine's included, must go there too."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import yaml
from conftest import Cluster, grant_deployer, slow


class Decoy:
    """A TCP listener on 127.0.0.1 standing for the other cluster: it counts connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _address = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture
def decoy() -> Iterator[Decoy]:
    listener = Decoy()
    yield listener
    listener.sock.close()


@pytest.mark.parametrize("kubeconfig_from", ["K8S_AUTH_KUBECONFIG", "exchange_router_kubeconfig"])
def test_every_request_goes_where_kubernetes_core_goes(
    cluster: Cluster, namespace: str, decoy: Decoy, kubeconfig_from: str
) -> None:
    grant_deployer(cluster, namespace)
    token = cluster.service_account_token(namespace, "exchange-router-deployer")
    real = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
    other = yaml.safe_load(cluster.kubeconfig.read_text())
    other["clusters"][0]["cluster"] = {
        "server": f"https://127.0.0.1:{decoy.port}",
        "insecure-skip-tls-verify": True,
    }
    other_path = cluster.work / f"other-{namespace}.kubeconfig"
    other_path.write_text(yaml.safe_dump(other))
    env: dict[str, str | None] = {
        "KUBECONFIG": str(other_path),
        "K8S_AUTH_KUBECONFIG": str(other_path) if kubeconfig_from.startswith("K8S") else None,
        "HOME": str(cluster.work),
        "K8S_AUTH_HOST": real["server"],
        "K8S_AUTH_API_KEY": token,
        "K8S_AUTH_SSL_CA_CERT": real["certificate-authority"],
    }
    # pods Ready 12 s after they start: each rollout outlasts a lock renewal (every 10 s)
    values = {"exchange_router_namespace": namespace, "exchange_router_pod_annotations": slow(12)}
    if not kubeconfig_from.startswith("K8S"):
        values["exchange_router_kubeconfig"] = str(other_path)
    for playbook in ("deploy", "history", "remove"):
        run = cluster.playbook(playbook, values, env_override=env)
        assert run.ok, run.output
        assert token not in run.output
        if playbook == "history":  # the revision was locked, dry-run, applied and recorded here
            assert f"system:serviceaccount:{namespace}:exchange-router-deployer" in run.output
    assert decoy.connections == 0
    assert not cluster.apps.list_namespaced_deployment(namespace).items  # removed again
