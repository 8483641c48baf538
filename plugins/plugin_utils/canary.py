# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The canary (exchange_router_canary): a deploy that changes the pod template of a release with
a stable revision puts it on the cluster step by step instead of by a rolling update.

`Canary.put` takes the place of `revision.put` in the upgrade action (which holds the deploy
lock throughout, and rolls back a failed revision as for any deploy):
1. start: every change of the revision but the stable Deployment (and the Ingress, which waits
   for its certificates at the promote) is applied; the canary Deployment takes the new pod
   template and is scaled to its share (canary_route.scale); its rollout is waited;
2. steps (canary_plan.schedule): each sets the canary's weight (canary_route.set_weight), waits
   its pause, reads what clients saw (one query per check for the batch: canary_query) and is
   judged (canary_analysis.judge): advance, hold (no data with no_data wait, a failed check below
   the threshold) or abort. A weight never moves while the HorizontalPodAutoscaler scales either
   Deployment: the step holds and checks again. A step with pause 0 holds until
   playbooks/promote.yml signals (or abort.yml), at most the rollout timeout;
3. promote: the stable Deployment takes the new template (the revision is put as any deploy: its
   rollout and edge waited, ONE revision recorded with every check), then the release's own apply
   returns every request to stable and scales the canary to 0;
   abort: ONE write returns every request to stable, the canary is scaled to 0, the revision is
   recorded as failed with every check, and the deploy fails with the checks and the reason.

