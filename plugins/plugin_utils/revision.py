# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Putting one revision of a release on the cluster: the steps the install/upgrade and the
rollback actions share, each action calling them in its own sequence.

`candidate` decides everything before a write: the Secret's mode hand-offs and data, the
replicas hand-off, the pod template's secret checksum, a server-side dry-run of every object,
what to prune. `put` writes it: the writes that must precede the apply, the apply, the prune, the
waits (catalogue.py says which kinds are waited on and how), and the record in history. The kinds
that send clients to a certificate (catalogue `after_certificates`: the Ingress) are applied
apart, only once the revision's certificates are Ready: a certificate that cannot be issued fails
the revision with the edge unchanged. A
revision whose apply or waits fail is recorded as failed and raises `RevisionFailed`.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    catalogue,
    edge_readiness,
    preflight,
    sealed_secret_sync,
    secret_modes,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.configuration import Configuration
from ansible_collections.exchange.platform.plugins.plugin_utils.lock import LockError
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Failed, Result
from ansible_collections.exchange.platform.plugins.plugin_utils.rollout import Rollout
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.store import (
    History,
    Revision,
    SecretRecord,
    Status,
)

REJECTED = "The API server would reject the release; nothing was written:\n"


class RevisionFailed(Failed):
    """The revision was applied but did not become ready; it is recorded as failed."""


@dataclass
class Candidate:
    """A revision the API server accepted in a dry-run, and how to put it on the cluster."""

    changes: list[preflight.Change]
    record: Revision  # status, time and deployer are set when it is recorded
    prune: list[Ref] = field(default_factory=list)
    handover: dict[str, Any] | None = None  # spec.replicas to the HPA's side
    to_controller: bool = False  # annotate the Secret so the controller takes it over
    from_controller: bool = False  # orphan the SealedSecret's Secret and drop the annotation
    secret_changed: bool = False  # a new secret mode or owner, worth a revision of its own

    def change(self, kind: str) -> preflight.Change | None:
        """The first object of that kind (the stable Deployment, not the canary's)."""
        return next((c for c in self.changes if c.ref.kind == kind), None)

    def change_of(self, ref: Ref) -> preflight.Change | None:
        return next((c for c in self.changes if c.ref == ref), None)

    def changed(self) -> list[preflight.Change]:
        return [c for c in self.changes if c.changed]

    def writes(self) -> list[dict[str, Any]]:
        return [c.obj for c in self.changed()]

    @property
    def modified(self) -> bool:
        moves = self.to_controller or self.from_controller or self.secret_changed
        return bool(self.changed() or self.prune or moves)

    @property
    def starts_rollout(self) -> bool:
        """Whether this revision changes the pod template (so this run starts a rollout)."""
        deployment = self.change("Deployment")
        return bool(deployment and deployment.changed and deployment.template_changed())

    def diff(self) -> list[dict[str, Any]]:
        return [
            preflight.diff(c, catalogue.holds_secret_values(c.ref.kind)) for c in self.changed()
        ]


