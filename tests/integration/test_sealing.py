"""exchange.platform.seal against the real Sealed Secrets controller on the local cluster.

`kwok.sh up` runs the controller (built from bitnami-labs/sealed-secrets v0.40.0) with the
module's CRD; these tests seal with the filter, and with kubeseal for comparison, and let the
controller unseal: SYNCED True and the right values in the Secret, or SYNCED False where the
scope forbids it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CLUSTER, ROOT, Cluster, make_namespace
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from kubernetes import client

from ansible_collections.exchange.platform.plugins.filter.seal import FilterModule

seal = FilterModule().filters()["seal"]
CONTROLLER_NS = "kube-system"
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key=active"
SCOPE_ANNOTATIONS = {
    "strict": {},
    "namespace-wide": {"sealedsecrets.bitnami.com/namespace-wide": "true"},
    "cluster-wide": {"sealedsecrets.bitnami.com/cluster-wide": "true"},
}
VALUES = {
    "database_url": "postgres://router:s3aled-Pw@postgres:5432/exchange",
    "redis_url": "redis://:r3dis-Pw@redis:6379/0",
}


def run_cluster_sh(*args: str) -> str:
    done = subprocess.run(
        [str(CLUSTER), *args], capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, f"kwok.sh {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def cert(cluster: Cluster) -> str:
    """The controller's certificate; `kwok.sh sealed-secrets` is idempotent (up ran it)."""
    run_cluster_sh("sealed-secrets")
    pem = run_cluster_sh("sealed-secrets-cert")
    assert pem.startswith("-----BEGIN CERTIFICATE-----"), pem[:80]
    return pem


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = make_namespace(cluster)
    yield name
    cluster.core.delete_namespace(name)


def sealed_secret(
    cluster: Cluster, namespace: str, name: str, data: dict[str, str], scope: str = "strict"
) -> None:
    cluster.custom.create_namespaced_custom_object(
        "bitnami.com",
        "v1alpha1",
        namespace,
        "sealedsecrets",
        {
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "metadata": {"name": name, "annotations": SCOPE_ANNOTATIONS[scope]},
            "spec": {"encryptedData": data, "template": {"metadata": {"name": name}}},
        },
    )


