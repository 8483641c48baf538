# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One release's life on a cluster, as Helm's release actions: deploy (upgrade or install),
rollback, removal and history, over one record (plugins/plugin_utils/history.py).

A deploy runs in three steps so that many releases on one cluster share one apply:
`prepare` (lock, history, Secret state, dry-run), the apply of `writes()` by the caller through
kubernetes.core.k8s, then `finish` (prune, rollout, rollback, history, unlock).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import secrets
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import plan as planning
from ansible_collections.exchange.platform.plugins.plugin_utils import sealing
from ansible_collections.exchange.platform.plugins.plugin_utils.history import History, now, summary
from ansible_collections.exchange.platform.plugins.plugin_utils.kube import Kube, KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.lock import (
    Lease,
    LockError,
    NamespaceMissing,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.waiting import (
    report_state,
    wait_gone,
    wait_rollout,
)

ORDER = ["Secret", "SealedSecret", "Service", "Deployment", "HorizontalPodAutoscaler"]


@dataclass
class Spec:
    """One release as the role describes it (see roles/exchange_router/vars/main.yml)."""

    host: str
    name: str
    namespace: str
    state: str = "present"
    objects: list[dict[str, Any]] = field(default_factory=list)
    secret: dict[str, Any] | None = None
    secret_mode: str = "existing"
    secret_name: str = ""
    required_keys: list[str] = field(default_factory=list)
    autoscaling: bool = True
    wait: bool = True
    timeout: int = 630
    rollback_on_failure: bool = True
    history_max: int = 10
    lock_seconds: int = 30
    sources: dict[str, str] = field(default_factory=dict)
    revision: int = 0
    kubeconfig: str = ""
    context: str = ""
    field_manager: str = "exchange.platform"

    @classmethod
    def of(cls, host: str, values: dict[str, Any]) -> Spec:
        known = set(cls.__dataclass_fields__) - {"host"}
        return cls(host=host, **{k: v for k, v in values.items() if k in known})

    def secret_values(self) -> list[str]:
        return [
            base64.b64decode(v).decode("utf-8", "replace")
            for v in ((self.secret or {}).get("data") or {}).values()
        ]


@dataclass
class Outcome:
    changed: bool = False
    failed: bool = False
    msg: str = ""
    diff: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    revision: int | None = None
    rolled_back_to: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


class Release:
    def __init__(self, kube: Kube, spec: Spec, holder: str, check: bool, deployer: str) -> None:
        self.kube, self.spec, self.check, self.deployer = kube, spec, check, deployer
        labels = {
            "app.kubernetes.io/managed-by": "exchange.platform",
            "exchange.platform/release": spec.name,
        }
        self.lease = Lease(
            kube, spec.namespace, f"{spec.name}-deploy-lock", holder, spec.lock_seconds, labels
        )
        self.outcome = Outcome()
        self.history: History | None = None
        self.preflight = planning.Preflight()
        self.secret_values: list[str] = spec.secret_values()
        self.handover: dict[str, Any] | None = None
        self.record: dict[str, Any] = {}
        self.prune: list[Ref] = []
        self.apply_error = ""  # a write before the apply failed
        self.ready = False  # prepared, accepted, and something to write

    # ------------------------------------------------------------------ prepare
    def prepare(self) -> None:
        """Lock (unless check mode), read history and the Secret, dry-run everything."""
        try:
            if not self.check:
                self.lease.take(wait=self.spec.timeout + 30)
            self.history = History.read(self.kube, self.spec.namespace, self.spec.name)
            if self.spec.state == "present":
                self._plan(self.spec.objects, self.spec.secret)
            elif self.spec.state == "rollback":
                self._plan_rollback()
        except NamespaceMissing as error:
            self._fail(f"exchange_router_namespace: {error}")
        except (KubeError, LockError) as error:
            self._fail(str(error))

    def _checksum_key(self) -> str:
        latest = self.history.latest if self.history else None
        return (latest or {}).get("checksum_key") or secrets.token_hex(32)

    def _secret_data(self, secret: dict[str, Any] | None) -> dict[str, str] | None:
        """The data the pods will read: the plain-mode manifest's, or the live Secret's."""
        if secret is not None:
            return secret.get("data") or {}
        live = self.kube.get("Secret", self.spec.namespace, self.spec.secret_name)
        if self.spec.secret_mode == "sealed":  # what the controller unsealed last, if anything
            self._remember((live or {}).get("data") or {})
            return (live or {}).get("data")
        if live is None:
            raise KubeError(
                0,
                f"{self._secret_ref()} does not exist (secret mode existing)",
            )
        missing = sorted(set(self.spec.required_keys) - set(live.get("data") or {}))
        if missing:
            raise KubeError(
                0,
                f"{self._secret_ref()} lacks the keys {', '.join(missing)} "
                "that exchange_router_secret_env needs",
            )
        self._remember(live["data"])
        return live["data"]

    def _remember(self, data: dict[str, str]) -> None:
        """Values that must never be quoted in a message (logs, API errors)."""
        self.secret_values += [
            base64.b64decode(v).decode("utf-8", "replace") for v in data.values()
        ]

    def _plan(self, objects: list[dict[str, Any]], secret: dict[str, Any] | None) -> None:
        key = self._checksum_key()
        data = self._secret_data(secret)
        known: dict[Ref, dict[str, Any] | None] = {}
        objects = copy.deepcopy(objects) + ([secret] if secret else [])
        for i, obj in enumerate(objects):
            if obj["kind"] != "Deployment":
                continue
            if data is not None:
                obj = planning.with_checksum(obj, planning.secret_checksum(key, data))
            live = self.kube.get(
                "Deployment", obj["metadata"]["namespace"], obj["metadata"]["name"]
            )
            known[Ref.of(obj)] = live
            if "replicas" not in obj["spec"] and planning.owns_replicas(
                live, self.spec.field_manager
            ):
                current = live["spec"].get("replicas", 1)
                self.handover = planning.handover_patch(obj, current)
                obj = planning.with_replicas(obj, current)
            objects[i] = obj
        objects.sort(key=lambda o: ORDER.index(o["kind"]) if o["kind"] in ORDER else len(ORDER))
        self.preflight = planning.dry_run(
            self.kube, objects, self.spec.sources, self.secret_values, known
        )
        if self.preflight.problems:
            self._fail(
                "The API server would reject the release; nothing was written:\n"
                + "\n".join(self.preflight.problems)
            )
            return
        self.prune = self._prunable([Ref.of(o) for o in objects])
        self.record = {
            "checksum_key": key,
            "objects": [o for o in objects if o["kind"] != "Secret"],
            "secret": {
                "mode": self.spec.secret_mode,
                "owned": secret is not None,
                "data": (secret or {}).get("data"),
            },
        }
        changed = self.preflight.changed()
        self.outcome.diff = [planning.diff(c, c.ref.kind == "Secret") for c in changed]
        self.outcome.changed = bool(changed or self.prune)
        self.ready = self.outcome.changed and not self.check

    def _prunable(self, keep: list[Ref]) -> list[Ref]:
        """Objects the last deployed revision created that this one no longer has."""
        last = self.history.last_deployed() if self.history else None
        if last is None:
            return []
        refs = [Ref.of(o) for o in last["objects"]]
        if (last.get("secret") or {}).get("owned") and self.spec.secret_mode == "sealed":
            refs.append(Ref("Secret", self.spec.namespace, self.spec.secret_name))
        return [
            r
            for r in refs
            if r not in keep and self.kube.get(r.kind, r.namespace, r.name) is not None
        ]

    def _plan_rollback(self) -> None:
        history = self.history
        deployed = [r for r in history.records if r["status"] in ("deployed", "superseded")]
        wanted = self.spec.revision or (deployed[-2]["revision"] if len(deployed) > 1 else 0)
        target = history.get(wanted) if wanted else None
        if target is None:
            listed = ", ".join(str(r["revision"]) for r in history.records) or "none"
            self._fail(
                f"exchange_router_rollback_revision: no revision {wanted or '(previous)'} of "
                f"release {self.spec.name} to roll back to (revisions: {listed})"
            )
            return
        self.target = target
        secret = None
        if (target.get("secret") or {}).get("data") is not None:
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": self.spec.secret_name, "namespace": self.spec.namespace},
                "data": target["secret"]["data"],
            }
            self.spec.secret_mode = "plain"
        else:
            self.spec.secret_mode = target.get("secret", {}).get("mode", "existing")
        self.spec.secret = secret
        self.secret_values = self.spec.secret_values()
        self._plan(list(target["objects"]), secret)
        self.record["description"] = f"rollback to revision {wanted}"
        self.outcome.changed = True
        self.ready = not self.check and not self.outcome.failed

    # ------------------------------------------------------------------ apply
    def writes(self) -> list[dict[str, Any]]:
        """What the one kubernetes.core.k8s run applies for this release."""
        if not self.ready or self.apply_error:
            return []
        return [c.obj for c in self.preflight.changed()]

    def before_apply(self) -> None:
        """The writes that must precede the apply: the replicas hand-off, and in sealed mode a
        changed SealedSecret, unsealed before its values are hashed into the pod template."""
        if not self.ready:
            return
        try:
            if self.handover:
                manager = self.spec.field_manager + planning.HANDOVER_MANAGER_SUFFIX
                self.kube.apply(self.handover, manager=manager)
            sealed = self._change("SealedSecret")
            if sealed is not None and sealed.changed:
                wait = min(self.spec.timeout, 120)
                data = sealing.apply_and_unseal(self.kube, sealed.obj, wait)
                sealed.live = sealed.result  # written; the module need not apply it again
                self._remember(data)
                self._rehash(data)
        except (KubeError, sealing.UnsealFailed) as error:
            self.apply_error = str(error)

    def _change(self, kind: str) -> planning.Change | None:
        return next((c for c in self.preflight.changes if c.ref.kind == kind), None)

    def _rehash(self, data: dict[str, str]) -> None:
        """Put the unsealed values' checksum into the Deployment and dry-run it again."""
        change = self._change("Deployment")
        if change is None:
            return
        checksum = planning.secret_checksum(self.record["checksum_key"], data)
        change.obj = planning.with_checksum(change.obj, checksum)
        change.result = self.kube.apply(change.obj, dry_run=True)
        self.record["objects"] = [
            change.obj if o["kind"] == "Deployment" else o for o in self.record["objects"]
        ]

    # ------------------------------------------------------------------ finish
    def finish(self, apply_error: str = "") -> None:
        try:
            if self.ready:
                self._finish(self.apply_error or apply_error)
            elif self.spec.state == "present" and not self.outcome.failed and not self.check:
                self._report_state()
            elif self.spec.state == "absent" and not self.outcome.failed:
                self._remove()
            elif self.spec.state == "history" and self.history is not None:
                self.outcome.history = [summary(r) for r in self.history.records]
        except (KubeError, LockError) as error:
            self._fail(str(error))
        finally:
            if not self.check:
                with contextlib.suppress(KubeError):  # else it expires by itself
                    self.lease.release()

    def _finish(self, apply_error: str) -> None:
        if self.lease.lost:
            raise LockError(self.lease.lost)
        deployment = next((c for c in self.preflight.changes if c.ref.kind == "Deployment"), None)
        started = bool(deployment and deployment.changed and deployment.template_changed())
        failure = apply_error
        if not failure:
            self._delete(self.prune)
            if self.spec.wait and deployment:
                failure = wait_rollout(self, deployment.ref, started)
        if self.lease.lost:  # another run owns the release now: write nothing more
            raise LockError(f"{self.lease.lost}; stopped without recording history or rolling back")
        self.record.update(
            revision=self.history.next_revision(),
            time=now(),
            deployer=self.deployer,
            image=_image(self.record["objects"]),
            status="failed" if failure else "deployed",
        )
        if failure:
            self.record["description"] = "failed: " + failure.splitlines()[0]
        self.record.setdefault("description", "deploy")
        self.history.append(self.record, self.spec.history_max)
        self.outcome.revision = self.record["revision"]
        if not failure:
            self.outcome.msg = f"Release {self.spec.name} revision {self.outcome.revision} deployed"
            return
        msg = failure
        previous = self.history.last_deployed()
        if not self.spec.rollback_on_failure or self.spec.state != "present":
            msg += (
                "\nNot rolled back (exchange_router_rollback_on_failure is false)."
                if self.spec.state == "present"
                else ""
            )
        elif previous is not None:
            msg += "\n" + self._restore(previous)
        else:
            msg += "\nNo previous revision to roll back to (first deploy)."
        self._fail(msg)

    def _restore(self, previous: dict[str, Any]) -> str:
        """Put the whole previous revision back, in the controller; record it as a revision."""
        objects = copy.deepcopy(previous["objects"])
        secret_data = (previous.get("secret") or {}).get("data")
        if secret_data is not None:
            objects.insert(
                0,
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "type": "Opaque",
                    "metadata": {"name": self.spec.secret_name, "namespace": self.spec.namespace},
                    "data": secret_data,
                },
            )
        for obj in objects:
            self.kube.apply(obj)
        self._delete(
            [
                Ref.of(o)
                for o in self.record["objects"]
                if Ref.of(o) not in {Ref.of(p) for p in objects}
            ]
        )
        deployment = next((Ref.of(o) for o in objects if o["kind"] == "Deployment"), None)
        again = wait_rollout(self, deployment, True) if deployment and self.spec.wait else ""
        record = dict(
            copy.deepcopy(previous),
            revision=self.history.next_revision(),
            time=now(),
            deployer=self.deployer,
            status="deployed" if not again else "failed",
            description=f"rollback to revision {previous['revision']}",
        )
        self.history.append(record, self.spec.history_max)
        self.outcome.changed = True
        self.outcome.rolled_back_to = previous["revision"]
        tail = "that rollout is complete." if not again else f"but: {again}"
        return (
            f"Rolled back to revision {previous['revision']} "
            f"(recorded as revision {record['revision']}); {tail}"
        )

    def _report_state(self) -> None:
        """Nothing changed: say if the Deployment is short of its rollout, never touch it."""
        ref = next((Ref.of(o) for o in self.spec.objects if o["kind"] == "Deployment"), None)
        if ref is not None and self.spec.wait:
            report_state(self, ref)

    def _delete(self, refs: list[Ref]) -> bool:
        deleted = False
        for ref in refs:
            # A SealedSecret goes without its Secret: the release may still use that Secret.
            propagation = "Orphan" if ref.kind == "SealedSecret" else "Background"
            deleted = self.kube.delete(ref, propagation) or deleted
        return deleted

    def _remove(self) -> None:
        """Delete what the release's history (or, without one, its labels) says it created."""
        last = self.history.latest if self.history else None
        if last is not None:
            refs = [Ref.of(o) for o in last["objects"]]
            if (last.get("secret") or {}).get("owned"):
                refs.insert(0, Ref("Secret", self.spec.namespace, self.spec.secret_name))
        else:
            refs = self._labelled()
        if self.check:
            self.outcome.changed = any(self.kube.get(r.kind, r.namespace, r.name) for r in refs)
            return
        deleted = self._delete(refs)
        wait_gone(self, refs)
        if self.history is not None and self.history.secret is not None:
            deleted = self.history.delete() or deleted
        self.outcome.changed = deleted
        self.outcome.msg = (
            f"Release {self.spec.name} removed"
            if deleted
            else f"Release {self.spec.name} is not installed"
        )

    def _labelled(self) -> list[Ref]:
        """Without history (releases of 1.x): the named objects carrying the release's labels."""
        refs = []
        secret = {"kind": "Secret", "metadata": {"name": self.spec.secret_name}}
        for obj in [*self.spec.objects, secret]:
            ref = Ref(obj["kind"], self.spec.namespace, obj["metadata"]["name"])
            live = self.kube.get(ref.kind, ref.namespace, ref.name)
            labels = (live or {}).get("metadata", {}).get("labels") or {}
            if (
                labels.get("app.kubernetes.io/managed-by") == "exchange.platform"
                and labels.get("app.kubernetes.io/instance") == self.spec.name
            ):
                refs.append(ref)
        return refs

    def _secret_ref(self) -> str:
        return f"Secret {self.spec.namespace}/{self.spec.secret_name}"

    def _fail(self, msg: str) -> None:
        self.outcome.failed = True
        self.ready = False
        self.outcome.msg = msg


def _image(objects: list[dict[str, Any]]) -> str:
    for obj in objects:
        if obj["kind"] == "Deployment":
            return obj["spec"]["template"]["spec"]["containers"][0].get("image", "")
    return ""
