# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deploy lock on a coordination.k8s.io Lease, as client-go's leader election does it.

The holder creates the Lease (409 if someone holds it), renews it with writes that carry the
resourceVersion it last saw (409 if someone took it over), and deletes it with that
resourceVersion as a precondition. A Lease whose renewTime is older than its duration belongs
to a run that died: it may be taken over, again with optimistic concurrency.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import Any

try:
    from kubernetes.client import CoordinationV1Api, V1DeleteOptions, V1Preconditions
    from kubernetes.client.exceptions import ApiException
except ImportError:  # reported by the modules
    pass


# The `lock` option of k8s_secret and k8s_rollout (documented by the deploy_lock doc fragment).
LOCK_SPEC = dict(
    type="dict",
    options=dict(
        name=dict(type="str", required=True),
        holder=dict(type="str", required=True),
        duration=dict(type="int", default=30),
        wait=dict(type="int", default=330),
        labels=dict(type="dict", default={}),
    ),
)


class LockError(Exception):
    """The lock could not be taken, kept or released; the message says why."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class Lock:
    api: Any  # CoordinationV1Api
    name: str
    namespace: str
    holder: str
    duration: int = 30

    @classmethod
    def for_client(cls, api_client: Any, **kwargs: Any) -> Lock:
        return cls(CoordinationV1Api(api_client), **kwargs)

    def _body(self, lease: Any = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
        now = _now().isoformat().replace("+00:00", "Z")
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if labels:
            metadata["labels"] = labels
        if lease is not None:
            metadata["resourceVersion"] = lease.metadata.resource_version
            metadata["labels"] = lease.metadata.labels
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.holder,
                "leaseDurationSeconds": self.duration,
                "acquireTime": now,
                "renewTime": now,
            },
        }

    @staticmethod
    def expired(lease: Any) -> bool:
        spec = lease.spec
        last = spec.renew_time or spec.acquire_time
        if last is None:
            return True
        return (_now() - last).total_seconds() > (spec.lease_duration_seconds or 0)

    def acquire(self, wait: float, labels: dict[str, str] | None = None) -> bool:
        """Take the lock, waiting up to `wait` seconds for a live holder; True if it waited."""
        deadline = time.monotonic() + wait
        waited = False
        while True:
            try:
                self.api.create_namespaced_lease(self.namespace, self._body(labels=labels))
                return waited
            except ApiException as error:
                if error.status != 409:
                    raise
            try:
                lease = self.api.read_namespaced_lease(self.name, self.namespace)
            except ApiException as error:
                if error.status == 404:  # released meanwhile
                    continue
                raise
            if self.expired(lease):
                try:
                    self.api.replace_namespaced_lease(self.name, self.namespace, self._body(lease))
                    return waited
                except ApiException as error:
                    if error.status not in (404, 409):  # someone else was faster
                        raise
                    continue
            if time.monotonic() >= deadline:
                since = lease.spec.acquire_time.isoformat() if lease.spec.acquire_time else "?"
                raise LockError(
                    f"another deploy ({lease.spec.holder_identity}, since {since}) holds the "
                    f"deploy lock Lease {self.namespace}/{self.name}; waited {wait:g}s for it"
                )
            waited = True
            time.sleep(1)

    def attach(self) -> None:
        """Adopt a lock this run took in an earlier module call."""
        lease = self.api.read_namespaced_lease(self.name, self.namespace)
        if lease.spec.holder_identity != self.holder:
            raise LockError(
                f"the deploy lock {self.namespace}/{self.name} is held by "
                f"{lease.spec.holder_identity}, not by this run ({self.holder})"
            )

    def renew(self) -> None:
        lease = self.api.read_namespaced_lease(self.name, self.namespace)
        if lease.spec.holder_identity != self.holder:
            raise LockError(f"lost the deploy lock to {lease.spec.holder_identity}")
        lease.spec.renew_time = _now()
        self.api.replace_namespaced_lease(self.name, self.namespace, lease)

    def release(self) -> bool:
        """Delete the Lease if this run holds it; True if it did."""
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        if lease.spec.holder_identity != self.holder:
            return False
        try:
            self.api.delete_namespaced_lease(
                self.name,
                self.namespace,
                body=V1DeleteOptions(
                    preconditions=V1Preconditions(resource_version=lease.metadata.resource_version)
                ),
            )
        except ApiException as error:
            if error.status in (404, 409):
                return False
            raise
        return True
