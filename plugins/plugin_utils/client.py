# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster client every action is written against: `Client` (the few requests a release
makes, as raw JSON), the `Ref` that names an object, and `KubeError`, the one error a request
raises. `apiserver.ApiServerClient` is the real client; the unit tests use an in-memory one
(tests/unit/plugins/plugin_utils/fake_cluster.py), and tests/contract runs the same checks on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol


class KubeError(Exception):
    """An API request failed: the HTTP status and the server's own Status message."""

    def __init__(
        self, status: int, message: str, causes: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{status} {message}" if status else message)  # 0: no HTTP answer
        self.status = status
        self.message = message
        self.causes = causes or []


@dataclass(frozen=True)
class Ref:
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Ref:
        meta = obj["metadata"]
        return cls(obj["kind"], meta.get("namespace", ""), meta["name"])

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """An object's status condition of that type, or {}."""
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return {}


class Client(Protocol):
    """What the release engine asks of a cluster."""

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list(self, kind: str, namespace: str, selector: str = "") -> list[dict[str, Any]]: ...

    def apply(
        self, obj: dict[str, Any], dry_run: bool = False, manager: str = "", force: bool = True
    ) -> dict[str, Any]: ...

    def create(self, obj: dict[str, Any]) -> dict[str, Any]: ...

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]: ...

    def delete(
        self, ref: Ref, propagation: str = "Background", precondition_rv: str = ""
    ) -> bool: ...

    def log(self, namespace: str, pod: str, container: str, lines: int, previous: bool) -> str: ...

    def whoami(self) -> str: ...

    def serves(self, group_version: str) -> bool: ...

    def evict(self, namespace: str, pod: str) -> bool: ...

    def watch(self, kind: str, namespace: str, selector: str, seconds: int) -> Stream: ...


class Stream(Protocol):
    """A watch's events ({"type": ..., "object": ...}) until the server ends it, or close()."""

    def __iter__(self) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...
