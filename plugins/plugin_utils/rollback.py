# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback action (state rollback, and a deploy whose rollout failed): put a stored
revision back, whole, through the same steps as a deploy (Secret and replicas hand-offs,
dry-run, kubernetes.core.k8s, rollout) and record it as a new revision."""

from __future__ import annotations

from ansible_collections.exchange.platform.plugins.plugin_utils import revision, secret_modes
from ansible_collections.exchange.platform.plugins.plugin_utils.configuration import Configuration
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Action, Failed
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.store import History


class Rollback(Action):
    """Return to revision `number` (0: the one before the latest)."""

    def __init__(self, cfg: Configuration, spec: Spec, number: int = 0) -> None:
        super().__init__(cfg, spec)
        self.number = number

    def steps(self) -> None:
        cfg, spec, result, number = self.cfg, self.spec, self.result, self.number
        history = History.read(cfg.store)
        target = history.get(number) if number else history.previous()
        if target is None:
            listed = ", ".join(str(r.revision) for r in history.records) or "none"
            raise Failed(
                f"exchange_router_rollback_revision: no revision {number or '(previous)'} of "
                f"release {spec.name} to roll back to (revisions: {listed})"
            )
        secret = None
        if target.secret.data is not None:
            secret = secret_modes.manifest(spec, target.secret.data)
            cfg.redact.remember(target.secret.data)
        mode = "plain" if secret is not None else target.secret.mode
        description = f"rollback to revision {target.revision}"
        cand = revision.candidate(cfg, spec, history, target.objects, secret, mode, description)
        result.diff, result.changed = cand.diff(), True
        result.rolled_back_to = target.revision
        if cfg.check:
            return
        number = revision.put(cfg, spec, history, cand, result)
        result.msg = (
            f"Release {spec.name} rolled back to revision {target.revision} "
            f"(recorded as revision {number})"
        )
