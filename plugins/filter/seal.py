# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter seal: a value -> Sealed Secrets ciphertext, without kubeseal or a cluster.

A thin wrapper over plugins/plugin_utils/seal.py (pure Python): the ValueError/TypeError it
raises becomes an AnsibleFilterError with the same message, which names the bad argument and
never contains the value. Documentation lives in the sidecar file seal.yml.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.platform.plugins.plugin_utils import kubeseal as sealing


def seal(
    value: Any,
    cert: Any = None,
    namespace: Any = "",
    name: Any = "",
    scope: Any = "strict",
) -> str:
    """Base64 ciphertext of `value` that the controller owning `cert` unseals."""
    if cert is None:
        raise AnsibleFilterError("seal needs cert= (the controller's PEM certificate)")
    try:
        return sealing.seal(value, cert, namespace=namespace, name=name, scope=scope)
    except (TypeError, ValueError) as exc:
        # `from None`: the message is ours; no chained exception may carry the value.
        raise AnsibleFilterError(f"seal: {exc}") from None


class FilterModule:
    """exchange.platform sealing filter."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"seal": seal}
