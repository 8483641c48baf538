# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sealed mode: the pods read the Secret the Sealed Secrets controller unseals, so a changed
SealedSecret is applied first and the deploy waits for the controller before it hashes the
unsealed values into the pod template. A reseal of the same values changes nothing."""

from __future__ import annotations

from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, condition
from ansible_collections.exchange.platform.plugins.plugin_utils.rollout import POLL
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Waiter


class UnsealFailed(Exception):
    """The controller could not unseal the SealedSecret (or never answered)."""


def apply_and_unseal(
    kube: Client, sealed: dict[str, Any], timeout: float, waiter: Waiter
) -> dict[str, str]:
    """Apply the SealedSecret, wait until the controller synced this generation, and return the
    data of the Secret it made."""
    applied = kube.apply(sealed)
    meta = applied["metadata"]

    def probe() -> dict[str, str] | None:
        current = kube.get("SealedSecret", meta["namespace"], meta["name"]) or applied
        synced = condition(current, "Synced")
        fresh = current.get("status", {}).get("observedGeneration", 0) >= meta["generation"]
        if fresh and synced.get("status") == "True":
            secret = kube.get("Secret", meta["namespace"], meta["name"])
            if secret is not None:
                return secret.get("data") or {}
        if fresh and synced.get("status") == "False":
            raise UnsealFailed(
                f"the Sealed Secrets controller could not unseal SealedSecret "
                f"{meta['namespace']}/{meta['name']} "
                f"(exchange_router_sealed_secret_encrypted_data): {synced.get('message', '?')}"
            )
        return None

    data = waiter.until(probe, timeout, POLL)
    if data is None:
        raise UnsealFailed(
            f"no Sealed Secrets controller unsealed SealedSecret {meta['namespace']}/"
            f"{meta['name']} within {timeout:g}s; is the controller running?"
        )
    return data