def candidate(
    cfg: Configuration,
    spec: Spec,
    history: History,
    objects: list[dict[str, Any]],
    secret: dict[str, Any] | None,
    mode: str,
    description: str,
) -> Candidate:
    """The revision of these objects, checked by the API server; raises Failed with every
    rejection (or a Secret it may not take) before anything is written."""
    kube, latest = cfg.client, history.latest
    key = (latest.checksum_key if latest else "") or secrets.token_hex(32)
    # The live Secret and SealedSecret, read once for the mode hand-offs, the data and the dry-run.
    secret_ref = Ref("Secret", spec.namespace, spec.secret_name)
    sealed_ref = Ref("SealedSecret", spec.namespace, spec.secret_name)
    live_secret = kube.get(secret_ref.kind, secret_ref.namespace, secret_ref.name)
    known: dict[Ref, dict[str, Any] | None] = {secret_ref: live_secret}
    if live_secret is not None and mode != "existing":
        known[sealed_ref] = kube.get(sealed_ref.kind, sealed_ref.namespace, sealed_ref.name)
    to_controller, from_controller = secret_modes.moves(
        spec, mode, latest, live_secret, known.get(sealed_ref)
    )
    data = secret_modes.pod_data(spec, secret, mode, live_secret, cfg.redact)
    objects = copy.deepcopy(objects) + ([secret] if secret else [])
    handover = None
    for i, obj in enumerate(objects):
        if obj["kind"] != "Deployment":
            continue
        if data is not None:
            obj = preflight.with_checksum(obj, preflight.secret_checksum(key, data))
        live = kube.get("Deployment", obj["metadata"]["namespace"], obj["metadata"]["name"])
        known[Ref.of(obj)] = live
        if "replicas" not in obj["spec"] and preflight.owns_replicas(live, spec.field_manager):
            current = live["spec"].get("replicas", 1)
            handover = preflight.handover_patch(obj, current)
            obj = preflight.with_replicas(obj, current)
        objects[i] = obj
    objects.sort(key=catalogue.apply_order)
    checked = preflight.dry_run(kube, objects, spec.sources, cfg.redact.secrets, known)
    if checked.problems:
        raise Failed(REJECTED + "\n".join(checked.problems))
    record = Revision(
        revision=0,
        status=Status.DEPLOYED,
        description=description,
        objects=[o for o in objects if not catalogue.holds_secret_values(o["kind"])],
        secret=SecretRecord(mode, spec.secret_name, mode != "existing", (secret or {}).get("data")),
        checksum_key=key,
    )
    before = latest.secret if latest else None
    secret_changed = before is not None and (
        (before.mode, before.owned, before.name or spec.secret_name)
        != (mode, record.secret.owned, spec.secret_name)
    )
    return Candidate(
        checked.changes,
        record,
        _prunable(cfg, spec, latest, [Ref.of(o) for o in objects]),
        handover,
        to_controller,
        from_controller,
        secret_changed,
    )


def _prunable(
    cfg: Configuration, spec: Spec, latest: Revision | None, keep: list[Ref]
) -> list[Ref]:
    """Objects the release's latest revision had that this one has not (still there)."""
    if latest is None:
        return []
    refs = [Ref.of(o) for o in latest.objects]
    if latest.secret.owned and latest.secret.name not in ("", spec.secret_name):
        refs.append(Ref("Secret", spec.namespace, latest.secret.name))  # renamed: the old goes
    return [
        r for r in refs if r not in keep and cfg.client.get(r.kind, r.namespace, r.name) is not None
    ]


def put(cfg: Configuration, spec: Spec, history: History, cand: Candidate, result: Result) -> int:
    """Write the candidate, wait for it and record it; the number it is recorded as. Raises
    RevisionFailed (recorded as failed) when its writes or waits fail, LockError when the lock
    was lost (nothing recorded)."""
    failure = prepare(cfg, spec, cand)
    early = [r for r in cand.prune if catalogue.entry(r.kind).removed_before_apply]
    if not failure:
        delete(cfg, early)
    gated = [o for o in cand.writes() if catalogue.entry(o["kind"]).after_certificates]
    if not failure:
        failure = apply(cfg, [o for o in cand.writes() if o not in gated], result)
    if not failure and gated and spec.wait:  # the Ingress waits for its certificates
        failure = edge_readiness.wait(
            cfg.client,
            cand.record.objects,
            spec.edge_timeout,
            cfg.waiter,
            (catalogue.CERTIFICATE,),
        )
    if not failure and not cfg.lock_lost():
        failure = apply(cfg, gated, result)
    if cfg.lock_lost():
        raise LockError(cfg.lock_lost())
    if not failure:
        delete(cfg, [r for r in cand.prune if r not in early])
        if spec.wait:
            failure = _wait(cfg, spec, cand, result)
    if cfg.lock_lost():  # another run owns the release now: write nothing more
        raise LockError(f"{cfg.lock_lost()}; stopped without recording history or rolling back")
    return record(cfg, spec, history, cand, result, failure)


def record(
    cfg: Configuration,
    spec: Spec,
    history: History,
    cand: Candidate,
    result: Result,
    failure: str,
) -> int:
    """Record the candidate as the next revision, deployed or (with a failure) failed; raises
    RevisionFailed with the failure."""
    entry = cand.record
    entry.revision = history.next_revision()
    entry.time, entry.deployer = cfg.now(), cfg.deployer()
    entry.image = _image(entry.objects)
    entry.status = Status.FAILED if failure else Status.DEPLOYED
    if failure and entry.description == "deploy":
        entry.description = "failed: " + failure.splitlines()[0]
    history.append(entry, spec.history_max)
    result.revision = entry.revision
    if failure:
        raise RevisionFailed(failure)
    return entry.revision


