# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The uninstall action (state absent): delete what the release's latest revision says it
created (its Secret only if it created it, directly or through its SealedSecret), wait until it
is gone, then delete its history. Without a history (releases of 1.x, or a history Secret
deleted by hand) it looks for every kind the catalogue says a release can make, by name, and
deletes those carrying the release's labels."""

from __future__ import annotations

from ansible_collections.exchange.platform.plugins.plugin_utils import revision
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Action
from ansible_collections.exchange.platform.plugins.plugin_utils.rollout import wait_gone
from ansible_collections.exchange.platform.plugins.plugin_utils.store import History

MANAGED_BY = ("app.kubernetes.io/managed-by", "exchange.platform")


class Uninstall(Action):
    def steps(self) -> None:
        cfg, spec, result = self.cfg, self.spec, self.result
        history = History.read(cfg.store)
        last = history.latest
        if last is not None:
            refs = [Ref.of(o) for o in last.objects]
            if last.secret.owned:
                name = last.secret.name or spec.secret_name
                refs.insert(0, Ref("Secret", spec.namespace, name))
        else:
            refs = self._labelled()
        if cfg.check:
            result.changed = history.exists or any(
                cfg.client.get(r.kind, r.namespace, r.name) for r in refs
            )
            return
        deleted = revision.delete(cfg, refs, orphan_sealed=False)
        still = wait_gone(cfg.client, refs, spec.timeout, cfg.waiter)
        if still:
            result.warnings.append("still being deleted: " + ", ".join(map(str, still)))
        deleted = history.delete() or deleted
        result.changed = deleted
        result.msg = (
            f"Release {spec.name} removed" if deleted else f"Release {spec.name} is not installed"
        )

    def _labelled(self) -> list[Ref]:
        """The objects the release can make (spec.objects: catalogue.refs) that carry its
        labels."""
        spec, refs = self.spec, []
        for obj in spec.objects:
            ref = Ref(obj["kind"], spec.namespace, obj["metadata"]["name"])
            live = self.cfg.client.get(ref.kind, ref.namespace, ref.name)
            labels = (live or {}).get("metadata", {}).get("labels") or {}
            if (
                labels.get(MANAGED_BY[0]) == MANAGED_BY[1]
                and labels.get("app.kubernetes.io/instance") == spec.name
            ):
                refs.append(ref)
        return refs
