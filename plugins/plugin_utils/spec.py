# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one host asks of the release engine (plugins/plugin_utils/values.py `release`), and
what the engine answers. The role owns every default: a Spec takes exactly the role's keys, and a
missing or unknown key is an error, never a silent default."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

STATES = ("present", "absent", "rollback", "history", "rendered")


class SpecError(ValueError):
    """The fact handed to the engine does not have the role's shape."""


@dataclass
class Spec:
    host: str
    name: str
    namespace: str
    state: str
    render_dir: str
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
                "it is plugins/plugin_utils/values.py release()"
            )
        spec = cls(host=host, **values)
        if spec.state not in STATES:
            raise SpecError(f"{host}: state {spec.state!r} is not one of {', '.join(STATES)}")
        return spec


@dataclass
class Outcome:
    """One release's result, as its host reports it (release_report)."""

    changed: bool = False
    failed: bool = False
    msg: str = ""
    diff: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    revision: int | None = None
    rolled_back_to: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
