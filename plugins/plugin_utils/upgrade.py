# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install/upgrade action, in two halves around the apply the engine shares between the
releases of a batch: `plan` (dry-run, diff, and the writes that precede the apply) and `finish`
(prune, rollout, history). A revision that fails is rolled back by the rollback action itself,
the same code `playbooks/rollback.yml` runs."""

from __future__ import annotations

from ansible_collections.exchange.platform.plugins.plugin_utils import edge, revision, rollback
from ansible_collections.exchange.platform.plugins.plugin_utils import plan as planning
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.release import Release
from ansible_collections.exchange.platform.plugins.plugin_utils.rollout import Watch


def plan(rel: Release) -> revision.Plan | None:
    """The revision the spec describes, checked by the API server; None when it cannot be
    deployed (the outcome says why). In check mode this is all that runs."""
    spec = rel.spec
    try:
        plan_ = revision.plan(rel, spec.objects, spec.secret, spec.secret_mode, "deploy")
    except revision.PlanError as error:
        rel.fail(str(error))
        return None
    rel.outcome.diff = [planning.diff(c, c.ref.kind == "Secret") for c in plan_.changed()]
    rel.outcome.changed = plan_.modified
    return plan_


def finish(rel: Release, plan_: revision.Plan, apply_error: str) -> None:
    spec = rel.spec
    if not plan_.modified:
        _look(rel)
        return
    failure = revision.complete(rel, plan_, apply_error)
    if not failure:
        rel.outcome.msg = f"Release {spec.name} revision {rel.outcome.revision} deployed"
        answers = edge.urls(plan_.record["objects"])
        if answers:
            rel.outcome.msg += "; it answers at " + ", ".join(answers)
        return
    previous = rel.history.last_deployed()
    if not spec.rollback_on_failure:
        rel.fail(failure + "\nNot rolled back (exchange_router_rollback_on_failure is false).")
    elif previous is None:
        rel.fail(failure + "\nNo previous revision to roll back to (first deploy).")
    else:
        rel.fail(failure + "\n" + rollback.after_failure(rel, previous["revision"]))


def _look(rel: Release) -> None:
    """Nothing changed: say if the Deployment is short of its rollout, never touch it."""
    deployment = next((o for o in rel.spec.objects if o["kind"] == "Deployment"), None)
    if deployment is None or not rel.spec.wait:
        return
    watch = Watch(rel.kube, Ref.of(deployment), False, rel.spec.timeout, rel.secrets)
    watch.look()
    for warning in watch.warnings:
        rel.warn(warning)
