#!/usr/bin/python
# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for a Deployment's rollout; on failure explain why and optionally roll back."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_rollout
short_description: Wait for a Deployment rollout, explain a failure, roll back
version_added: 1.0.0
author: exchange.platform maintainers (@exchange)
description:
  - Waits until a Deployment's rollout is complete, by the rules of C(kubectl rollout status);
    the controller has observed the newest generation, every replica is updated and available,
    and no old replica is left.
  - Fails as soon as the rollout cannot complete (C(ProgressDeadlineExceeded), or a
    C(ReplicaFailure) such as a pod rejected by admission) or the timeout passes. The failure
    message carries the Deployment's conditions and the new pods' states and events.
  - With O(rollback_on_failure), a failed rollout returns the Deployment to its previous revision
    (as C(kubectl rollout undo) does) and waits for that rollout too.
  - Reads only the Deployment, its ReplicaSets, pods and events; the only write is the rollback.
  - With O(lock), renews the deploy lock this run holds every third of its duration while it
    waits, and with O(release_lock) releases it at the end, which saves a module run.
options:
  name:
    description: Name of the Deployment.
    type: str
    required: true
  namespace:
    description: Namespace of the Deployment.
    type: str
    required: true
  timeout:
    description: Seconds to wait for the rollout (and again for a rollback).
    type: int
    default: 300
  poll_interval:
    description: Seconds between two reads of the Deployment.
    type: float
    default: 0.5
  rollback_on_failure:
    description: Return the Deployment to its previous revision when the rollout fails.
    type: bool
    default: false
  field_manager:
    description: Field manager of the rollback patch is this name with C(-rollback) appended.
    type: str
    default: exchange.platform
  release_lock:
    description: Release O(lock) when done, whether the rollout succeeded or not.
    type: bool
    default: false
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - exchange.platform.deploy_lock
attributes:
  check_mode:
    description: >-
      Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode nothing is waited for or rolled back.
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Wait for exchange-router's rollout and roll back if it fails
  exchange.platform.k8s_rollout:
    name: exchange-router-deployment
    namespace: default
    timeout: 300
    rollback_on_failure: true
"""

RETURN = r"""
revision:
  description: The Deployment's revision when the rollout completed.
  returned: success
  type: str
  sample: "3"
replicas:
  description: Updated, available replicas at the end.
  returned: success
  type: int
  sample: 1
conditions:
  description: The Deployment's conditions when the rollout failed.
  returned: failure
  type: list
  elements: dict
pods:
  description: States and recent events of the new revision's pods when the rollout failed.
  returned: failure
  type: list
  elements: dict
lock_released:
  description: Whether this run released O(lock).
  returned: always
  type: bool
rolled_back_to:
  description: Revision the Deployment was returned to, if any.
  returned: failure
  type: str
  sample: "2"
