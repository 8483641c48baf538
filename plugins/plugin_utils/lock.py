# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy lock: a coordination.k8s.io Lease per release, held the way client-go's leader
election holds one.

- Taken by create (409: someone holds it), renewed and taken over by update carrying the
  resourceVersion last seen (409: someone was faster), released by a delete with that
  resourceVersion as precondition.
- A holder is dead when *this* client has seen its record unchanged for leaseDurationSeconds,
  measured on this machine's monotonic clock. The renewTime written by another machine is never
  compared with this machine's clock.
- While held, a thread renews every third of the duration, so the lock never lapses mid-deploy,
  also while kubernetes.core.k8s runs in its own process.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Waiter


class LockError(Exception):
    """The lock could not be taken or was lost; the message says why."""


class NamespaceMissing(LockError):
    """The Lease cannot be created because its namespace does not exist."""


def _micro_time() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record(lease: dict[str, Any]) -> tuple[Any, ...]:
    spec = lease.get("spec", {})
    return (
        spec.get("holderIdentity"),
        spec.get("renewTime"),
        spec.get("acquireTime"),
        spec.get("leaseDurationSeconds"),
        lease["metadata"].get("resourceVersion"),
    )


class Lease:
    """One release's lock. `take` waits for a live holder; `release` lets go."""

    def __init__(
        self,
        kube: Client,
        namespace: str,
        name: str,
        holder: str,
        duration: int = 30,
        labels: dict[str, str] | None = None,
        waiter: Waiter | None = None,
    ) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name
        self.holder, self.duration, self.labels = holder, duration, labels or {}
        self.waiter = waiter or Waiter()
        self.lease: dict[str, Any] | None = None  # set only while this run holds the lock
        self.seen: dict[str, Any] | None = None  # another holder's Lease, last observed
        self.lost: str = ""
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self.mutex = threading.Lock()  # the renewer thread and the engine share `lease`

    def _body(self, current: dict[str, Any] | None) -> dict[str, Any]:
        now = _micro_time()
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        spec: dict[str, Any] = {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.duration,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": 0,
        }
        if current is None:
            metadata["labels"] = self.labels
        else:
            metadata = dict(current["metadata"])
            held = current.get("spec", {})
            if held.get("holderIdentity") == self.holder:
                spec["acquireTime"] = held.get("acquireTime", now)
                spec["leaseTransitions"] = held.get("leaseTransitions", 0)
            else:
                spec["leaseTransitions"] = held.get("leaseTransitions", 0) + 1
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec,
        }

    def try_take(self) -> bool:
        """One attempt, as client-go's tryAcquireOrRenew: True when this run holds the lock."""
        current = self.kube.get("Lease", self.namespace, self.name)
        try:
            if current is None:
                try:
                    created = self.kube.create(self._body(None))
                except KubeError as error:
                    if error.status == 404:  # no race: the namespace itself is missing
                        raise NamespaceMissing(
                            f"namespace {self.namespace} does not exist"
                        ) from error
                    raise
                with self.mutex:
                    self.lease = created
                return True
            record = _record(current)
            if record != self._observed:
                self._observed, self._observed_at = record, self.waiter.clock()
            holder = current.get("spec", {}).get("holderIdentity")
            alive = self.waiter.clock() - self._observed_at < (record[3] or self.duration)
            if holder and holder != self.holder and alive:
                self.seen = current
                return False
            taken = self.kube.replace(self._body(current))
            with self.mutex:
                self.lease = taken
            return True
        except KubeError as error:
            if error.status in (404, 409):  # someone else was faster; look again
                return False
            raise

    def take(self, wait: float) -> bool:
        """Take the lock, waiting up to `wait` seconds for a live holder; True if it waited."""
        tries = [0]

        def probe() -> bool | None:
            tries[0] += 1
            return True if self.try_take() else None

        if self.waiter.until(probe, wait, 1) is None:
            spec = (self.seen or {}).get("spec", {})
            holder, since = spec.get("holderIdentity"), spec.get("acquireTime")
            raise LockError(
                f"another deploy ({holder}, since {since}) holds the deploy lock Lease "
                f"{self.namespace}/{self.name}; waited {wait:g}s for it"
            )
        return tries[0] > 1

    def renew(self) -> None:
        """Renew with the resourceVersion last written; losing the lock is remembered in `lost`."""
        with self.mutex:
            if self.lease is None or self.lost:
                return
            try:
                self.lease = self.kube.replace(self._body(self.lease))
            except KubeError as error:
                if error.status in (404, 409):
                    self.lost = f"lost the deploy lock {self.namespace}/{self.name} ({error})"
                # Other errors (an outage) are retried at the next renewal.

    def release(self) -> bool:
        """Delete the Lease if this run still holds it; True if it did."""
        with self.mutex:
            if self.lease is None or self.lost:
                return False
            rv = self.lease["metadata"]["resourceVersion"]
            try:
                released = self.kube.delete(
                    Ref("Lease", self.namespace, self.name), precondition_rv=rv
                )
            except KubeError as error:
                if error.status == 409:
                    return False
                raise
            self.lease = None
            return released


class Renewer:
    """Renews every held Lease every third of its duration until stopped."""

    def __init__(self, leases: list[Lease], interval: float) -> None:
        self.leases = leases
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for lease in list(self.leases):
                with contextlib.suppress(Exception):  # an outage: retried at the next tick
                    lease.renew()

    def __enter__(self) -> Renewer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