def synced(cluster: Cluster, namespace: str, name: str, timeout: float = 60) -> str:
    """The SealedSecret's Synced condition once the controller has set it: 'True' or 'False'."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj = cluster.custom.get_namespaced_custom_object(
            "bitnami.com", "v1alpha1", namespace, "sealedsecrets", name
        )
        for condition in (obj.get("status") or {}).get("conditions") or []:
            if condition["type"] == "Synced":
                return condition["status"]
        time.sleep(0.2)
    raise AssertionError(f"the controller set no Synced condition on {namespace}/{name}")


def secret_data(cluster: Cluster, namespace: str, name: str) -> dict[str, str] | None:
    try:
        secret = cluster.core.read_namespaced_secret(name, namespace)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def kubeseal_binary() -> Path:
    """kubeseal as `kwok.sh build` leaves it: bin/sealed-secrets/<version>/kubeseal."""
    pins = dict(
        line.split("=", 1)
        for line in (ROOT / "cluster" / "versions.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    cache = Path(
        os.environ.get("EXCHANGE_PLATFORM_CACHE", Path.home() / ".cache/exchange-platform")
    )
    return cache / "bin" / "sealed-secrets" / pins["SEALED_SECRETS_VERSION"] / "kubeseal"


def kubeseal(cert: str, value: str, namespace: str, name: str, scope: str, work: Path) -> str:
    """`kubeseal --raw --cert` output for the same arguments, to compare with the filter's."""
    cert_file = work / f"cert-{uuid.uuid4().hex[:8]}.pem"
    cert_file.write_text(cert)
    command = [str(kubeseal_binary()), "--raw", "--cert", str(cert_file), "--scope", scope]
    command += ["--from-file", "/dev/stdin"]
    if scope != "cluster-wide":
        command += ["--namespace", namespace]
    if scope == "strict":
        command += ["--name", name]
    done = subprocess.run(
        command, input=value, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_the_controller_unseals_the_filter_and_kubeseal_in_each_scope(
    cluster: Cluster, cert: str, namespace: str, scope: str
) -> None:
    name = "exchange-router-secret"
    data = {
        key: seal(value, cert=cert, namespace=namespace, name=name, scope=scope)
        for key, value in VALUES.items()
    }
    data["kubeseal"] = kubeseal(cert, "from kubeseal", namespace, name, scope, cluster.work)
    sealed_secret(cluster, namespace, name, data, scope)
    assert synced(cluster, namespace, name) == "True"
    assert secret_data(cluster, namespace, name) == {**VALUES, "kubeseal": "from kubeseal"}


def test_namespace_wide_unseals_under_any_name_and_cluster_wide_in_any_namespace(
    cluster: Cluster, cert: str, namespace: str
) -> None:
    wide = seal("any name", cert=cert, namespace=namespace, scope="namespace-wide")
    sealed_secret(cluster, namespace, "another-name", {"v": wide}, "namespace-wide")
    anywhere = seal("anywhere", cert=cert, scope="cluster-wide")
    sealed_secret(cluster, namespace, "cluster-wide", {"v": anywhere}, "cluster-wide")
    assert synced(cluster, namespace, "another-name") == "True"
    assert synced(cluster, namespace, "cluster-wide") == "True"
    assert secret_data(cluster, namespace, "another-name") == {"v": "any name"}
    assert secret_data(cluster, namespace, "cluster-wide") == {"v": "anywhere"}


def test_strict_ciphertext_copied_under_another_name_stays_sealed(
    cluster: Cluster, cert: str, namespace: str
) -> None:
    strict = seal("only for app-secret", cert=cert, namespace=namespace, name="app-secret")
    from_kubeseal = kubeseal(cert, "x", namespace, "app-secret", "strict", cluster.work)
    sealed_secret(cluster, namespace, "app-secret", {"v": strict})
    sealed_secret(cluster, namespace, "copied", {"v": strict})
    sealed_secret(cluster, namespace, "copied-kubeseal", {"v": from_kubeseal})
    # Strict ciphertext under its own name but with a wider scope annotation: refused too.
    sealed_secret(cluster, namespace, "widened", {"v": strict}, "namespace-wide")
    assert synced(cluster, namespace, "app-secret") == "True"
    for name in ("copied", "copied-kubeseal", "widened"):
        assert synced(cluster, namespace, name) == "False", name
        assert secret_data(cluster, namespace, name) is None, name


def test_strict_ciphertext_applied_in_another_namespace_stays_sealed(
    cluster: Cluster, cert: str, namespace: str
) -> None:
    other = make_namespace(cluster)
    try:
        strict = seal("ns-bound", cert=cert, namespace=other, name="app-secret")
        sealed_secret(cluster, namespace, "app-secret", {"v": strict})
        assert synced(cluster, namespace, "app-secret") == "False"
        assert secret_data(cluster, namespace, "app-secret") is None
    finally:
        cluster.core.delete_namespace(other)


def test_kubeseal_output_decrypts_with_the_scheme_the_filter_implements(
    cluster: Cluster, cert: str, namespace: str
) -> None:
    """The other direction: the controller's private key opens kubeseal's ciphertext as the
    filter's module describes it (length, RSA-OAEP-SHA256 with the label, AES-GCM zero nonce)."""
    keys = cluster.core.list_namespaced_secret(CONTROLLER_NS, label_selector=KEY_LABEL).items
    assert keys, "the controller has no active key"
    pems = [base64.b64decode(k.data["tls.key"]) for k in keys]
    sealed = kubeseal(cert, "kubeseal's value", namespace, "n", "strict", cluster.work)
    blob = base64.b64decode(sealed)
    size = int.from_bytes(blob[:2], "big")
    oaep = padding.OAEP(
        mgf=padding.MGF1(hashes.SHA256()),
        algorithm=hashes.SHA256(),
        label=f"{namespace}/n".encode(),
    )
    opened = []
    for pem in pems:
        key = serialization.load_pem_private_key(pem, password=None)
        try:
            session_key = key.decrypt(blob[2 : 2 + size], oaep)  # type: ignore[union-attr]
        except ValueError:
            continue
        opened.append(AESGCM(session_key).decrypt(bytes(12), blob[2 + size :], None))
    assert opened == [b"kubeseal's value"]


VAULT_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars_files: [vault.yml]
  tasks:
    - name: Apply a SealedSecret sealed from Vault
      kubernetes.core.k8s:
        state: present
        definition:
          apiVersion: bitnami.com/v1alpha1
          kind: SealedSecret
          metadata: {name: exchange-router-secret, namespace: "{{ ns }}"}
          spec:
            encryptedData:
              database_url: >-
                {{ vault_database_url | exchange.platform.seal(cert=lookup('ansible.builtin.file',
                   cert_file), namespace=ns, name='exchange-router-secret') }}
            template:
              metadata: {name: exchange-router-secret, namespace: "{{ ns }}"}
"""


def test_a_vaulted_value_sealed_in_a_playbook_is_unsealed_by_the_controller(
    cluster: Cluster, cert: str, namespace: str
) -> None:
    work = cluster.work / f"vault-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    (work / "password").write_text("sealing-test-password\n")
    (work / "cert.pem").write_text(cert)
    env = {**cluster.env, "KUBECONFIG": str(cluster.kubeconfig)}
    env["K8S_AUTH_KUBECONFIG"] = env["KUBECONFIG"]
    bin_dir = ROOT / ".venv" / "bin"
    vaulted = subprocess.run(
        [str(bin_dir / "ansible-vault"), "encrypt_string", "--vault-password-file",
         str(work / "password"), "--name", "vault_database_url", VALUES["database_url"]],
        capture_output=True, text=True, check=True, env=env, timeout=60,
    ).stdout  # fmt: skip
    (work / "vault.yml").write_text(vaulted)
    (work / "play.yml").write_text(VAULT_PLAYBOOK)
    extra = json.dumps({"ns": namespace, "cert_file": str(work / "cert.pem")})
    done = subprocess.run(
        [str(bin_dir / "ansible-playbook"), "--vault-password-file", str(work / "password"),
         "-e", extra, str(work / "play.yml")],
        capture_output=True, text=True, check=False, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert VALUES["database_url"] not in output
    assert synced(cluster, namespace, "exchange-router-secret") == "True"
    unsealed = secret_data(cluster, namespace, "exchange-router-secret")
    assert unsealed == {"database_url": VALUES["database_url"]}


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(") ", 1)[1][0] != "Z"


def controller_pid() -> int:
    kubeconfig = Path(run_cluster_sh("kubeconfig").strip())
    return int((kubeconfig.parent / "sealed-secrets" / "controller.pid").read_text())


def test_the_controller_comes_back_after_sigkill_with_the_same_key(
    cluster: Cluster, cert: str, namespace: str
) -> None:
    before = seal("sealed before the kill", cert=cert, namespace=namespace, name="kept")
    pid = controller_pid()
    os.kill(pid, 9)
    while alive(pid):
        time.sleep(0.05)
    run_cluster_sh("sealed-secrets")
    assert controller_pid() != pid
    assert run_cluster_sh("sealed-secrets-cert") == cert
    sealed_secret(cluster, namespace, "kept", {"v": before})
    assert synced(cluster, namespace, "kept") == "True"
    assert secret_data(cluster, namespace, "kept") == {"v": "sealed before the kill"}
