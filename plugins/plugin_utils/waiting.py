# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for a release's Deployment to roll out, and for removed objects to be gone.

Only a rollout this run started can fail the deploy (and so be rolled back). A rollout that was
already under way, or a Deployment short of replicas for reasons of its own (a quota, a node
shortage), is reported as a warning with the Deployment's state.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import rollout
from ansible_collections.exchange.platform.plugins.plugin_utils.kube import Ref

POLL = 0.5


def wait_rollout(release: Any, ref: Ref, started: bool) -> str:
    """'' when the rollout completed (or was not ours to judge), else why it failed."""
    kube, spec = release.kube, release.spec
    deadline = time.monotonic() + spec.timeout
    while True:
        deployment = kube.get(ref.kind, ref.namespace, ref.name)
        if deployment is None:
            return f"Deployment {ref.namespace}/{ref.name} disappeared during the rollout"
        try:
            done, awaited = rollout.progress(deployment)
            observed = (
                deployment.get("status", {}).get("observedGeneration", 0)
                >= deployment["metadata"]["generation"]
            )
            crashed = (
                rollout.crash(rollout.new_pods(kube, deployment))
                if started and observed and not done
                else ""
            )
            if crashed:
                raise rollout.RolloutFailed(crashed)
        except rollout.RolloutFailed as failure:
            return _explain(release, deployment, str(failure), started)
        if done:
            return ""
        if time.monotonic() >= deadline:
            return _explain(
                release,
                deployment,
                f"timed out after {spec.timeout}s waiting for {awaited}",
                started,
            )
        if release.lease.lost:
            return release.lease.lost
        time.sleep(POLL)


def _explain(release: Any, deployment: dict[str, Any], reason: str, started: bool) -> str:
    name = f"{deployment['metadata']['namespace']}/{deployment['metadata']['name']}"
    lines = rollout.redact(
        rollout.diagnose(release.kube, deployment, reason), release.secret_values
    )
    reason = rollout.redact([reason], release.secret_values)[0]
    if not started:
        release.outcome.warnings.append(
            f"Deployment {name} is not fully rolled out ({reason}); this run did not change its "
            "pod template, so nothing was rolled back:\n  " + "\n  ".join(lines)
        )
        return ""
    return "\n  ".join([f"Rollout of Deployment {name} failed: {reason}", *lines])


def report_state(release: Any, ref: Ref) -> None:
    """One look at a Deployment this run did not change: a warning if it is not rolled out."""
    deployment = release.kube.get(ref.kind, ref.namespace, ref.name)
    if deployment is None:
        return
    try:
        done, awaited = rollout.progress(deployment)
        reason = "" if done else f"waiting for {awaited}"
    except rollout.RolloutFailed as failure:
        reason = str(failure)
    if reason:
        _explain(release, deployment, reason, started=False)


def wait_gone(release: Any, refs: list[Ref]) -> None:
    deadline = time.monotonic() + release.spec.timeout
    pending = list(refs)
    while pending and time.monotonic() < deadline:
        pending = [r for r in pending if release.kube.get(r.kind, r.namespace, r.name) is not None]
        if pending:
            time.sleep(POLL)
    if pending:
        release.outcome.warnings.append("still being deleted: " + ", ".join(map(str, pending)))
