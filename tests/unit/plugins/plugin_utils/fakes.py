"""Test doubles for the engine's unit tests: the in-memory cluster (FakeCluster, FakeStream, in
fake_cluster.py, which tests/contract checks against a real API server), the release store in
memory (MemoryStore, as Helm's driver.NewMemory) and spec(), a Spec rendered from the role's
own defaults and templates.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.exchange.platform.plugins.plugin_utils import template_context
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.store import Revision
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import P, role_defaults
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fake_cluster import (
    MANAGED,
    MANAGER,
    FakeCluster,
    FakeStream,
    by_image,
    merge,
)

TEMPLATES = Path(__file__).resolve().parents[4] / "roles/exchange_router/templates"


class MemoryStore:
    """The release store in memory (Helm's driver.NewMemory)."""

    def __init__(self) -> None:
        self.records: list[Revision] | None = None
        self.saves = 0

    def load(self) -> list[Revision] | None:
        return copy.deepcopy(self.records)

    def save(self, records: list[Revision]) -> None:
        self.records = copy.deepcopy(records)
        self.saves += 1

    def delete(self) -> bool:
        existed, self.records = self.records is not None, None
        return existed


# What the unit tests set apart from the role's defaults: the fake cluster's namespace, and waits
# short enough that a test never waits long even on a real clock.
TEST_VARIABLES = {
    "namespace": "ns",
    "image": "router:v1",  # the fake Deployment controller reads "crash" or "stuck" in the tag
    "rollout_timeout": 5,
    "progress_deadline_seconds": 1,
    "edge_timeout": 5,
}


@functools.cache
def _render() -> Callable[[str, dict[str, Any]], str]:
    return template_context.renderer(Templar(loader=DataLoader()), str(TEMPLATES))


def spec(inventory_host: str = "localhost", **variables: Any) -> Spec:
    """A Spec as the role hands it to the engine: the role's defaults (defaults/main.yml) with
    TEST_VARIABLES and `variables` (role variables without their exchange_router_ prefix) over
    them, checked by its rules and rendered by its own templates, as the release action does."""
    given = {**TEST_VARIABLES, **variables}
    unknown = sorted(k for k in given if P + k not in role_defaults())
    assert not unknown, f"not role variables: {unknown}"
    v = {**copy.deepcopy(role_defaults()), **{P + k: value for k, value in given.items()}}
    return template_context.spec_of(inventory_host, v, _render())


__all__ = [
    "MANAGED",
    "MANAGER",
    "FakeCluster",
    "FakeStream",
    "MemoryStore",
    "by_image",
    "merge",
    "spec",
]
