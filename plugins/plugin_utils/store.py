# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release store: every revision of a release, and the one place they are kept.

`SecretStore` is the real one: like Helm's `helm.sh/release.v1` Secrets, but one Secret per
release (`exchange-platform.release.<name>`, type `exchange.platform/release.v1`) whose keys
`v1`, `v2`, ... hold gzipped JSON records. One Secret means a Role can grant it by name (no
`list` on Secrets), and a deploy writes history once. Plain-mode Secret values live only here,
inside a Secret. Tests use an in-memory store; `History` is the logic over either, and
`Revision` the typed record both hold.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import gzip
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, Ref

TYPE = "exchange.platform/release.v1"
RELEASE_LABEL = "exchange.platform/release"
# What a history listing shows of a revision (never its objects or Secret values), in order.
HISTORY_COLUMNS = ("revision", "time", "status", "deployer", "image", "description")


class Status(enum.StrEnum):
    DEPLOYED = "deployed"  # the revision on the cluster now
    SUPERSEDED = "superseded"  # deployed once, replaced by a later deployed revision
    FAILED = "failed"  # its rollout or edge failed


@dataclass
class SecretRecord:
    """How a revision's Secret was handled: its mode, its name, whether the release created it
    (plain, or its SealedSecret's controller did) and, in plain mode, its data."""

    mode: str = "existing"
    name: str = ""
    owned: bool = False
    data: dict[str, str] | None = None


@dataclass
class Revision:
    """One revision of a release, as stored."""

    revision: int
    status: Status
    description: str
    objects: list[dict[str, Any]]
    secret: SecretRecord
    checksum_key: str = ""  # the HMAC key of the pod template's secret checksum
    time: str = ""
    deployer: str = ""
    image: str = ""
    # A canary's checks, in order (canary.Canary): step, weight, requests, success rate, p99
    # latency, decision and reason; empty for a revision deployed without one.
    canary: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["status"] = self.status.value
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Revision:
        secret = raw.get("secret") or {}
        return cls(
            revision=raw["revision"],
            status=Status(raw["status"]),
            description=raw.get("description", ""),
            objects=raw.get("objects") or [],
            secret=SecretRecord(
                secret.get("mode", "existing"),
                secret.get("name", ""),
                bool(secret.get("owned")),
                secret.get("data"),
            ),
            checksum_key=raw.get("checksum_key", ""),
            time=raw.get("time", ""),
            deployer=raw.get("deployer", ""),
            image=raw.get("image", ""),
            canary=raw.get("canary") or [],
        )

    def summary(self) -> dict[str, Any]:
        """What a history listing shows: the HISTORY_COLUMNS, never objects or Secret values."""
        row = {key: getattr(self, key) for key in HISTORY_COLUMNS}
        row["status"] = self.status.value
        return row


class Store(Protocol):
    """Where one release's records live."""

    def load(self) -> list[Revision] | None: ...  # None: no history at all

    def save(self, records: list[Revision]) -> None: ...

    def delete(self) -> bool: ...


def history_name(release: str) -> str:
    return f"exchange-platform.release.{release}"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode(record: Revision) -> str:
    raw = json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode()


def _decode(value: str) -> Revision:
    return Revision.from_dict(json.loads(gzip.decompress(base64.b64decode(value))))


class SecretStore:
    """The records in the Secret exchange-platform.release.<name>, written with the
    resourceVersion last read (a concurrent writer gets 409, never a lost update)."""

    def __init__(self, kube: Client, namespace: str, release: str) -> None:
        self.kube, self.namespace, self.release = kube, namespace, release
        self.secret: dict[str, Any] | None = None

    def load(self) -> list[Revision] | None:
        self.secret = self.kube.get("Secret", self.namespace, history_name(self.release))
        if self.secret is None:
            return None
        data = self.secret.get("data") or {}
        keys = sorted(
            (k for k in data if k.startswith("v") and k[1:].isdigit()), key=lambda k: int(k[1:])
        )
        return [_decode(data[k]) for k in keys]

    def save(self, records: list[Revision]) -> None:
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
            "data": {f"v{r.revision}": _encode(r) for r in records},
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
    """The revisions of one release, oldest first."""

    store: Store
    records: list[Revision] = field(default_factory=list)
    exists: bool = False

    @classmethod
    def read(cls, store: Store) -> History:
        records = store.load()
        return cls(store, records or [], records is not None)

    @property
    def latest(self) -> Revision | None:
        return self.records[-1] if self.records else None

    def last_deployed(self) -> Revision | None:
        return next((r for r in reversed(self.records) if r.status is Status.DEPLOYED), None)

    def previous(self) -> Revision | None:
        """The revision `rollback` returns to by default: the deployed one before the latest."""
        deployed = [r for r in self.records if r.status is not Status.FAILED]
        return deployed[-2] if len(deployed) > 1 else None

    def get(self, revision: int) -> Revision | None:
        return next((r for r in self.records if r.revision == revision), None)

    def next_revision(self) -> int:
        return self.latest.revision + 1 if self.latest else 1

    def append(self, record: Revision, keep: int) -> None:
        """Add a revision (superseding the deployed one) and save, keeping `keep` revisions."""
        if record.status is Status.DEPLOYED:
            for old in self.records:
                if old.status is Status.DEPLOYED:
                    old.status = Status.SUPERSEDED
        self.records = [*self.records, record][-max(keep, 1) :]
        self.store.save(self.records)
        self.exists = True

    def delete(self) -> bool:
        deleted = self.store.delete() if self.exists else False
        self.records, self.exists = [], False
        return deleted
