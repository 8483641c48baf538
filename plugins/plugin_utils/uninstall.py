# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The uninstall action: delete what the release's latest revision says it created (its Secret
only if it created it, directly or through its SealedSecret), then its history. Without a
history (releases of 1.x) it goes by the objects' names and the release's labels."""

from __future__ import annotations

from ansible_collections.exchange.platform.plugins.plugin_utils import revision
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.release import Release
from ansible_collections.exchange.platform.plugins.plugin_utils.rollout import wait_gone


def run(rel: Release) -> None:
    spec, kube = rel.spec, rel.kube
    last = rel.history.latest
    if last is not None:
        refs = [Ref.of(o) for o in last["objects"]]
        stored = last.get("secret") or {}
        if stored.get("owned"):
            refs.insert(0, Ref("Secret", spec.namespace, stored.get("name", spec.secret_name)))
    else:
        refs = _labelled(rel)
    if rel.check:
        rel.outcome.changed = rel.history.exists or any(
            kube.get(r.kind, r.namespace, r.name) for r in refs
        )
        return
    deleted = revision.delete(rel, refs, orphan_sealed=False)
    still = wait_gone(kube, refs, spec.timeout)
    if still:
        rel.warn("still being deleted: " + ", ".join(map(str, still)))
    deleted = rel.history.delete() or deleted
    rel.outcome.changed = deleted
    rel.outcome.msg = (
        f"Release {spec.name} removed" if deleted else f"Release {spec.name} is not installed"
    )


def _labelled(rel: Release) -> list[Ref]:
    """The named objects carrying the release's labels."""
    spec = rel.spec
    refs = []
    for obj in spec.objects:
        ref = Ref(obj["kind"], spec.namespace, obj["metadata"]["name"])
        live = rel.kube.get(ref.kind, ref.namespace, ref.name)
        labels = (live or {}).get("metadata", {}).get("labels") or {}
        if (
            labels.get("app.kubernetes.io/managed-by") == "exchange.platform"
            and labels.get("app.kubernetes.io/instance") == spec.name
        ):
            refs.append(ref)
    return refs
