# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install/upgrade action (state present), owning its whole sequence: read the history (and
put a canary a killed run left mid-flight back on stable), build the revision the spec describes
and have the API server check it (check mode stops there; a revision that changes nothing writes
nothing and only looks at the Deployment), put it on the cluster (through the canary when
exchange_router_canary is on and the pod template changes: canary.py), and when it fails, call
the rollback action, as Helm's failRelease does."""

from __future__ import annotations

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    canary,
    edge_readiness,
    revision,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Action, Failed
from ansible_collections.exchange.platform.plugins.plugin_utils.rollback import Rollback
from ansible_collections.exchange.platform.plugins.plugin_utils.rollout import Rollout
from ansible_collections.exchange.platform.plugins.plugin_utils.store import History


class Upgrade(Action):
    def steps(self) -> None:
        cfg, spec, result = self.cfg, self.spec, self.result
        cfg.redact.remember((spec.secret or {}).get("data"))
        history = History.read(cfg.store)
        if not cfg.check and canary.known(spec, history):  # a killed run's canary: stable first
            warning = canary.recover(cfg, spec)
            result.warnings += [warning] if warning else []
        cand = revision.candidate(
            cfg, spec, history, spec.objects, spec.secret, spec.secret_mode, "deploy"
        )
        result.diff, result.changed = cand.diff(), cand.modified
        if cfg.check:
            return
        if not cand.modified:
            self._warn_if_short()
            return
        try:
            if canary.runs(spec, history, cand):
                number = canary.Canary(cfg, spec, history, cand, result).put()
            else:
                number = revision.put(cfg, spec, history, cand, result)
        except revision.RevisionFailed as failure:
            raise Failed(f"{failure}\n{self._after_failure(history)}") from None
        result.msg = f"Release {spec.name} revision {number} deployed"
        answers = edge_readiness.urls(cand.record.objects)
        if answers:
            result.msg += "; it answers at " + ", ".join(answers)

    def _after_failure(self, history: History) -> str:
        """Roll back to the last deployed revision (if allowed and there is one); what it did."""
        previous = history.last_deployed()
        if not self.spec.rollback_on_failure:
            return "Not rolled back (exchange_router_rollback_on_failure is false)."
        if previous is None:
            return "No previous revision to roll back to (first deploy)."
        back = Rollback(self.cfg, self.spec, previous.revision).run()
        self.result.diff = back.diff
        self.result.warnings += back.warnings
        self.result.rolled_back_to = back.rolled_back_to
        if back.revision is None:  # the rollback stopped before recording anything
            return f"Rolling back to revision {previous.revision} failed: {back.msg}"
        tail = "that rollout is complete." if not back.failed else f"but: {back.msg}"
        return (
            f"Rolled back to revision {previous.revision} (recorded as revision "
            f"{back.revision}); {tail}"
        )

    def _warn_if_short(self) -> None:
        """Nothing changed: say if the Deployment is short of its rollout, never touch it."""
        deployment = next((o for o in self.spec.objects if o["kind"] == "Deployment"), None)
        if deployment is None or not self.spec.wait:
            return
        rollout = Rollout(
            self.cfg.client, Ref.of(deployment), False, self.spec.timeout, self.cfg.redact
        )
        rollout.look()
        self.result.warnings += rollout.warnings
