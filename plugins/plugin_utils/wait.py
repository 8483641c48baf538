# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one waiter: every polling loop of the engine (a rollout, removed objects, the edge, the
Sealed Secrets controller, the deploy lock) is `Waiter.until`, over one injected clock and sleep,
so a test runs any wait in no time on a fake clock.

A wait may be paced by a watch (plugins/plugin_utils/follow.py): `mark` before the probe reads,
then `wait` from that mark, so a change in between wakes it at once. Without one, it sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

T = TypeVar("T")


class Pace(Protocol):
    def mark(self) -> int: ...

    def wait(self, mark: int, timeout: float) -> None: ...


class Sleep:
    """No watch: wait the whole bound."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep

    def mark(self) -> int:
        return 0

    def wait(self, mark: int, timeout: float) -> None:
        self.sleep(timeout)


@dataclass
class Waiter:
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def until(
        self,
        probe: Callable[[], T | None],
        timeout: float,
        interval: float,
        pace: Pace | None = None,
    ) -> T | None:
        """The probe's first answer that is not None, asked every `interval` (or when `pace`
        wakes it) until `timeout` seconds have passed; None when they have. The probe is always
        asked at least once, and once more after the deadline is reached."""
        pace = pace or Sleep(self.sleep)
        deadline = self.clock() + timeout
        while True:
            mark = pace.mark()
            answer = probe()
            if answer is not None or self.clock() >= deadline:
                return answer
            pace.wait(mark, interval)
