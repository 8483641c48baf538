# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every action returns, and the one way its steps say it failed.

An action's steps raise `Failed` (or let a cluster's `KubeError` or the lock's `LockError` go
up); `Action.run` turns any of them into a `Result` with `failed` set and the message
redacted. Nothing else carries a failure: no error strings returned, no outcome changed in place.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError
from ansible_collections.exchange.platform.plugins.plugin_utils.configuration import Configuration
from ansible_collections.exchange.platform.plugins.plugin_utils.lock import LockError
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec


class Failed(Exception):
    """A step of an action cannot go on; the message says why, for the user."""


@dataclass
class Result:
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


class Action(abc.ABC):
    """One lifecycle of one release over its Configuration: `steps` does the work, `run` keeps
    the error convention and returns the Result."""

    def __init__(self, cfg: Configuration, spec: Spec) -> None:
        self.cfg, self.spec = cfg, spec
        self.result = Result()

    @abc.abstractmethod
    def steps(self) -> None:
        """The action's sequence; a step that cannot go on raises."""

    def run(self) -> Result:
        try:
            self.steps()
        except (Failed, KubeError, LockError) as error:
            self.result.failed = True
            self.result.msg = self.cfg.redact(str(error))
        return self.result
