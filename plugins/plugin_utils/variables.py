# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading one host's role variables: the prefix, the role's defaults (a mapping variable a user
sets only in part takes the keys it leaves out from there: Ansible replaces a mapping variable
whole), and numbers as Jinja's `int` filter reads them."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

# libyaml's safe loader where PyYAML has it (the pure-Python one takes 20 ms for the defaults)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
P = "exchange_router_"
RENDER_DIR_NEEDED = "Set exchange_router_render_dir (for example -e exchange_router_render_dir=out)"
# Variables read only when the release is deployed: removal, rollback and history never template
# them (so a vaulted exchange_router_secret_data needs no vault password there).
DEPLOY_ONLY = (f"{P}secret_data",)
ROLE_DEFAULTS = Path(__file__).resolve().parents[2] / "roles/exchange_router/defaults/main.yml"


def to_int(value: Any) -> int:
    """Jinja's `int` filter: a number or its string, else 0."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


@functools.cache
def role_defaults() -> dict[str, Any]:
    return yaml.load(ROLE_DEFAULTS.read_text(), LOADER)


def filled(v: dict[str, Any], name: str) -> dict[str, Any]:
    """A mapping variable with every key it leaves out taken from its default."""
    return {**role_defaults()[P + name], **(v.get(P + name) or {})}


def needed_keys(v: dict[str, Any]) -> list[str]:
    """The Secret keys the container's environment reads (exchange_router_secret_env)."""
    return sorted(set(v[P + "secret_env"].values()))