"""

import time
from typing import Any

from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.exchange.platform.plugins.module_utils.k8s_runner import (
    api_client,
    execute,
)
from ansible_collections.exchange.platform.plugins.module_utils.lease import LOCK_SPEC, Lock

try:  # noqa: SIM105 - the import pattern ansible-test expects
    from kubernetes.client import AppsV1Api, CoreV1Api
except ImportError:  # reported by AnsibleK8SModule
    pass

REVISION = "deployment.kubernetes.io/revision"


class RolloutFailed(Exception):
    """The rollout cannot complete; the message says why."""


def _condition(deployment: Any, kind: str) -> Any:
    for condition in deployment.status.conditions or []:
        if condition.type == kind:
            return condition
    return None


def rollout_progress(deployment: Any) -> tuple[bool, str]:
    """Return (done, what is awaited); raise RolloutFailed when it can no longer complete."""
    status = deployment.status
    if (status.observed_generation or 0) < deployment.metadata.generation:
        return False, "the controller to observe the new generation"
    progressing = _condition(deployment, "Progressing")
    if progressing and progressing.reason == "ProgressDeadlineExceeded":
        raise RolloutFailed(f"progress deadline exceeded: {progressing.message}")
    failure = _condition(deployment, "ReplicaFailure")
    if failure and failure.status == "True":
        raise RolloutFailed(f"{failure.reason}: {failure.message}")
    wanted = 1 if deployment.spec.replicas is None else deployment.spec.replicas
    updated = status.updated_replicas or 0
    if updated < wanted:
        return False, f"{updated} of {wanted} replicas updated"
    if (status.replicas or 0) > updated:
        return False, f"{status.replicas - updated} old replicas to terminate"
    if (status.available_replicas or 0) < updated:
        return False, f"{status.available_replicas or 0} of {updated} updated replicas available"
    return True, "complete"


class Rollout:
    """Reads (and on failure patches) one Deployment through the typed API clients."""

    def __init__(self, module: AnsibleK8SModule, api_client: Any) -> None:
        self.module = module
        self.name = module.params["name"]
        self.namespace = module.params["namespace"]
        self.apps = AppsV1Api(api_client)
        self.core = CoreV1Api(api_client)
        self.lock: Lock | None = None
        if module.params["lock"]:
            lock = module.params["lock"]
            self.lock = Lock.for_client(
                api_client,
                namespace=self.namespace,
                name=lock["name"],
                holder=lock["holder"],
                duration=lock["duration"],
            )
            self.lock.attach()
        self.renewed = time.monotonic()

    def read(self) -> Any:
        return self.apps.read_namespaced_deployment(self.name, self.namespace)

    def wait(self, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            deployment = self.read()
            done, awaited = rollout_progress(deployment)
            if done:
                return deployment
            if time.monotonic() >= deadline:
                raise RolloutFailed(f"timed out after {timeout:g}s waiting for {awaited}")
            if self.lock and time.monotonic() - self.renewed > self.lock.duration / 3:
                self.lock.renew()
                self.renewed = time.monotonic()
            time.sleep(self.module.params["poll_interval"])

    def replica_sets(self, deployment: Any) -> list[Any]:
        selector = ",".join(f"{k}={v}" for k, v in deployment.spec.selector.match_labels.items())
        items = self.apps.list_namespaced_replica_set(self.namespace, label_selector=selector).items
        uid = deployment.metadata.uid
        return [
            rs for rs in items if any(ref.uid == uid for ref in rs.metadata.owner_references or [])
        ]

    @staticmethod
    def revision(obj: Any) -> int:
        return int((obj.metadata.annotations or {}).get(REVISION, "0"))

    def diagnose(self, deployment: Any) -> dict[str, Any]:
        """The Deployment's conditions and the newest ReplicaSet's pods with their events."""
        conditions = [
            {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message}
            for c in deployment.status.conditions or []
        ]
        current = self.revision(deployment)
        newest = [rs for rs in self.replica_sets(deployment) if self.revision(rs) == current]
        pods: list[dict[str, Any]] = []
        involved = [rs.metadata.name for rs in newest]
        for rs in newest:
            template_hash = rs.metadata.labels.get("pod-template-hash", "")
            for pod in self.core.list_namespaced_pod(
                self.namespace, label_selector=f"pod-template-hash={template_hash}"
            ).items:
                involved.append(pod.metadata.name)
                pods.append(
                    {
                        "name": pod.metadata.name,
                        "phase": pod.status.phase,
                        "node": pod.spec.node_name,
                        "conditions": {c.type: c.status for c in pod.status.conditions or []},
                    }
                )
        events = [
            f"{e.involved_object.kind}/{e.involved_object.name}: {e.reason}: {e.message}"
            for e in self.core.list_namespaced_event(self.namespace).items
            if e.involved_object.name in involved and e.type == "Warning"
        ]
        return {"conditions": conditions, "pods": pods, "events": events[-3:]}

    def roll_back(self, deployment: Any) -> str | None:
        """Put the previous revision's pod template back; return that revision or None."""
        current = self.revision(deployment)
        older = [rs for rs in self.replica_sets(deployment) if 0 < self.revision(rs) < current]
        if not older:
            return None
        previous = max(older, key=self.revision)
        template = self.apps.api_client.sanitize_for_serialization(previous.spec.template)
        template["metadata"].get("labels", {}).pop("pod-template-hash", None)
        patch = [{"op": "replace", "path": "/spec/template", "value": template}]
        self.apps.patch_namespaced_deployment(
            self.name,
            self.namespace,
            patch,
            field_manager=f"{self.module.params['field_manager']}-rollback",
        )
        return str(self.revision(previous))


def explain(name: str, reason: str, diagnosis: dict[str, Any]) -> str:
    lines = [f"Rollout of Deployment {name} failed: {reason}"]
    lines += [
        f"  condition {c['type']}={c['status']} ({c['reason']}): {c['message']}"
        for c in diagnosis["conditions"]
    ]
    lines += [
        f"  pod {p['name']}: {p['phase']} on {p['node'] or 'no node'}, "
        + ", ".join(f"{k}={v}" for k, v in sorted(p["conditions"].items()))
        for p in diagnosis["pods"]
    ]
    lines += [f"  event {e}" for e in diagnosis["events"]]
    return "\n".join(lines)


def follow(rollout: Rollout, params: dict[str, Any]) -> dict[str, Any]:
    """Wait for the rollout; on failure explain it and roll back. The module's result."""
    try:
        deployment = rollout.wait(params["timeout"])
    except RolloutFailed as failure:
        deployment = rollout.read()
        diagnosis = rollout.diagnose(deployment)
        message = explain(f"{params['namespace']}/{params['name']}", str(failure), diagnosis)
        result: dict[str, Any] = dict(diagnosis, changed=False, failed=True)
        if params["rollback_on_failure"]:
            revision = rollout.roll_back(deployment)
            if revision is None:
                message += "\nNo previous revision to roll back to (first deploy)."
            else:
                result.update(changed=True, rolled_back_to=revision)
                try:
                    rollout.wait(params["timeout"])
                    message += f"\nRolled back to revision {revision}; that rollout is complete."
                except RolloutFailed as again:
                    message += f"\nRolled back to revision {revision}, but: {again}"
        return dict(result, msg=message)
    return {
        "changed": False,
        "revision": str(rollout.revision(deployment)),
        "replicas": deployment.status.available_replicas or 0,
    }


def run(module: AnsibleK8SModule) -> None:
    params = module.params
    if module.check_mode:
        module.exit_json(changed=False)
    rollout = Rollout(module, api_client(module))
    try:
        result = follow(rollout, params)
    finally:
        # Release here, not in a task of its own: one module run less per deploy.
        released = bool(rollout.lock and params["release_lock"] and rollout.lock.release())
    result["lock_released"] = released
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


def main() -> None:
    execute(
        dict(
            name=dict(type="str", required=True),
            namespace=dict(type="str", required=True),
            timeout=dict(type="int", default=300),
            poll_interval=dict(type="float", default=0.5),
            rollback_on_failure=dict(type="bool", default=False),
            field_manager=dict(type="str", default="exchange.platform"),
            lock=LOCK_SPEC,
            release_lock=dict(type="bool", default=False),
        ),
        run,
    )


if __name__ == "__main__":
    main()
