# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback action: put a stored revision back, whole, through the same steps as a deploy
(Secret and replicas hand-offs, dry-run, kubernetes.core.k8s, rollout) and record it as a new
revision. `playbooks/rollback.yml` runs it, and so does a deploy whose rollout failed."""

from __future__ import annotations

from ansible_collections.exchange.platform.plugins.plugin_utils import plan as planning
from ansible_collections.exchange.platform.plugins.plugin_utils import revision
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError
from ansible_collections.exchange.platform.plugins.plugin_utils.release import Release


def run(rel: Release, number: int) -> str:
    """Return to revision `number` (0: the one before the latest). '' when it is deployed, else
    why not; the outcome carries the diff, the new revision and `rolled_back_to`."""
    history = rel.history
    target = history.get(number) if number else history.previous()
    if target is None:
        listed = ", ".join(str(r["revision"]) for r in history.records) or "none"
        return (
            f"exchange_router_rollback_revision: no revision {number or '(previous)'} of "
            f"release {rel.spec.name} to roll back to (revisions: {listed})"
        )
    stored = target.get("secret") or {}
    secret = None
    if stored.get("data") is not None:
        secret = revision.secret_manifest(rel, stored["data"])
        rel.remember(stored["data"])
    mode = "plain" if secret is not None else stored.get("mode", "existing")
    description = f"rollback to revision {target['revision']}"
    try:
        plan_ = revision.plan(rel, target["objects"], secret, mode, description)
    except revision.PlanError as error:
        return str(error)
    rel.outcome.diff = [planning.diff(c, c.ref.kind == "Secret") for c in plan_.changed()]
    rel.outcome.changed = True
    rel.outcome.rolled_back_to = target["revision"]
    if rel.check:
        return ""
    error = revision.prepare(rel, plan_)
    if not error and plan_.writes():
        error = rel.apply(plan_.writes())
    return revision.complete(rel, plan_, error)


def after_failure(rel: Release, number: int) -> str:
    """What a failed deploy says after rolling back to revision `number`."""
    failed_revision = rel.outcome.revision
    try:
        again = run(rel, number)
    except KubeError as error:
        again = str(error)
    rel.outcome.changed = True
    recorded = rel.outcome.revision
    rel.outcome.revision = failed_revision
    if recorded == failed_revision:  # the rollback stopped before recording anything
        return f"Rolling back to revision {number} failed: {again}"
    tail = "that rollout is complete." if not again else f"but: {again}"
    return f"Rolled back to revision {number} (recorded as revision {recorded}); {tail}"
