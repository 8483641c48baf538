"""plugin_utils/seal.py: the hybrid scheme, checked by decrypting as the controller does.

`unseal` below is written from the controller's decryption (pkg/crypto HybridDecrypt and the
label of pkg/apis/sealedsecrets/v1alpha1), independently of the code under test; the real
controller and kubeseal check the same ciphertext in tests/integration/test_sealing.py.
"""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.exchange.platform.plugins.plugin_utils import kubeseal as sealing

NOW = datetime.datetime.now(datetime.UTC)


def make_cert(key: object, days: int = 365, start_days_ago: int = 1) -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=start_days_ago))
        .not_valid_after(NOW + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def cert(key: rsa.RSAPrivateKey) -> str:
    return make_cert(key)


def unseal(key: rsa.RSAPrivateKey, sealed: str, label: bytes) -> bytes:
    """The controller's side: split, RSA-OAEP-SHA256 with the label, AES-GCM with zero nonce."""
    blob = base64.b64decode(sealed, validate=True)
    rsa_len = int.from_bytes(blob[:2], "big")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    session_key = key.decrypt(blob[2 : 2 + rsa_len], oaep)
    return AESGCM(session_key).decrypt(bytes(12), blob[2 + rsa_len :], None)


def test_strict_unseals_with_namespace_slash_name_label(key, cert) -> None:
    sealed = sealing.seal("postgres://u:p@db/x", cert, namespace="shop", name="app-secret")
    assert unseal(key, sealed, b"shop/app-secret") == b"postgres://u:p@db/x"


def test_namespace_wide_label_is_the_namespace_and_ignores_the_name(key, cert) -> None:
    sealed = sealing.seal("v", cert, namespace="shop", name="ignored", scope="namespace-wide")
    assert unseal(key, sealed, b"shop") == b"v"


def test_cluster_wide_label_is_empty_and_needs_no_namespace_or_name(key, cert) -> None:
    sealed = sealing.seal("v", cert, scope="cluster-wide")
    assert unseal(key, sealed, b"") == b"v"


@pytest.mark.parametrize(
    ("scope", "wrong_label"),
    [
        ("strict", b"shop/other-name"),
        ("strict", b"other/app-secret"),
        ("strict", b"shop"),
        ("namespace-wide", b"other"),
        ("namespace-wide", b""),
        ("cluster-wide", b"shop"),
    ],
)
def test_another_label_does_not_unseal(key, cert, scope, wrong_label) -> None:
    sealed = sealing.seal("v", cert, namespace="shop", name="app-secret", scope=scope)
    with pytest.raises(ValueError, match="Decryption failed"):
        unseal(key, sealed, wrong_label)


def test_layout_length_prefix_rsa_block_then_gcm_with_tag(cert) -> None:
    blob = base64.b64decode(sealing.seal("12345", cert, namespace="a", name="b"))
    assert int.from_bytes(blob[:2], "big") == 256  # 2048-bit key
    assert len(blob) == 2 + 256 + len("12345") + 16


def test_a_tampered_ciphertext_is_rejected(key, cert) -> None:
    blob = bytearray(base64.b64decode(sealing.seal("value", cert, namespace="a", name="b")))
    blob[-1] ^= 1
    with pytest.raises(InvalidTag):
        unseal(key, base64.b64encode(bytes(blob)).decode(), b"a/b")


def test_every_seal_uses_a_new_session_key(key, cert) -> None:
    first = sealing.seal("same", cert, namespace="a", name="b")
    second = sealing.seal("same", cert, namespace="a", name="b")
    assert first != second
    assert unseal(key, first, b"a/b") == unseal(key, second, b"a/b") == b"same"


def test_bytes_are_sealed_as_they_are_and_text_as_utf8(key, cert) -> None:
    assert unseal(key, sealing.seal(b"\x00\xff", cert, "a", "b"), b"a/b") == b"\x00\xff"
    assert unseal(key, sealing.seal("héllo €", cert, "a", "b"), b"a/b") == "héllo €".encode()
    assert unseal(key, sealing.seal("", cert, "a", "b"), b"a/b") == b""


def test_a_bundle_uses_its_first_certificate(key, cert) -> None:
    other = make_cert(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert unseal(key, sealing.seal("v", cert + other, "a", "b"), b"a/b") == b"v"


@given(value=st.text(max_size=200) | st.binary(max_size=200))
def test_round_trip_any_value(key, cert, value) -> None:
    raw = value.encode() if isinstance(value, str) else value
    assert unseal(key, sealing.seal(value, cert, "ns", "n.a-me"), b"ns/n.a-me") == raw


def test_encryption_label_per_scope() -> None:
    assert sealing.encryption_label("ns", "n", "strict") == b"ns/n"
    assert sealing.encryption_label("ns", "n", "namespace-wide") == b"ns"
    assert sealing.encryption_label("ns", "n", "cluster-wide") == b""
    with pytest.raises(ValueError, match="scope must be one of"):
        sealing.encryption_label("ns", "n", "global")


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "global"}, "scope must be one of strict, namespace-wide, cluster-wide"),
        ({"scope": None}, "scope must be one of .*got NoneType"),
        ({"namespace": ""}, "namespace is required"),
        ({"namespace": "Shop"}, "namespace 'Shop' is not a valid Kubernetes name"),
        ({"namespace": "a" * 64}, "namespace .* at most 63"),
        ({"namespace": "a.b"}, "namespace 'a.b' is not a valid"),
        ({"namespace": 5}, "namespace must be a string, got int"),
        ({"name": ""}, "name is required"),
        ({"name": "app_secret"}, "name 'app_secret' is not a valid"),
        ({"scope": "namespace-wide", "namespace": ""}, "namespace is required"),
        ({"cert": "not a pem"}, "cert is not a PEM certificate"),
        ({"cert": 42}, "cert must be a PEM certificate string, got int"),
    ],
)
def test_bad_argument_is_named(cert, kwargs, message) -> None:
    arguments = {"cert": cert, "namespace": "shop", "name": "app-secret", "scope": "strict"}
    arguments.update(kwargs)
    with pytest.raises((TypeError, ValueError), match=message):
        sealing.seal("the-secret-value", **arguments)


