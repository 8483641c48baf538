# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sealed Secrets' hybrid encryption in pure Python: what `kubeseal --raw` does, without kubeseal.

The Sealed Secrets controller (bitnami-labs/sealed-secrets, pkg/crypto and
pkg/apis/sealedsecrets/v1alpha1) decrypts a value of `spec.encryptedData` as follows, so sealing
is the inverse:

- a random 32-byte session key encrypts the value with AES-256-GCM and an all-zero nonce (the
  key is used once, so the nonce may be fixed); no additional data;
- RSA-OAEP with SHA-256 (MGF1-SHA-256) encrypts the session key under the controller's public
  key, with the scope's label as the OAEP label: `<namespace>/<name>` (strict), `<namespace>`
  (namespace-wide) or empty (cluster-wide), so a value only decrypts where it was sealed for;
- the result is: RSA ciphertext length (2 bytes, big-endian) || RSA ciphertext || AES-GCM
  ciphertext with its tag, written in standard base64.

No Ansible imports. Errors are ValueError/TypeError that name the bad argument and never
contain the value being sealed.
"""

from __future__ import annotations

import base64
import datetime
import os
from collections.abc import Callable

from ansible_collections.exchange.platform.plugins.plugin_utils.names import (
    LABEL_MAX_LENGTH,
    SUBDOMAIN_MAX_LENGTH,
    is_dns1123_label,
    is_dns1123_subdomain,
)

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:  # ansible-core requires it; ansible-test's import sanity test has none
    HAS_CRYPTOGRAPHY = False
else:
    HAS_CRYPTOGRAPHY = True

SCOPES = ("strict", "namespace-wide", "cluster-wide")
SESSION_KEY_BYTES = 32
GCM_NONCE = bytes(12)
MIN_KEY_BITS = 2048


def encryption_label(namespace: str, name: str, scope: str) -> bytes:
    """The OAEP label the controller derives from a SealedSecret's namespace, name and scope."""
    if scope == "cluster-wide":
        return b""
    if scope == "namespace-wide":
        return namespace.encode()
    if scope == "strict":
        return f"{namespace}/{name}".encode()
    raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")


def public_key(cert: str | bytes, now: datetime.datetime | None = None) -> rsa.RSAPublicKey:
    """The RSA key of the first certificate of a PEM bundle; like kubeseal, refuse it expired."""
    if isinstance(cert, str):
        cert = cert.encode()
    if not isinstance(cert, bytes):
        raise TypeError(f"cert must be a PEM certificate string, got {type(cert).__name__}")
    try:
        parsed = x509.load_pem_x509_certificates(cert)[0]
    except ValueError:
        raise ValueError("cert is not a PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    key = parsed.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"cert must hold an RSA key, it holds {type(key).__name__}")
    if key.key_size < MIN_KEY_BITS:
        raise ValueError(f"cert holds a {key.key_size}-bit RSA key; at least {MIN_KEY_BITS}")
    now = now or datetime.datetime.now(datetime.UTC)
    if now > parsed.not_valid_after_utc:
        raise ValueError(f"cert expired on {parsed.not_valid_after_utc:%Y-%m-%d}")
    return key


def hybrid_encrypt(key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> bytes:
    """length || RSA-OAEP(session key, label) || AES-256-GCM(plaintext, zero nonce)."""
    session_key = os.urandom(SESSION_KEY_BYTES)
    oaep = padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label
    )
    wrapped = key.encrypt(session_key, oaep)
    sealed = AESGCM(session_key).encrypt(GCM_NONCE, plaintext, None)
    return len(wrapped).to_bytes(2, "big") + wrapped + sealed


def _check_name(argument: str, text: object, valid: Callable[[object], bool], limit: int) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{argument} must be a string, got {type(text).__name__}")
    if not text:
        raise ValueError(f"{argument} is required for this scope")
    if not valid(text):
        raise ValueError(
            f"{argument} {text!r} is not a valid Kubernetes name "
            f"(lowercase letters, digits and '-', at most {limit} characters)"
        )
    return text


def seal(
    value: str | bytes,
    cert: str | bytes,
    namespace: str = "",
    name: str = "",
    scope: str = "strict",
) -> str:
    """Base64 ciphertext of `value` for spec.encryptedData of SealedSecret `namespace`/`name`.

    `scope` is the SealedSecret's: strict needs namespace and name, namespace-wide the
    namespace, cluster-wide neither (both are then ignored, as the controller ignores them).
    """
    if not HAS_CRYPTOGRAPHY:
        raise ValueError("sealing needs the Python package cryptography (pip install cryptography)")
    if scope not in SCOPES:
        shown = repr(scope) if isinstance(scope, str) else type(scope).__name__
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {shown}")
    if isinstance(value, str):
        plaintext = value.encode()
    elif isinstance(value, bytes):
        plaintext = value
    else:
        # Only the type: the value itself must never reach an error message or a log.
        raise TypeError(f"value to seal must be a string, got {type(value).__name__}")
    if scope != "cluster-wide":
        # The names the API server accepts: a namespace is a DNS-1123 label, a name a subdomain.
        namespace = _check_name("namespace", namespace, is_dns1123_label, LABEL_MAX_LENGTH)
    if scope == "strict":
        name = _check_name("name", name, is_dns1123_subdomain, SUBDOMAIN_MAX_LENGTH)
    key = public_key(cert)
    label = encryption_label(namespace, name, scope)
    return base64.b64encode(hybrid_encrypt(key, plaintext, label)).decode("ascii")
