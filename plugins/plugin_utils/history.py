# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release history: every revision of a release, kept in one Secret in its namespace.

Like Helm's `helm.sh/release.v1` Secrets, but one Secret per release (`exchange-platform.release.
<name>`, type `exchange.platform/release.v1`) whose keys `v1`, `v2`, ... hold gzipped JSON
records. One Secret means a Role can grant it by name (no `list` on Secrets), and a deploy writes
history once. Plain-mode Secret values live only here, inside a Secret.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.kube import Kube, Ref

TYPE = "exchange.platform/release.v1"
RELEASE_LABEL = "exchange.platform/release"


def history_name(release: str) -> str:
    return f"exchange-platform.release.{release}"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode(record: dict[str, Any]) -> str:
    raw = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode()


def _decode(value: str) -> dict[str, Any]:
    return json.loads(gzip.decompress(base64.b64decode(value)))


@dataclass
class History:
    """The records of one release, oldest first, and the Secret they were read from."""

    kube: Kube
    namespace: str
    release: str
    records: list[dict[str, Any]] = field(default_factory=list)
    secret: dict[str, Any] | None = None

    @classmethod
    def read(cls, kube: Kube, namespace: str, release: str) -> History:
        secret = kube.get("Secret", namespace, history_name(release))
        history = cls(kube, namespace, release, secret=secret)
        data = (secret or {}).get("data") or {}
        keys = sorted(
            (k for k in data if k.startswith("v") and k[1:].isdigit()), key=lambda k: int(k[1:])
        )
        history.records = [_decode(data[k]) for k in keys]
        return history

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.records[-1] if self.records else None

    def last_deployed(self) -> dict[str, Any] | None:
        for record in reversed(self.records):
            if record["status"] == "deployed":
                return record
        return None

    def get(self, revision: int) -> dict[str, Any] | None:
        return next((r for r in self.records if r["revision"] == revision), None)

    def next_revision(self) -> int:
        return (self.latest or {"revision": 0})["revision"] + 1

    def append(self, record: dict[str, Any], keep: int) -> None:
        """Add a record (superseding the deployed one) and write the history, keeping `keep`."""
        if record["status"] == "deployed":
            for old in self.records:
                if old["status"] == "deployed":
                    old["status"] = "superseded"
        self.records.append(record)
        self.records = self.records[-max(keep, 1) :]
        self.write()

    def write(self) -> None:
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
            "data": {f"v{r['revision']}": _encode(r) for r in self.records},
        }
        if self.secret is None:
            path = self.kube.path("Secret", self.namespace)
            self.secret = self.kube.request("POST", path, body=body)
        else:
            body["metadata"]["resourceVersion"] = self.secret["metadata"]["resourceVersion"]
            path = self.kube.path("Secret", self.namespace, history_name(self.release))
            self.secret = self.kube.request("PUT", path, body=body)

    def delete(self) -> bool:
        return self.kube.delete(Ref("Secret", self.namespace, history_name(self.release)))


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """What a history listing shows of a record: never the objects or Secret values."""
    return {
        key: record.get(key)
        for key in ("revision", "time", "image", "status", "deployer", "description")
    }
