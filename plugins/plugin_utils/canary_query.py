# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a canary's check reads the metrics: through the batch's one query, or on its own.

`Checks` is shared by the canaries of a play batch on one cluster (engine.run_on_cluster), as
`shared_apply.SharedApply` shares the apply: each canary is a member, and each check of a member
waits until every member has either arrived at its own check or left (its canary ended, or never
started); then ONE query per Prometheus URL and window (canary_metrics.fleet_query) measures every
arrived member's backends, and each is answered with its own samples. So a batch of canaries walks
its steps side by side, and a step costs one query for the fleet, whatever its size.

`Alone` is a canary's query without a batch. `http_get` is the Prometheus HTTP API's GET (Ansible's
open_url: the proxy environment, certificates as Ansible checks them), the one place a connection
is opened; tests inject another function.
"""

from __future__ import annotations

import json
import threading
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ansible.module_utils.urls import ConnectionError as NotConnected
from ansible.module_utils.urls import open_url

from ansible_collections.exchange.platform.plugins.plugin_utils.canary_analysis import Sample
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_metrics import (
    Backend,
    MetricsError,
    fetch,
)

Get = Callable[[str], Any]  # URL -> the answer's JSON
TIMEOUT = 30  # seconds an answer of the Prometheus HTTP API may take


def http_get(url: str) -> Any:
    """GET the URL and read its JSON; MetricsError with the reason when that fails."""
    try:
        with open_url(url, timeout=TIMEOUT) as answer:  # http(s): canary_rules
            return json.load(answer)
    except urllib.error.HTTPError as error:  # Prometheus answers 400/422/503 with its JSON
        try:
            return json.load(error)
        except ValueError:
            raise MetricsError(f"the Prometheus HTTP API answered {error.code}") from None
    except (OSError, ValueError, NotConnected) as error:  # NotConnected: TLS, a proxy
        raise MetricsError(f"the Prometheus HTTP API could not be read: {error}") from None


class Query(Protocol):
    def measure(
        self, url: str, backends: Mapping[str, Backend], window: int
    ) -> dict[str, Sample]: ...

    def leave(self) -> None: ...


@dataclass
class Alone:
    """One canary's query of its own."""

    get: Get

    def measure(self, url: str, backends: Mapping[str, Backend], window: int) -> dict[str, Sample]:
        return fetch(self.get, url, backends, window)

    def leave(self) -> None:
        pass


@dataclass
class _Ask:
    url: str
    backends: Mapping[str, Backend]
    window: int


class Checks:
    """The batch's shared query: `member()` per canary that may run."""

    def __init__(self, get: Get, members: int) -> None:
        self._get = get
        self._active = members  # members that have not left
        self._asked: dict[int, _Ask] = {}  # this round's arrivals
        self._answers: dict[int, dict[str, Sample] | MetricsError] = {}
        self._round = 0
        self._cond = threading.Condition()
        self.queries = 0  # how many queries were sent (the benchmark and the tests count them)

    def member(self) -> Member:
        return Member(self)

    def _arrive(self, member: Member, ask: _Ask) -> dict[str, Sample]:
        with self._cond:
            turn = self._round
            self._asked[id(member)] = ask
            if len(self._asked) >= self._active:
                self._flush()
            else:
                self._cond.wait_for(lambda: self._round != turn)
            answer = self._answers[id(member)]
        if isinstance(answer, MetricsError):
            raise answer
        return answer

    def _leave(self, member: Member) -> None:
        with self._cond:
            if member.left:
                return
            member.left = True
            self._active -= 1
            if self._asked and len(self._asked) >= self._active:
                self._flush()

    def _flush(self) -> None:
        """One query per (URL, window) for every member that arrived (the lock is held)."""
        groups: dict[tuple[str, int], list[int]] = {}
        for key, ask in self._asked.items():
            groups.setdefault((ask.url, ask.window), []).append(key)
        answers: dict[int, dict[str, Sample] | MetricsError] = {}
        for (url, window), keys in groups.items():
            backends = {
                (key, name): backend
                for key in keys
                for name, backend in self._asked[key].backends.items()
            }
            self.queries += 1
            try:
                samples = fetch(self._get, url, backends, window)
            except MetricsError as error:
                answers |= dict.fromkeys(keys, error)
                continue
            for key in keys:
                answers[key] = {name: samples[key, name] for name in self._asked[key].backends}
        self._answers, self._asked = answers, {}
        self._round += 1
        self._cond.notify_all()


@dataclass(eq=False)
class Member:
    """One canary's share of the batch's query: `measure` at each check, `leave` at its end."""

    checks: Checks
    left: bool = field(default=False)

    def measure(self, url: str, backends: Mapping[str, Backend], window: int) -> dict[str, Sample]:
        return self.checks._arrive(self, _Ask(url, backends, window))

    def leave(self) -> None:
        self.checks._leave(self)
