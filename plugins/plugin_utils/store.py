# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release store: every revision of a release, and the one place they are kept.

`SecretStore` is the real one: like Helm's `helm.sh/release.v1` Secrets, but one Secret per
release (`exchange-platform.release.<name>`, type `exchange.platform/release.v1`) whose keys
`v1`, `v2`, ... hold gzipped JSON records. One Secret means a Role can grant it by name (no
`list` on Secrets), and a deploy writes history once. Plain-mode Secret values live only here,
inside a Secret. Tests use an in-memory store; `History` is the logic over either.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, Ref

TYPE = "exchange.platform/release.v1"
RELEASE_LABEL = "exchange.platform/release"
SUMMARY = ("revision", "time", "image", "status", "deployer", "description")


class Store(Protocol):
    """Where one release's records live."""

    def load(self) -> list[dict[str, Any]] | None: ...  # None: no history at all

    def save(self, records: list[dict[str, Any]]) -> None: ...

    def delete(self) -> bool: ...


def history_name(release: str) -> str:
    return f"exchange-platform.release.{release}"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode(record: dict[str, Any]) -> str:
    raw = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode()


def _decode(value: str) -> dict[str, Any]:
    return json.loads(gzip.decompress(base64.b64decode(value)))


class SecretStore:
    """The records in the Secret exchange-platform.release.<name>, written with the
    resourceVersion last read (a concurrent writer gets 409, never a lost update)."""

    def __init__(self, kube: Client, namespace: str, release: str) -> None:
        self.kube, self.namespace, self.release = kube, namespace, release
        self.secret: dict[str, Any] | None = None

    def load(self) -> list[dict[str, Any]] | None:
        self.secret = self.kube.get("Secret", self.namespace, history_name(self.release))
        if self.secret is None:
            return None
        data = self.secret.get("data") or {}
        keys = sorted(
            (k for k in data if k.startswith("v") and k[1:].isdigit()), key=lambda k: int(k[1:])
        )
        return [_decode(data[k]) for k in keys]

    def save(self, records: list[dict[str, Any]]) -> None:
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": TYPE,
            "metadata": {
                "name": history_name(self.release),
                "namespace": self.namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "exchange.platform",
                    RELEASE_LABEL: self.release,
                },
            },
            "data": {f"v{r['revision']}": _encode(r) for r in records},
        }
        if self.secret is None:
            self.secret = self.kube.create(body)
        else:
            body["metadata"]["resourceVersion"] = self.secret["metadata"]["resourceVersion"]
            self.secret = self.kube.replace(body)

    def delete(self) -> bool:
        self.secret = None
        return self.kube.delete(Ref("Secret", self.namespace, history_name(self.release)))


@dataclass
class History:
    """The records of one release, oldest first."""

    store: Store
    records: list[dict[str, Any]] = field(default_factory=list)
    exists: bool = False

    @classmethod
    def read(cls, store: Store) -> History:
        records = store.load()
        return cls(store, records or [], records is not None)

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.records[-1] if self.records else None

    def last_deployed(self) -> dict[str, Any] | None:
        return next((r for r in reversed(self.records) if r["status"] == "deployed"), None)

    def previous(self) -> dict[str, Any] | None:
        """The revision `rollback` returns to by default: the deployed one before the latest."""
        deployed = [r for r in self.records if r["status"] in ("deployed", "superseded")]
        return deployed[-2] if len(deployed) > 1 else None

    def get(self, revision: int) -> dict[str, Any] | None:
        return next((r for r in self.records if r["revision"] == revision), None)

    def next_revision(self) -> int:
        return (self.latest or {"revision": 0})["revision"] + 1

    def append(self, record: dict[str, Any], keep: int) -> None:
        """Add a record (superseding the deployed one) and save, keeping `keep` records."""
        if record["status"] == "deployed":
            for old in self.records:
                if old["status"] == "deployed":
                    old["status"] = "superseded"
        self.records = [*self.records, record][-max(keep, 1) :]
        self.store.save(self.records)
        self.exists = True

    def delete(self) -> bool:
        deleted = self.store.delete() if self.exists else False
        self.records, self.exists = [], False
        return deleted


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """What a history listing shows of a record: never the objects or Secret values."""
    return {key: record.get(key) for key in SUMMARY}
