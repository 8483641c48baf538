# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one host asks of the release engine: its role variables, checked and rendered, as one
typed record (`from_variables`). The role owns every default: a Spec takes exactly the role's
keys, and a missing or unknown key is an error, never a silent default."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.catalogue import field_sources
from ansible_collections.exchange.platform.plugins.plugin_utils.connection_options import (
    CONNECTION_OPTIONS,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import (
    P,
    filled,
    needed_keys,
)

STATES = ("present", "absent", "rollback", "history", "diff", "promote", "abort", "rendered")
FIELD_MANAGER = "exchange.platform"
LOCK_SECONDS = 30  # the deploy lock expires this long after its holder stopped renewing


class SpecError(ValueError):
    """The fact handed to the engine does not have the role's shape."""


@dataclass
class Spec:
    host: str
    name: str
    namespace: str
    state: str
    render_dir: str
    render_secret_in_git: bool
    render_sync_waves: bool
    objects: list[dict[str, Any]]
    secret: dict[str, Any] | None
    secret_mode: str
    secret_name: str
    secret_adopt: bool
    required_keys: list[str]
    autoscaling: bool
    wait: bool
    timeout: int
    edge_timeout: int
    rollback_on_failure: bool
    history_max: int
    lock_seconds: int
    revision: int
    canary: dict[str, Any]  # exchange_router_canary, filled with its defaults
    connection: dict[str, Any]
    field_manager: str
    sources: dict[str, str]

    @classmethod
    def of(cls, host: str, values: dict[str, Any]) -> Spec:
        names = {f.name for f in dataclasses.fields(cls)} - {"host"}
        unknown, missing = sorted(set(values) - names), sorted(names - set(values))
        if unknown or missing:
            raise SpecError(
                f"{host}: the release spec has unknown keys {unknown} and lacks {missing}; "
                "it is plugins/plugin_utils/spec.py from_variables()"
            )
        spec = cls(host=host, **values)
        if spec.state not in STATES:
            raise SpecError(f"{host}: state {spec.state!r} is not one of {', '.join(STATES)}")
        return spec


def from_variables(
    host: str, v: dict[str, Any], objects: list[dict[str, Any]], secret: dict[str, Any] | None
) -> Spec:
    """One host's Spec: its role variables, the objects its templates rendered and, in plain
    mode, its Secret."""
    timeout = v[P + "rollout_timeout"]
    values = {
        "name": v[P + "name"],
        "namespace": v[P + "namespace"],
        "state": "rendered" if v[P + "render_dir"] else v[P + "state"],
        "render_dir": v[P + "render_dir"],
        "render_secret_in_git": v[P + "render_secret_in_git"],
        "render_sync_waves": v[P + "render_sync_waves"],
        "objects": objects,
        "secret": secret,
        "secret_mode": v[P + "secret_mode"],
        "secret_name": v[P + "secret_name"],
        "secret_adopt": v[P + "secret_adopt"],
        "required_keys": needed_keys(v),
        "autoscaling": filled(v, "autoscaling")["enabled"],
        "wait": v[P + "wait"],
        "timeout": timeout if timeout > 0 else v[P + "progress_deadline_seconds"] + 30,
        "edge_timeout": v[P + "edge_timeout"],
        "rollback_on_failure": v[P + "rollback_on_failure"],
        "history_max": v[P + "history_max"],
        "lock_seconds": LOCK_SECONDS,
        "revision": v[P + "rollback_revision"],
        "canary": filled(v, "canary"),
        "connection": {key: v[P + key] for key in CONNECTION_OPTIONS},
        "field_manager": FIELD_MANAGER,
        "sources": field_sources(v),
    }
    return Spec.of(host, values)