def test_a_public_key_pem_is_not_a_certificate(key) -> None:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError, match="cert is not a PEM certificate"):
        sealing.seal("v", pem, "a", "b")


def test_non_rsa_small_and_expired_certificates_are_refused(key) -> None:
    with pytest.raises(ValueError, match="cert must hold an RSA key"):
        sealing.seal("v", make_cert(ec.generate_private_key(ec.SECP256R1())), "a", "b")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="1024-bit RSA key; at least 2048"):
        sealing.seal("v", make_cert(small), "a", "b")
    with pytest.raises(ValueError, match="cert expired on"):
        sealing.seal("v", make_cert(key, days=-1, start_days_ago=10), "a", "b")


@pytest.mark.parametrize("value", [None, 5, 1.5, ["x"], {"k": "v"}, True])
def test_a_value_that_is_not_text_is_refused_by_type_only(cert, value) -> None:
    with pytest.raises(TypeError) as raised:
        sealing.seal(value, cert, "a", "b")
    assert str(raised.value) == f"value to seal must be a string, got {type(value).__name__}"


@given(text=st.text(alphabet=st.characters(codec="utf-8")))
def test_the_value_never_appears_in_an_error(cert, text) -> None:
    value = f"SEKRET-{text}"
    bad = [
        {"cert": "garbage"},
        {"namespace": "BAD!"},
        {"name": ""},
        {"scope": "everywhere"},
    ]
    for change in bad:
        arguments = {"cert": cert, "namespace": "shop", "name": "app", "scope": "strict"}
        arguments.update(change)
        with pytest.raises((TypeError, ValueError)) as raised:
            sealing.seal(value, **arguments)
        assert value not in str(raised.value)
        assert raised.value.__cause__ is None
        assert raised.value.__context__ is None or value not in str(raised.value.__context__)


def test_without_cryptography_the_error_says_what_to_install(cert, monkeypatch) -> None:
    monkeypatch.setattr(sealing, "HAS_CRYPTOGRAPHY", False)
    with pytest.raises(ValueError, match=r"needs the Python package cryptography"):
        sealing.seal("SEKRET", cert, "a", "b")
