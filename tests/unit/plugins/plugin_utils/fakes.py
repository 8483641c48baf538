"""Test doubles for the engine's unit tests: the in-memory cluster (FakeCluster, FakeStream, in
fake_cluster.py, which tests/contract checks against a real API server), the release store in
memory (MemoryStore, as Helm's driver.NewMemory) and spec(), a Spec with the role's defaults.
"""

from __future__ import annotations

import copy
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fake_cluster import (
    MANAGED,
    MANAGER,
    FakeCluster,
    FakeStream,
    by_image,
    merge,
)


class MemoryStore:
    """The release store in memory (Helm's driver.NewMemory)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] | None = None
        self.saves = 0

    def load(self) -> list[dict[str, Any]] | None:
        return copy.deepcopy(self.records)

    def save(self, records: list[dict[str, Any]]) -> None:
        self.records = copy.deepcopy(records)
        self.saves += 1

    def delete(self) -> bool:
        existed, self.records = self.records is not None, None
        return existed


def spec(**values: Any) -> Spec:
    """A Spec as the role would hand it, with the role's defaults for what is not given."""
    base: dict[str, Any] = {
        "name": "exchange-router",
        "namespace": "ns",
        "state": "present",
        "render_dir": "",
        "objects": [],
        "secret": None,
        "secret_mode": "existing",
        "secret_name": "exchange-router-secret",
        "secret_adopt": False,
        "required_keys": ["database_url", "redis_url", "server_addr"],
        "autoscaling": True,
        "wait": True,
        "timeout": 5,
        "edge_timeout": 5,
        "rollback_on_failure": True,
        "history_max": 10,
        "lock_seconds": 30,
        "revision": 0,
        "connection": {},
        "field_manager": MANAGER,
        "sources": {"namespace": "exchange_router_namespace"},
    }
    host = values.pop("host", "localhost")
    unknown = set(values) - set(base)
    assert not unknown, unknown
    return Spec.of(host, {**base, **values})


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
