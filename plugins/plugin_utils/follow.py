# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollouts followed together: one watch of the release's Deployments per namespace, shared by
every release of the batch in it, wakes each rollout's wait as soon as its Deployment changes
(as `kubectl rollout status` does), instead of each release polling on its own clock.

A rollout's wait (plugins/plugin_utils/wait.py Waiter.until) asks its `Pace` for a mark before it
reads the Deployment, then waits from that mark: a change in between wakes it at once. Where the
watch is refused (a deployer Role without the `watch` verb) or breaks, the wait is a plain
sleep of the same bound, as before.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Pace

SELECTOR = "app.kubernetes.io/managed-by=exchange.platform"
WATCH_SECONDS = 60  # the server ends each watch after this; the follower opens the next


class Follower:
    """The Deployments of one cluster's batch, one watch per namespace, opened on first use."""

    def __init__(
        self,
        kube: Client,
        kind: str = "Deployment",
        selector: str = SELECTOR,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.kube, self.kind, self.selector, self.sleep = kube, kind, selector, sleep
        self._cond = threading.Condition()
        self._changes: dict[tuple[str, str], int] = defaultdict(int)
        self._streams: dict[str, Any] = {}
        self._broken: set[str] = set()
        self._stopped = False

    def pace(self, ref: Ref) -> Pace:
        return _Paced(self, ref)

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            streams = list(self._streams.values())
            self._cond.notify_all()
        for stream in streams:
            if stream is not None:
                stream.close()

    def _open(self, namespace: str) -> None:
        with self._cond:
            if namespace in self._streams or self._stopped:
                return
            self._streams[namespace] = None
        threading.Thread(target=self._follow, args=(namespace,), daemon=True).start()

    def _follow(self, namespace: str) -> None:
        try:
            while not self._stopped:
                opened = time.monotonic()
                self._stream(namespace)
                if time.monotonic() - opened < 1:  # ended at once: never open watches in a loop
                    with self._cond:
                        self._cond.wait_for(lambda: self._stopped, 1)
        except KubeError:  # refused or broken: the waits of this namespace become plain sleeps
            with self._cond:
                self._broken.add(namespace)
                self._cond.notify_all()

    def _stream(self, namespace: str) -> None:
        stream = self.kube.watch(self.kind, namespace, self.selector, WATCH_SECONDS)
        with self._cond:
            if self._stopped:
                stream.close()
                return
            self._streams[namespace] = stream
        try:
            for event in stream:
                name = (event.get("object") or {}).get("metadata", {}).get("name", "")
                with self._cond:
                    self._changes[(namespace, name)] += 1
                    self._cond.notify_all()
        finally:
            stream.close()

    def mark(self, ref: Ref) -> int:
        """How many changes of `ref` were seen so far (opens its namespace's watch)."""
        self._open(ref.namespace)
        with self._cond:
            return self._changes[(ref.namespace, ref.name)]

    def wait(self, ref: Ref, mark: int, timeout: float) -> None:
        """Until `ref` changed after `mark`, or `timeout`."""
        key, deadline = (ref.namespace, ref.name), time.monotonic() + timeout

        def woken() -> bool:
            return self._changes[key] != mark or self._stopped or ref.namespace in self._broken

        with self._cond:
            self._cond.wait_for(woken, timeout)
            broken = ref.namespace in self._broken and self._changes[key] == mark
        if broken:  # no watch: the rest of the bound as a plain wait
            self.sleep(max(0.0, deadline - time.monotonic()))


class _Paced:
    def __init__(self, follower: Follower, ref: Ref) -> None:
        self.follower, self.ref = follower, ref

    def mark(self) -> int:
        return self.follower.mark(self.ref)

    def wait(self, mark: int, timeout: float) -> None:
        self.follower.wait(self.ref, mark, timeout)