`recover` runs first in every deploy and in abort.yml: a canary left mid-flight by a run that
was killed gets every request back on stable before anything else. `Promote` and `Abort` are the
actions of playbooks/promote.yml and playbooks/abort.yml.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    canary_analysis,
    canary_plan,
    canary_route,
    catalogue,
    revision,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_analysis import (
    ABORT,
    HOLD,
    Decision,
    Sample,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_metrics import (
    Backend,
    MetricsError,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_route import Names
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.configuration import Configuration
from ansible_collections.exchange.platform.plugins.plugin_utils.lock import LockError
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Action, Failed, Result
from ansible_collections.exchange.platform.plugins.plugin_utils.rollout import Rollout
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.store import History

CANARY_KEY = "canary"


class Aborted(Exception):
    """The canary cannot go on: the reason, for the record and the play."""


def runs(spec: Spec, history: History, cand: revision.Candidate) -> bool:
    """Whether this deploy is a canary: enabled, the pod template changes, and a stable
    revision serves (a first deploy, or a stable Deployment deleted by hand, is a plain one)."""
    stable = cand.change("Deployment")
    return bool(
        spec.canary.get("enabled")
        and cand.starts_rollout
        and stable is not None
        and stable.live is not None
        and history.last_deployed() is not None
    )


def known(spec: Spec, history: History) -> bool:
    """Whether the release may have a canary: enabled now, or in its latest revision (a release
    without one is never asked for its route)."""
    canary = Names.of(spec).canary_ref
    latest = history.latest.objects if history.latest else []
    return bool(spec.canary.get("enabled")) or any(Ref.of(o) == canary for o in latest)


def recover(cfg: Configuration, spec: Spec) -> str:
    """A canary found mid-flight (its weight above 0, or pods, with no run holding the lock: this
    one holds it) gets every request back on stable in one write and is scaled to 0; a warning
    saying so, or ''."""
    names = Names.of(spec)
    route = cfg.client.get("HTTPRoute", names.namespace, names.route)
    weight = canary_route.canary_weight(route, names)
    moved = bool(weight) and canary_route.set_weight(cfg.client, names, 0, spec.field_manager)
    scaled = canary_route.scale(cfg.client, names, 0, spec.field_manager)
    if not (moved or scaled):
        return ""
    return (
        f"found a canary of release {spec.name} left mid-flight by a run that stopped "
        f"(weight {weight or 0}%): every request is back on stable and the canary is scaled to 0"
    )


def check_line(check: dict[str, Any]) -> str:
    """One check as history.yml and a failed play show it."""
    rate, p99 = check.get("success_rate"), check.get("p99_ms")
    return (
        f"step {check['step']} weight {check['weight']}%: {check['requests']} requests, "
        f"success {'-' if rate is None else _number(rate) + '%'}, "
        f"p99 {'-' if p99 is None else _number(p99) + ' ms'}: {check['decision']} "
        f"({check['reason']})"
    )


def _number(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}".rstrip("0").rstrip(".")


class Canary:
    """One canary over the upgrade's candidate (its revision, already dry-run)."""

    def __init__(
        self,
        cfg: Configuration,
        spec: Spec,
        history: History,
        cand: revision.Candidate,
        result: Result,
    ) -> None:
        self.cfg, self.spec, self.history, self.cand, self.result = cfg, spec, history, cand, result
        self.names = Names.of(spec)
        self.steps = canary_plan.schedule(spec.canary)
        self.thresholds, self.policy = canary_analysis.criteria(spec.canary)
        self.interval = spec.canary["interval"]
        self.query = cfg.query()
        self.checks: list[dict[str, Any]] = []
        self.weight = 0
        self.replicas = 1
        self.port = 80

    # ------------------------------------------------------------------ the sequence
    def put(self) -> int:
        """The canary, then the promote; the revision's number. Raises RevisionFailed when it
        was aborted (recorded as failed), LockError when the lock was lost."""
        try:
            try:
                self._start()
                self._walk()
            finally:
                self.query.leave()  # no more checks: the batch's others need not wait for it
        except Aborted as abort:
            self._abort(str(abort))
        return self._promote()

    def _start(self) -> None:
        cfg, spec, cand = self.cfg, self.spec, self.cand
        canary_route.send(cfg.client, self.names, "", spec.field_manager)  # a stale signal
        stable = cfg.client.get("Deployment", self.names.namespace, self.names.stable) or {}
        share = max(s.weight for s in self.steps)
        replicas = (stable.get("spec") or {}).get("replicas", 1)
        self.replicas = max(1, math.ceil(replicas * share / 100))
        failure = revision.prepare(cfg, spec, cand)
        writes = [
            o
            for o in cand.writes()
            if Ref.of(o) != self.names.stable_ref
            and not catalogue.entry(o["kind"]).after_certificates
        ]
        if not any(Ref.of(o) == self.names.canary_ref for o in writes):
            # always one write, so this canary arrives at the batch's shared apply: one that
            # never did would hold the batch's others there while it waits for them at a check
            canary = self.cand.change_of(self.names.canary_ref)
            writes += [canary.obj] if canary is not None else []
        failure = failure or revision.apply(cfg, writes, self.result)
        if failure:
            raise Aborted(f"the canary could not be applied: {failure}")
        canary_route.scale(cfg.client, self.names, self.replicas, spec.field_manager)
        self._lock()
        rollout = Rollout(
            cfg.client,
            self.names.canary_ref,
            True,
            spec.timeout,
            cfg.redact,
            cfg.lock_lost,
            cfg.waiter,
            cfg.pace(self.names.canary_ref),
        )
        failure = rollout.wait()
        self.result.warnings += rollout.warnings
        if failure:
            raise Aborted(f"the canary's rollout failed: {failure}")
        self.port = canary_route.port(
            cfg.client.get("HTTPRoute", self.names.namespace, self.names.route), self.names
        )

    def _walk(self) -> None:
        """The steps, each check judged, until the last step advances."""
        index, waited, failures = 0, 0, 0
        self._move(self.steps[0].weight)
        since, pause = self.cfg.waiter.clock(), self.steps[0].pause or self.interval
        while True:
            self.cfg.waiter.sleep(pause)
            pause = self.interval
            self._lock()
            step = self.steps[index]
            decision = self._check(index, step, waited, failures)
            failures += decision.failed
            waited += decision.waiting
            if self._signal() == canary_route.ABORT:
                self._note("aborted by playbooks/abort.yml")
                raise Aborted("aborted by playbooks/abort.yml")
            if decision.action == ABORT:
                raise Aborted(decision.reason)
            if decision.action == HOLD:
                continue
            held = self._held(step, since)
            if held:
                self._note(held)
                continue
            index += 1
            if index == len(self.steps):
                return
            self._move(self.steps[index].weight)
            waited, since = 0, self.cfg.waiter.clock()
            pause = self.steps[index].pause or self.interval

    def _move(self, weight: int) -> None:
        """Set the canary's weight, once neither Deployment is scaling."""
        if self._scaling():
            settled = self.cfg.waiter.until(
                lambda: None if self._scaling() else True, self.spec.timeout, self.interval
            )
            if settled is None:
                raise Aborted(
                    f"still scaling after {self.spec.timeout}s ({self._scaling()}): no weight "
                    "moves while the HorizontalPodAutoscaler scales"
                )
        try:
            canary_route.set_weight(self.cfg.client, self.names, weight, self.spec.field_manager)
        except (KubeError, Failed) as error:
            raise Aborted(f"the canary's weight could not be set to {weight}%: {error}") from None
        self.weight = weight

    def _held(self, step: canary_plan.Step, since: float) -> str:
        """Why a step that passed its check does not advance yet: the HPA is scaling, or the
        step's gate waits for playbooks/promote.yml; '' when it advances."""
        late = self.cfg.waiter.clock() - since >= step.pause + self.spec.timeout
        scaling = self._scaling()
        if scaling and late:
            raise Aborted(
                f"still scaling {self.spec.timeout}s after step {self.steps.index(step) + 1}'s "
                f"pause ({scaling}): no weight moves while the HorizontalPodAutoscaler scales"
            )
        if scaling:
            return f"held: {scaling}; no weight moves while it does"
        if not step.gated:
            return ""
        if self._signal() == canary_route.PROMOTE:
            canary_route.send(self.cfg.client, self.names, "", self.spec.field_manager)
            self._note("promoted by playbooks/promote.yml")
            return ""
        if late:
            raise Aborted(
                f"step {self.steps.index(step) + 1} (weight {step.weight}%) was not promoted by "
                f"playbooks/promote.yml within {self.spec.timeout}s"
            )
        return "held: waiting for playbooks/promote.yml (pause 0)"

    def _scaling(self) -> str:
        """Which Deployment the HPA (or anyone) is scaling now: its replicas not yet what its
        spec asks, or the HPA's desired count not its current one; '' when none is."""
        ns = self.names.namespace
        for name in (self.names.stable, self.names.canary):
            live = self.cfg.client.get("Deployment", ns, name) or {}
            want = (live.get("spec") or {}).get("replicas")
            status = live.get("status") or {}
            if live and want is not None and status.get("replicas", want) != want:
                return f"Deployment {name} is scaling ({status.get('replicas')} -> {want} replicas)"
        hpa = self.cfg.client.get("HorizontalPodAutoscaler", ns, self.names.hpa) or {}
        status = hpa.get("status") or {}
        current, desired = status.get("currentReplicas"), status.get("desiredReplicas")
        if current is not None and desired is not None and current != desired:
            return f"HorizontalPodAutoscaler {self.names.hpa} is scaling ({current} -> {desired})"
        return ""

    def _signal(self) -> str:
        return canary_route.signal(self.cfg.client, self.names)

    def _lock(self) -> None:
        if self.cfg.lock_lost():
            raise LockError(f"{self.cfg.lock_lost()}; the canary stopped at weight {self.weight}%")

    # ------------------------------------------------------------------ checks
    def _check(self, index: int, step: canary_plan.Step, waited: int, failures: int) -> Decision:
        backend = Backend(
            self.names.namespace,
            self.names.route,
            self.names.canary_service,
            self.port,
            canary_plan.CANARY,
        )
        canary = self.spec.canary
        try:
            samples = self.query.measure(
                canary["prometheus_url"], {CANARY_KEY: backend}, canary["window"]
            )
        except MetricsError as error:
            sample = Sample(0, 0, None)
            decision = self._unread(f"metrics unavailable: {self.cfg.redact(str(error))}", failures)
        else:
            sample = samples[CANARY_KEY]
            decision = canary_analysis.judge(sample, self.thresholds, self.policy, waited, failures)
        rate, p99 = sample.success_rate, sample.p99_seconds
        self.checks.append(
            {
                "step": index + 1,
                "weight": step.weight,
                "requests": sample.requests,
                "success_rate": None if rate is None else round(rate, 3),
                "p99_ms": None if p99 is None else round(p99 * 1000, 1),
                "decision": decision.action,
                "reason": decision.reason,
            }
        )
        return decision

    def _unread(self, reason: str, failures: int) -> Decision:
        """Metrics that could not be read: a failed check, never a pass."""
        if failures + 1 >= self.policy.threshold:
            return Decision(ABORT, reason, failed=True)
        return Decision(
            HOLD, f"{reason} (failed check {failures + 1} of {self.policy.threshold})", failed=True
        )

    def _note(self, text: str) -> None:
        """Add to the last check's reason (there is one: notes follow checks)."""
        self.checks[-1]["reason"] += f"; {text}"

    def _shown(self) -> str:
        return "\n".join("  " + check_line(c) for c in self.checks) or "  (no check was made)"

    # ------------------------------------------------------------------ the two ends
    def _abort(self, reason: str) -> None:
        """One write back to stable, the canary to 0, the revision recorded as failed; raises
        RevisionFailed with the reason and every check."""
        cfg, spec = self.cfg, self.spec
        error = self._restore()
        after = (
            f"returning the traffic to stable failed: {error}"
            if error
            else "every request is back on stable (one write) and the canary is scaled to 0"
        )
        self.cand.record.canary = self.checks
        self.cand.record.description = f"canary aborted: {reason.splitlines()[0]}"
        message = (
            f"Canary of release {spec.name} aborted at weight {self.weight}%: {reason}\n"
            f"{after}. Checks:\n{self._shown()}"
        )
        revision.record(cfg, spec, self.history, self.cand, self.result, message)

    def _promote(self) -> int:
        """The stable Deployment takes the new template (as a deploy puts a revision), then the
        release's own apply sends every request to stable and scales the canary to 0."""
        cfg, spec = self.cfg, self.spec
        running = [self._running(o) for o in spec.objects]
        cand = revision.candidate(
            cfg, spec, self.history, running, spec.secret, spec.secret_mode, "deploy"
        )
        for change in cand.changes:  # left as they run: the settling apply below writes them
            if change.ref in (self.names.route_ref, self.names.canary_ref):
                change.result = change.live
        cand.record.objects = [self._settled(o) for o in cand.record.objects]
        cand.record.canary = self.checks
        cand.record.description = f"canary promoted after {len(self.steps)} steps"
        try:
            number = revision.put(cfg, spec, self.history, cand, self.result)
        except revision.RevisionFailed:
            error = self._restore()
            self.result.warnings += [f"the canary was not settled: {error}"] if error else []
            raise
        settled = [
            o
            for o in cand.record.objects
            if Ref.of(o) in (self.names.route_ref, self.names.canary_ref)
        ]
        for obj in sorted(settled, key=lambda o: o["kind"] != "HTTPRoute"):  # the route first
            failure = revision.apply(cfg, [obj], self.result)
            if failure:
                self.result.warnings.append(
                    f"revision {number} is deployed, but its canary was not settled: {failure}"
                )
        return number

    def _restore(self) -> str:
        """Every request to stable in one write, the canary to 0: '' or why that failed."""
        kube, names, manager = self.cfg.client, self.names, self.spec.field_manager
        try:
            route = kube.get("HTTPRoute", names.namespace, names.route)
            if canary_route.canary_weight(route, names):
                canary_route.set_weight(kube, names, 0, manager)
            canary_route.scale(kube, names, 0, manager)
        except (KubeError, Failed) as error:
            return self.cfg.redact(str(error))
        return ""

    def _running(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as the canary left it: the canary at its replicas, the route at its
        weight, so the promote's apply changes neither."""
        ref = Ref.of(obj)
        if ref == self.names.canary_ref:
            obj = copy.deepcopy(obj)
            obj["spec"]["replicas"] = self.replicas
        elif ref == self.names.route_ref:
            obj = copy.deepcopy(obj)
            obj["spec"]["rules"] = canary_route.with_weight(obj, self.names, self.weight)
        return obj

    def _settled(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as the revision stands after the promote (as the role renders it)."""
        ref = Ref.of(obj)
        if ref == self.names.canary_ref:
            obj = copy.deepcopy(obj)
            obj["spec"]["replicas"] = 0
        elif ref == self.names.route_ref:
            obj = copy.deepcopy(obj)
            obj["spec"]["rules"] = canary_route.with_weight(obj, self.names, 0)
        return obj


class Promote(Action):
    """playbooks/promote.yml: signal the running canary's gate to advance."""

    def steps(self) -> None:
        names = Names.of(self.spec)
        live = self.cfg.client.get("Deployment", names.namespace, names.canary)
        if not live or not (live.get("spec") or {}).get("replicas"):
            raise Failed(f"Release {self.spec.name} has no canary running: nothing to promote")
        if self.cfg.check:
            self.result.changed = True
            return
        canary_route.send(self.cfg.client, names, canary_route.PROMOTE, self.spec.field_manager)
        self.result.changed = True
        self.result.msg = (
            f"Release {self.spec.name}: the canary's gate is open; the deploy running it takes "
            "the next step at its next check"
        )


class Abort(Action):
    """playbooks/abort.yml: the running canary aborts at its next check (the engine sent the
    signal before it took the lock); then, holding the lock, every request goes back to stable
    and the canary to 0, whether a deploy aborted or was killed."""

    def steps(self) -> None:
        names = Names.of(self.spec)
        if self.cfg.check:
            route = self.cfg.client.get("HTTPRoute", names.namespace, names.route)
            self.result.changed = bool(canary_route.canary_weight(route, names))
            return
        warning = recover(self.cfg, self.spec)
        canary_route.send(self.cfg.client, names, "", self.spec.field_manager)
        self.result.changed = bool(warning)
        self.result.msg = (
            f"Release {self.spec.name}: every request is on stable and the canary is scaled to 0"
            if warning
            else f"Release {self.spec.name}: no canary in flight; stable serves every request"
        )


def signal_abort(cfg: Configuration, spec: Spec) -> None:
    """Before abort.yml waits for the lock: tell the canary holding it to abort."""
    if not cfg.check:
        canary_route.send(cfg.client, Names.of(spec), canary_route.ABORT, spec.field_manager)
