# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a deploy will change, decided before anything is written.

Every object is server-side dry-run applied. The API server's answer says whether all of it will
be accepted (the rejections, each traced to the role variable behind it) and what each object
will look like, which is compared with the live object. Objects that would not change are not
written. A Deployment's pod template that changes means this run starts a rollout.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.redact import redact

CHECKSUM = "exchange.platform/secret-checksum"
HANDOVER_MANAGER_SUFFIX = "-handover"


def secret_checksum(key: str, data: dict[str, str]) -> str:
    """HMAC-SHA256 of a Secret's data under the release's random key: equal data gives equal
    checksums, and without the key the checksum says nothing about low-entropy values."""
    canonical = json.dumps(data or {}, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(bytes.fromhex(key), canonical, hashlib.sha256).hexdigest()


def normalize(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The object without what changes on its own: status, resourceVersion, managedFields times."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata", {})
    for key in ("resourceVersion", "generation"):
        meta.pop(key, None)
    for entry in meta.get("managedFields") or []:
        entry.pop("time", None)
    return out


def owns_replicas(deployment: dict[str, Any] | None, manager: str) -> bool:
    """Whether `manager` applied spec.replicas (so leaving it out would reset it)."""
    for entry in (deployment or {}).get("metadata", {}).get("managedFields") or []:
        applied = entry.get("manager") == manager and entry.get("operation") == "Apply"
        if applied and "f:replicas" in (entry.get("fieldsV1", {}).get("f:spec") or {}):
            return True
    return False


def field_variable(kind: str, path: str, sources: dict[str, str]) -> str:
    """The role variable behind a field, by the longest matching `Kind:path` prefix."""
    best = ""
    for prefix in sources:
        kinds, _colon, field = prefix.partition(":")
        if kinds in (kind, "*") and path.startswith(field) and len(prefix) > len(best):
            best = prefix
    return sources.get(best, "")


@dataclass
class Change:
    """One object of the release: what is live and what applying it would make of it."""

    obj: dict[str, Any]
    live: dict[str, Any] | None
    result: dict[str, Any] | None = None

    @property
    def ref(self) -> Ref:
        return Ref.of(self.obj)

    @property
    def changed(self) -> bool:
        return normalize(self.result) != normalize(self.live)

    def template_changed(self) -> bool:
        if self.live is None:
            return True
        before = normalize(self.live)["spec"].get("template")
        return before != normalize(self.result)["spec"].get("template")


@dataclass
class Preflight:
    """The release's objects after the dry-run, and every rejection."""

    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def dry_run(
    kube: Client,
    objects: list[dict[str, Any]],
    sources: dict[str, str],
    secrets: list[str],
    known: dict[Ref, dict[str, Any] | None] | None = None,
) -> Preflight:
    """Read each object (unless `known` has it), dry-run apply it, collect all rejections."""
    preflight = Preflight()
    known = known or {}
    for obj in objects:
        ref = Ref.of(obj)
        live = known[ref] if ref in known else kube.get(ref.kind, ref.namespace, ref.name)
        change = Change(obj, live)
        try:
            change.result = kube.apply(obj, dry_run=True)
        except KubeError as error:
            preflight.problems += _rejections(ref, error, sources, secrets)
        preflight.changes.append(change)
    return preflight


def _rejections(
    ref: Ref, error: KubeError, sources: dict[str, str], secrets: list[str]
) -> list[str]:
    def clean(text: str) -> str:
        return redact(text, secrets)

    if error.status == 404 and "namespaces" in error.message:
        return [f"{sources.get('namespace', 'namespace')}: {clean(error.message)}"]
    if not error.causes:
        variable = sources.get(f"{ref.kind}:", "")
        return [f"{variable or ref}: {ref} rejected: {clean(error.message)}"]
    problems = []
    for cause in error.causes:
        path = cause.get("field", "")
        variable = field_variable(ref.kind, path, sources) or str(ref)
        problems.append(f"{variable}: {ref} {path}: {clean(cause.get('message', ''))}")
    return problems


def handover_patch(deployment: dict[str, Any], replicas: int) -> dict[str, Any]:
    """The apply that hands spec.replicas to another manager, so the HPA keeps the count
    (Kubernetes' documented server-side-apply hand-off to a HorizontalPodAutoscaler)."""
    meta = deployment["metadata"]
    return {
        "apiVersion": deployment["apiVersion"],
        "kind": "Deployment",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": {"replicas": replicas},
    }


def with_replicas(deployment: dict[str, Any], replicas: int) -> dict[str, Any]:
    out = copy.deepcopy(deployment)
    out["spec"]["replicas"] = replicas
    return out


def with_checksum(deployment: dict[str, Any], checksum: str) -> dict[str, Any]:
    out = copy.deepcopy(deployment)
    template_meta = out["spec"]["template"].setdefault("metadata", {})
    template_meta.setdefault("annotations", {})[CHECKSUM] = checksum
    return out


def diff(change: Change, secret: bool) -> dict[str, Any]:
    """An Ansible diff of one object; a Secret's data is masked."""

    before_data = ((change.live or {}).get("data")) or {}

    def shown(obj: dict[str, Any] | None, after: bool) -> str:
        obj = normalize(obj) or {}
        obj.get("metadata", {}).pop("managedFields", None)
        if secret and obj:
            # Never a value: which keys change is all a diff of a Secret may say.
            obj["data"] = {
                key: "********" + (" (changed)" if after and before_data.get(key) != value else "")
                for key, value in (obj.get("data") or {}).items()
            }
        return json.dumps(obj, indent=2, sort_keys=True) + "\n" if obj else ""

    return {
        "before_header": f"{change.ref} (live)",
        "after_header": f"{change.ref} (after apply)",
        "before": shown(change.live, False),
        "after": shown(change.result, True),
    }
