# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judging a Deployment's rollout, and explaining one that fails.

`progress` follows `kubectl rollout status`. `crash` spots a new pod that can never become
Ready (a crash loop, a container that cannot be created) so a deploy fails in seconds instead
of waiting out its deadline. `diagnose` gathers the reasons, each distinct one once, with the
last lines of a crashed container's log. `wait` follows a rollout: only one this run started can
fail the deploy (and so be rolled back); one already under way, or a Deployment short of
replicas for reasons of its own (a quota, a node shortage), is a warning with its state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.client import (
    Client,
    KubeError,
    Ref,
    condition,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Pace, Waiter

REVISION = "deployment.kubernetes.io/revision"
# Waiting reasons of a container that will not start without a change to the release.
FATAL_WAITING = {
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "ErrImageNeverPull",
}
LOG_LINES = 5
POLL = 0.5


class RolloutFailed(Exception):
    """The rollout cannot complete; the message says why."""


def progress(deployment: dict[str, Any]) -> tuple[bool, str]:
    """(done, what is awaited); raises RolloutFailed when the Deployment says it cannot finish."""
    status = deployment.get("status", {})
    if status.get("observedGeneration", 0) < deployment["metadata"].get("generation", 0):
        return False, "the controller to observe the new generation"
    if condition(deployment, "Progressing").get("reason") == "ProgressDeadlineExceeded":
        raise RolloutFailed("progress deadline exceeded")
    failure = condition(deployment, "ReplicaFailure")
    if failure.get("status") == "True":
        raise RolloutFailed(f"{failure.get('reason')}: {failure.get('message')}")
    wanted = deployment["spec"].get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    if updated < wanted:
        return False, f"{updated} of {wanted} replicas updated"
    if status.get("replicas", 0) > updated:
        return False, f"{status['replicas'] - updated} old replicas to terminate"
    if status.get("availableReplicas", 0) < updated:
        return (
            False,
            f"{status.get('availableReplicas', 0)} of {updated} updated replicas available",
        )
    return True, "complete"


def revision(obj: dict[str, Any]) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))


def new_pods(kube: Client, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The pods of the Deployment's newest ReplicaSet."""
    meta = deployment["metadata"]
    selector = ",".join(
        f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items()
    )
    sets = [
        rs
        for rs in kube.list("ReplicaSet", meta["namespace"], selector)
        if any(o.get("uid") == meta["uid"] for o in rs["metadata"].get("ownerReferences") or [])
        and revision(rs) == revision(deployment)
    ]
    pods: list[dict[str, Any]] = []
    for rs in sets:
        hash_ = rs["metadata"].get("labels", {}).get("pod-template-hash", "")
        pods += kube.list("Pod", meta["namespace"], f"pod-template-hash={hash_}")
    return pods


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status", {})
    return (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])


