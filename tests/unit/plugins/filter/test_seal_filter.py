"""The seal filter as Ansible uses it: through FilterModule().filters() and in a playbook.

The playbook test seals a vaulted value, decrypts the result as the controller does, and
checks that a failing call never prints the value, even at -vvv.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
from pathlib import Path

import pytest
from ansible._internal._datatag._tags import Origin
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from ansible_collections.exchange.platform.plugins.filter.seal import FilterModule

ROOT = Path(__file__).resolve().parents[4]
seal = FilterModule().filters()["seal"]
SECRET = "postgres://router:VAULTED-Pa55@db:5432/exchange"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def cert(key: rsa.RSAPrivateKey) -> str:
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM).decode()


def unseal(key: rsa.RSAPrivateKey, sealed: str, label: bytes) -> str:
    blob = base64.b64decode(sealed, validate=True)
    size = int.from_bytes(blob[:2], "big")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    session_key = key.decrypt(blob[2 : 2 + size], oaep)
    return AESGCM(session_key).decrypt(bytes(12), blob[2 + size :], None).decode()


def test_exports_exactly_seal() -> None:
    assert list(FilterModule().filters()) == ["seal"]


def test_seals_a_tagged_value_for_each_scope(key, cert) -> None:
    origin = Origin(path="/tmp/vault.yml", line_num=1)
    value = origin.tag(SECRET)
    assert unseal(key, seal(value, cert=cert, namespace="ns", name="app"), b"ns/app") == SECRET
    wide = seal(value, cert=origin.tag(cert), namespace="ns", scope="namespace-wide")
    assert unseal(key, wide, b"ns") == SECRET
    assert unseal(key, seal(value, cert, scope="cluster-wide"), b"") == SECRET
    assert seal(value, cert, "ns", "app").__class__ is str  # plain, not a tagged str


def test_positional_arguments_follow_the_documented_order(key, cert) -> None:
    assert unseal(key, seal(SECRET, cert, "ns", "app", "strict"), b"ns/app") == SECRET


def test_missing_cert_is_named(cert) -> None:
    with pytest.raises(AnsibleFilterError, match=r"seal needs cert="):
        seal(SECRET, namespace="ns", name="app")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"namespace": "NS"}, "seal: namespace 'NS' is not a valid Kubernetes name"),
        ({"name": ""}, "seal: name is required for this scope"),
        ({"scope": "global"}, "seal: scope must be one of"),
        ({"cert": "-----BEGIN CERTIFICATE-----\nAAAA\n"}, "seal: cert is not a PEM"),
    ],
)
def test_errors_name_the_argument_and_not_the_value(cert, kwargs, message) -> None:
    arguments = {"cert": cert, "namespace": "ns", "name": "app"} | kwargs
    with pytest.raises(AnsibleFilterError, match=message) as raised:
        seal(SECRET, **arguments)
    assert SECRET not in str(raised.value)
    assert raised.value.__cause__ is None


def test_unknown_keyword_is_rejected_by_name(cert) -> None:
    with pytest.raises(TypeError, match="'scopes'"):
        seal(SECRET, cert=cert, namespace="ns", name="app", scopes="strict")


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars_files: [vault.yml]
  tasks:
    - name: Seal a vaulted value
      ansible.builtin.set_fact:
        sealed: "{{ db_url | exchange.platform.seal(cert=cert, namespace=ns, name='app') }}"
    - name: Show it
      ansible.builtin.copy:
        content: "{{ sealed }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def run_playbook(tmp_path: Path, cert: str, namespace: str) -> subprocess.CompletedProcess[str]:
    password = tmp_path / "vault-password"
    password.write_text("unit-test-vault-password\n")
    bin_dir = ROOT / ".venv" / "bin"
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    vaulted = subprocess.run(
        [str(bin_dir / "ansible-vault"), "encrypt_string", "--vault-password-file", str(password),
         "--name", "db_url", SECRET],
        capture_output=True, text=True, check=True, env=env, timeout=60,
    ).stdout  # fmt: skip
    (tmp_path / "vault.yml").write_text(vaulted)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    extra = {"cert": cert, "ns": namespace, "out": str(tmp_path / "sealed.txt")}
    return subprocess.run(
        [str(bin_dir / "ansible-playbook"), "-vvv", "--vault-password-file", str(password),
         "-e", json.dumps(extra), str(tmp_path / "play.yml")],
        capture_output=True, text=True, check=False, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip


def test_a_vaulted_value_sealed_in_a_playbook_unseals(tmp_path, key, cert) -> None:
    done = run_playbook(tmp_path, cert, "shop")
    assert done.returncode == 0, done.stdout + done.stderr
    assert unseal(key, (tmp_path / "sealed.txt").read_text(), b"shop/app") == SECRET


def test_a_failing_seal_in_a_playbook_never_prints_the_value(tmp_path, cert) -> None:
    done = run_playbook(tmp_path, cert, "Not_A_Namespace")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "namespace 'Not_A_Namespace' is not a valid Kubernetes name" in output
    assert "VAULTED-Pa55" not in output