def apply(cfg: Configuration, objects: list[dict[str, Any]], result: Result) -> str:
    """Apply objects (kubernetes.core.k8s, maybe the batch's shared run): '' or why it failed."""
    if not objects:
        return ""
    applied = cfg.apply(objects)
    result.warnings += [cfg.redact(w) for w in applied.warnings]
    return cfg.redact(applied.error)


def prepare(cfg: Configuration, spec: Spec, cand: Candidate) -> str:
    """The writes that precede the apply: the replicas hand-off, the Secret's hand-off to or
    from the Sealed Secrets controller, and a changed SealedSecret, unsealed before its values
    are hashed into the pod template. '' or why it failed."""
    kube = cfg.client
    manager = spec.field_manager + preflight.HANDOVER_MANAGER_SUFFIX
    try:
        if cand.handover:
            kube.apply(cand.handover, manager=manager)
        if cand.from_controller:
            kube.delete(Ref("SealedSecret", spec.namespace, spec.secret_name), "Orphan")
            if kube.get("Secret", spec.namespace, spec.secret_name) is not None:
                # the annotation was this manager's only field: applying none drops it
                kube.apply(secret_modes.bare(spec), manager=manager)
        if cand.to_controller:
            annotated = secret_modes.bare(spec)
            annotated["metadata"]["annotations"] = {secret_modes.MANAGED: "true"}
            kube.apply(annotated, manager=manager)
        sealed = cand.change("SealedSecret")
        if sealed is not None and (sealed.changed or cand.to_controller):
            timeout = min(spec.timeout, 120)
            data = sealed_secret_sync.apply_and_unseal(kube, sealed.obj, timeout, cfg.waiter)
            sealed.live = sealed.result  # written; the apply need not write it again
            cfg.redact.remember(data)
            _rehash(cfg, cand, data)
    except (KubeError, sealed_secret_sync.UnsealFailed) as error:
        return cfg.redact(str(error))
    return ""


def _rehash(cfg: Configuration, cand: Candidate, data: dict[str, str]) -> None:
    """Put the unsealed values' checksum into the Deployments (the canary's too) and dry-run
    them again."""
    checksum = preflight.secret_checksum(cand.record.checksum_key, data)
    for change in cand.changes:
        if change.ref.kind != "Deployment":
            continue
        change.obj = preflight.with_checksum(change.obj, checksum)
        change.result = cfg.client.apply(change.obj, dry_run=True)
        cand.record.objects = [
            change.obj if Ref.of(o) == change.ref else o for o in cand.record.objects
        ]


def _wait(cfg: Configuration, spec: Spec, cand: Candidate, result: Result) -> str:
    """Each waited-on kind, in apply order: '' when all are ready, else why not."""
    deployment = cand.change("Deployment")
    if deployment is not None:
        rollout = Rollout(
            cfg.client,
            deployment.ref,
            cand.starts_rollout,
            spec.timeout,
            cfg.redact,
            cfg.lock_lost,
            cfg.waiter,
            cfg.pace(deployment.ref),
        )
        failure = rollout.wait()
        result.warnings += rollout.warnings
        if failure:
            return failure
    return edge_readiness.wait(cfg.client, cand.record.objects, spec.edge_timeout, cfg.waiter)


def delete(cfg: Configuration, refs: list[Ref], orphan_sealed: bool = True) -> bool:
    """Delete objects; a SealedSecret goes without its Secret unless told otherwise (a mode
    change keeps using that Secret)."""
    deleted = False
    for ref in refs:
        orphan = ref.kind == "SealedSecret" and orphan_sealed
        deleted = cfg.client.delete(ref, "Orphan" if orphan else "Background") or deleted
    return deleted


def _image(objects: list[dict[str, Any]]) -> str:
    for obj in objects:
        if obj["kind"] == "Deployment":
            return obj["spec"]["template"]["spec"]["containers"][0].get("image", "")
    return ""
