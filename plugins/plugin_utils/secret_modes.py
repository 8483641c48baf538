# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release's Secret across its three modes (existing, plain, sealed): which data the pods
will read, and the hand-offs when a release moves its Secret to or from the Sealed Secrets
controller. A Secret the release did not create is never taken without
exchange_router_secret_adopt."""

from __future__ import annotations

from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.redact import Redactor
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Failed
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.store import Revision

# The Sealed Secrets controller takes over an existing Secret only with this annotation.
MANAGED = "sealedsecrets.bitnami.com/managed"


def manifest(spec: Spec, data: dict[str, str]) -> dict[str, Any]:
    """The plain-mode Secret with this data (what a stored revision recorded)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": spec.secret_name, "namespace": spec.namespace},
        "data": data,
    }


def bare(spec: Spec) -> dict[str, Any]:
    """The Secret's name only: what a hand-off applies its annotation to."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": manifest(spec, {})["metadata"]}


def owned(spec: Spec, latest: Revision | None) -> bool:
    """Whether the live Secret is the release's: it created it (plain) or its SealedSecret's
    controller did (sealed), under the same name."""
    if latest is None:
        return False
    same_name = (latest.secret.name or spec.secret_name) == spec.secret_name
    return latest.secret.owned and same_name


def moves(
    spec: Spec,
    mode: str,
    latest: Revision | None,
    live: dict[str, Any] | None,
    sealed: dict[str, Any] | None,
) -> tuple[bool, bool]:
    """(to_controller, from_controller) for a change of secret mode, given the live Secret and
    SealedSecret; refuses to take a Secret the release did not create unless
    exchange_router_secret_adopt allows it."""
    leaving_sealed = latest is not None and latest.secret.mode == "sealed" and mode != "sealed"
    if mode == "existing":
        return False, leaving_sealed
    controlled = sealed is not None and any(  # made by the release's SealedSecret
        o.get("uid") == sealed["metadata"].get("uid")
        for o in (live or {}).get("metadata", {}).get("ownerReferences") or []
    )
    if live is not None and not (owned(spec, latest) or controlled or spec.secret_adopt):
        takes = (
            "plain mode would overwrite its data"
            if mode == "plain"
            else "the Sealed Secrets controller would refuse to overwrite it"
        )
        raise Failed(
            f"exchange_router_secret_adopt: Secret {spec.namespace}/{spec.secret_name} exists and "
            f"was not created by release {spec.name}; {takes}. Set exchange_router_secret_adopt: "
            "true to hand it to the release, or use exchange_router_secret_mode existing."
        )
    if mode == "plain" or live is None:
        return False, leaving_sealed
    annotations = live["metadata"].get("annotations") or {}
    return annotations.get(MANAGED) != "true" and not controlled, False


def pod_data(
    spec: Spec,
    secret: dict[str, Any] | None,
    mode: str,
    live: dict[str, Any] | None,
    redact: Redactor,
) -> dict[str, str] | None:
    """The data the pods will read: the plain-mode manifest's, or the live Secret's."""
    if secret is not None:
        return secret.get("data") or {}
    where = f"Secret {spec.namespace}/{spec.secret_name}"
    if mode == "sealed":  # what the controller unsealed last, if anything
        redact.remember((live or {}).get("data"))
        return (live or {}).get("data")
    if live is None:
        raise Failed(f"{where} does not exist (secret mode existing)")
    missing = sorted(set(spec.required_keys) - set(live.get("data") or {}))
    if missing:
        raise Failed(
            f"{where} lacks the keys {', '.join(missing)} that exchange_router_secret_env needs"
        )
    redact.remember(live["data"])
    return live["data"]
