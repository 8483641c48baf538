# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One release as the actions see it: its spec, the cluster client and the store it was given,
its lock, its history, the values never to show, how to apply, and its outcome.

The actions (upgrade, rollback, uninstall, history) are modules of their own over this; the
engine (plugins/plugin_utils/engine.py) makes one per host, locks it and reads its history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.follow import Follower, Pace, Sleep
from ansible_collections.exchange.platform.plugins.plugin_utils.lock import Lease
from ansible_collections.exchange.platform.plugins.plugin_utils.redact import redact, values_of
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Outcome, Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.store import History, Store

# objects -> '' or why the apply failed (kubernetes.core.k8s in production)
Apply = Callable[[list[dict[str, Any]]], str]
LABELS = {"app.kubernetes.io/managed-by": "exchange.platform"}


@dataclass
class Release:
    spec: Spec
    kube: Client
    store: Store
    apply: Apply
    check: bool = False
    deployer: str | Callable[[], str] = ""  # who deploys; asked of the server once, when needed
    holder: str = ""
    follower: Follower | None = None  # the batch's shared rollout watch (engine.py)
    outcome: Outcome = field(default_factory=Outcome)
    secrets: list[str] = field(default_factory=list)
    lease: Lease = field(init=False)
    history: History = field(init=False)

    def __post_init__(self) -> None:
        labels = dict(LABELS, **{"exchange.platform/release": self.spec.name})
        self.lease = Lease(
            self.kube,
            self.spec.namespace,
            f"{self.spec.name}-deploy-lock",
            self.holder,
            self.spec.lock_seconds,
            labels,
        )
        self.history = History(self.store)
        self.remember((self.spec.secret or {}).get("data"))

    def remember(self, data: dict[str, str] | None) -> None:
        """Secret data (base64) whose values must never be quoted in a message."""
        self.secrets += values_of(data)

    def who(self) -> str:
        """The deployer the history records (a no-op never asks the server)."""
        return self.deployer() if callable(self.deployer) else self.deployer

    def pace(self, ref: Ref) -> Pace:
        """How a rollout wait of this release sleeps: woken by the batch's watch, if any."""
        return self.follower.pace(ref) if self.follower else Sleep()

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def fail(self, msg: str) -> None:
        self.outcome.failed = True
        self.outcome.msg = self.redact(msg)

    def warn(self, msg: str) -> None:
        self.outcome.warnings.append(self.redact(msg))
