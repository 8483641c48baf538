# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift action (state diff, playbooks/diff.yml): which live fields differ from what the
release last deployed. Where `helm diff` compares two manifests, this compares the cluster: each
object of the last deployed revision is applied in a server-side dry-run (what the cluster would
hold had nobody touched it since) and set against the live object. Left out: what the API server
and the controllers own (status, metadata the server sets, the Deployment's replicas while the
revision has an HPA). It writes nothing; `changed` means drift."""

from __future__ import annotations

import json
import threading
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import catalogue
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Action
from ansible_collections.exchange.platform.plugins.plugin_utils.store import History

SERVER_OWNED = {
    "status",
    "metadata.managedFields",
    "metadata.resourceVersion",
    "metadata.generation",
    "metadata.uid",
    "metadata.creationTimestamp",
}
HPA_OWNED = "spec.replicas"  # of the Deployment, while the revision has an HPA
HIDDEN = "(value hidden)"
SHOWN = 60  # characters of a value shown in a drift line


class Drift(Action):
    def steps(self) -> None:
        spec, kube = self.spec, self.cfg.client
        read = self.cfg.live or (lambda ref: kube.get(ref.kind, ref.namespace, ref.name))
        revision = History.read(self.cfg.store).last_deployed()
        where = f"{spec.name} in namespace {spec.namespace}"
        if revision is None:
            self.result.msg = (
                f"{where}: no deployed revision in its history (never deployed there, or the "
                "namespace is gone): nothing to compare"
            )
            return
        scaled = any(o["kind"] == "HorizontalPodAutoscaler" for o in revision.objects)
        lines = []
        for obj in revision.objects:
            ref = Ref.of(obj)
            live = read(ref)
            if live is None:
                lines.append(f"{ref}: gone (revision {revision.revision} has it)")
                continue
            wanted = kube.apply(obj, dry_run=True)
            skip = SERVER_OWNED | ({HPA_OWNED} if scaled and ref.kind == "Deployment" else set())
            secret = catalogue.holds_secret_values(ref.kind)
            for path, then, now in differences(wanted, live, skip):
                lines.append(f"{ref} {path}: {_show(then, secret)} -> {_show(now, secret)} live")
        count = f"{len(lines)} field{'s' if len(lines) != 1 else ''}"
        head = f"{where}: {count} drifted from revision {revision.revision}"
        if not lines:
            head = f"{where}: no drift from revision {revision.revision}"
        self.result.changed = bool(lines)
        self.result.revision = revision.revision  # the revision compared against
        self.result.msg = self.cfg.redact("\n".join([head, *("  " + line for line in lines)]))


class Live:
    """A batch's live objects for its drift reports: each kind listed once across namespaces
    (the releases' label selects them) instead of one read per object of each release, which
    halves the batch's requests beside its dry-runs. An object the list lacks (its label edited
    away, or gone) is read on its own, and so is every object of a kind whose list is refused
    (a deployer allowed only its own namespaces)."""

    def __init__(self, client: Client, selector: str) -> None:
        self.client, self.selector = client, selector
        self.kinds: dict[str, dict[Ref, dict[str, Any]] | None] = {}
        self.lock = threading.Lock()  # the batch's threads ask at once: one list per kind

    def __call__(self, ref: Ref) -> dict[str, Any] | None:
        with self.lock:
            if ref.kind not in self.kinds:
                self.kinds[ref.kind] = self._listed(ref.kind)
            listed = self.kinds[ref.kind] or {}
        found = listed.get(ref)
        return found if found is not None else self.client.get(ref.kind, ref.namespace, ref.name)

    def _listed(self, kind: str) -> dict[Ref, dict[str, Any]] | None:
        try:
            items = self.client.list(kind, "", self.selector)
        except KubeError:
            return None
        # a list's items carry neither kind nor apiVersion; a read of the object does
        head = {"apiVersion": catalogue.BY_KIND[kind].api_version, "kind": kind}
        return {Ref.of(o := dict(head, **item)): o for item in items}


def differences(
    wanted: Any, live: Any, skip: set[str], path: str = ""
) -> list[tuple[str, Any, Any]]:
    """(path, wanted, live) for each leaf where the two differ; lists compared item by item."""
    if path in skip:
        return []
    if isinstance(wanted, dict) and isinstance(live, dict):
        out = []
        for key in sorted(set(wanted) | set(live), key=str):
            inner = f"{path}.{key}" if path else str(key)
            out += differences(wanted.get(key), live.get(key), skip, inner)
        return out
    if isinstance(wanted, list) and isinstance(live, list) and len(wanted) == len(live):
        out = []
        for i, (a, b) in enumerate(zip(wanted, live, strict=True)):
            out += differences(a, b, skip, f"{path}[{i}]")
        return out
    return [] if wanted == live else [(path, wanted, live)]


def _show(value: Any, secret: bool) -> str:
    if value is None:
        return "(none)"
    if secret:
        return HIDDEN
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."