def crash(pods: list[dict[str, Any]]) -> str:
    """Why a new pod can never become Ready, or ''."""
    for pod in pods:
        for c in _containers(pod):
            waiting = (c.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FATAL_WAITING or c.get("restartCount", 0) >= 2:
                return f"pod {pod['metadata']['name']} container {c['name']} {_termination(c)}"
    return ""


def _termination(c: dict[str, Any]) -> str:
    state = c.get("state") or {}
    last = (c.get("lastState") or {}).get("terminated") or state.get("terminated") or {}
    waiting = state.get("waiting") or {}
    parts = []
    if last:
        parts.append(f"exited with code {last.get('exitCode')} ({last.get('reason', 'Error')})")
    if waiting:
        parts.append(
            f"is {waiting.get('reason')}"
            + (f": {waiting['message']}" if waiting.get("message") else "")
        )
    parts.append(f"restarts {c.get('restartCount', 0)}")
    return ", ".join(parts)


def diagnose(kube: Client, deployment: dict[str, Any], reason: str = "") -> list[str]:
    """Distinct reasons: conditions, new pods' states, container logs, Warning events. A message
    already given (in `reason`, a condition or an earlier event) is not repeated."""
    lines: list[str] = []
    seen_messages: set[str] = {reason} if reason else set()

    def add(line: str) -> None:
        if line not in lines:
            lines.append(line)

    def said(message: str) -> bool:
        return bool(message) and any(message in seen for seen in seen_messages)

    for cond in deployment.get("status", {}).get("conditions") or []:
        message = cond.get("message", "")
        if said(message):
            add(f"condition {cond['type']}={cond['status']} ({cond.get('reason')}): (as above)")
            continue
        add(f"condition {cond['type']}={cond['status']} ({cond.get('reason')}): {message}")
        seen_messages.add(message)
    namespace = deployment["metadata"]["namespace"]
    try:
        pods = new_pods(kube, deployment)
        names = {p["metadata"]["name"] for p in pods} | {deployment["metadata"]["name"]}
        for pod in pods:
            ready = condition(pod, "Ready").get("status", "Unknown")
            phase = pod.get("status", {}).get("phase")
            add(f"pod {pod['metadata']['name']}: {phase}, Ready={ready}")
            for c in _containers(pod):
                if c.get("restartCount", 0) or (c.get("state") or {}).get("waiting"):
                    add(f"  container {c['name']} {_termination(c)}")
                    for log in _log_tail(kube, namespace, pod["metadata"]["name"], c):
                        add(f"    log: {log}")
        rs_names = {p["metadata"].get("ownerReferences", [{}])[0].get("name") for p in pods}
        for event in kube.list("Event", namespace):
            involved = event.get("involvedObject", {}).get("name")
            message = event.get("message", "")
            ours = involved in names or involved in rs_names
            if event.get("type") == "Warning" and ours and not said(message):
                seen_messages.add(message)
                add(f"event {event.get('reason')}: {message}")
    except KubeError as error:
        add(f"(could not read the pods or events: {error})")
    return lines


def _log_tail(kube: Client, namespace: str, pod: str, c: dict[str, Any]) -> list[str]:
    if not c.get("restartCount") and not (c.get("state") or {}).get("terminated"):
        return []
    try:
        text = kube.log(namespace, pod, c["name"], LOG_LINES, bool(c.get("restartCount")))
    except KubeError as error:
        return [f"(log unavailable: {error.status} {error.message})"]
    return [line for line in text.splitlines() if line.strip()][-LOG_LINES:]


@dataclass
class Rollout:
    """One Deployment's rollout as this run sees it."""

    kube: Client
    ref: Ref
    started: bool  # this run changed the pod template
    timeout: float
    redact: Callable[[str], str] = lambda text: text
    lost: Callable[[], str] = lambda: ""  # why the deploy lock was lost, or ''
    waiter: Waiter = field(default_factory=Waiter)
    pace: Pace | None = None  # the batch's Follower wakes it on a change
    warnings: list[str] = field(default_factory=list)

    def wait(self) -> str:
        """'' when the rollout completed (or was not ours to judge), else why it failed."""
        clock = self.waiter.clock
        looked = [-POLL]  # when the new pods were last looked at: at most once per POLL
        last: list[Any] = [None, ""]  # the Deployment last read, and what it awaited

        def probe() -> str | None:
            deployment = self.kube.get(self.ref.kind, self.ref.namespace, self.ref.name)
            if deployment is None:
                return f"{self.ref} disappeared during the rollout"
            try:
                done, awaited = progress(deployment)
                observed = (
                    deployment.get("status", {}).get("observedGeneration", 0)
                    >= deployment["metadata"]["generation"]
                )
                if self.started and observed and not done and clock() - looked[0] >= POLL:
                    looked[0] = clock()
                    crashed = crash(new_pods(self.kube, deployment))
                    if crashed:
                        raise RolloutFailed(crashed)
            except RolloutFailed as failure:
                return self.explain(deployment, str(failure))
            if done:
                return ""
            last[:] = [deployment, awaited]
            return self.lost() or None

        answer = self.waiter.until(probe, self.timeout, POLL, self.pace)
        if answer is not None:
            return answer
        reason = f"timed out after {self.timeout:g}s waiting for {last[1]}"
        return self.explain(last[0], reason)

    def look(self) -> None:
        """One look at a Deployment this run did not change: a warning if it is not rolled out."""
        deployment = self.kube.get(self.ref.kind, self.ref.namespace, self.ref.name)
        if deployment is None:
            return
        try:
            done, awaited = progress(deployment)
            reason = "" if done else f"waiting for {awaited}"
        except RolloutFailed as failure:
            reason = str(failure)
        if reason:
            self.explain(deployment, reason)

    def explain(self, deployment: dict[str, Any], reason: str) -> str:
        lines = [self.redact(line) for line in diagnose(self.kube, deployment, reason)]
        reason = self.redact(reason)
        name = f"{deployment['metadata']['namespace']}/{deployment['metadata']['name']}"
        if not self.started:
            self.warnings.append(
                f"Deployment {name} is not fully rolled out ({reason}); this run did not change "
                "its pod template, so nothing was rolled back:\n  " + "\n  ".join(lines)
            )
            return ""
        return "\n  ".join([f"Rollout of Deployment {name} failed: {reason}", *lines])


def wait_gone(kube: Client, refs: list[Ref], timeout: float, waiter: Waiter) -> list[Ref]:
    """Wait until the objects are gone; those still there when `timeout` runs out."""
    pending = list(refs)

    def probe() -> list[Ref] | None:
        pending[:] = [r for r in pending if kube.get(r.kind, r.namespace, r.name) is not None]
        return [] if not pending else None

    waiter.until(probe, timeout, POLL)
    return pending
