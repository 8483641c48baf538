# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an action is given, as Helm's action.Configuration: everything outside the action that
it reads, writes or waits on. The engine (plugins/plugin_utils/engine.py) makes one per release;
a unit test makes one over the in-memory cluster and store, a fake clock and no sleep."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.canary_query import (
    Alone,
    Get,
    Query,
    http_get,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.redact import Redactor
from ansible_collections.exchange.platform.plugins.plugin_utils.shared_apply import Applied
from ansible_collections.exchange.platform.plugins.plugin_utils.store import Store, now
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Pace, Sleep, Waiter


@dataclass
class Configuration:
    client: Client  # the cluster
    store: Store  # the release's history
    apply: Callable[[list[dict[str, Any]]], Applied]  # kubernetes.core.k8s, maybe shared
    waiter: Waiter = field(default_factory=Waiter)
    now: Callable[[], str] = now  # the time a revision records
    check: bool = False  # check mode: read and dry-run only
    deployer: Callable[[], str] = lambda: ""  # who deploys: asked of the server when recorded
    lock_lost: Callable[[], str] = lambda: ""  # why the deploy lock was lost, or ''
    follow: Callable[[Ref], Pace] | None = None  # the batch's rollout watch, if any
    redact: Redactor = field(default_factory=Redactor)  # this run's secret values
    metrics: Get = http_get  # the Prometheus HTTP API's GET, for a canary's checks
    checks: Query | None = None  # the batch's one query per check (canary_query.Checks), if any
    live: Callable[[Ref], dict[str, Any] | None] | None = None  # the batch's drift.Live, if any

    def query(self) -> Query:
        """How a canary's checks read the metrics: the batch's query, else one of its own."""
        return self.checks if self.checks is not None else Alone(self.metrics)

    def pace(self, ref: Ref) -> Pace:
        """How a wait on `ref` sleeps: woken by the batch's watch, if any."""
        return self.follow(ref) if self.follow else Sleep(self.waiter.sleep)
