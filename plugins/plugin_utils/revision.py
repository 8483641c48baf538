# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Putting one revision of a release on the cluster: the steps upgrade and rollback share.

`plan` decides everything before a write (the Secret's state and mode hand-offs, the replicas
hand-off, the checksum, a server-side dry-run of every object, what to prune). `prepare` makes
the writes that must precede the apply. The caller applies `Plan.writes()` (kubernetes.core.k8s,
shared by the releases of a batch). `complete` prunes, follows the rollout and records the
revision.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import astuple, dataclass, field
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import catalogue, edge, unseal
from ansible_collections.exchange.platform.plugins.plugin_utils import plan as planning
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.lock import LockError
from ansible_collections.exchange.platform.plugins.plugin_utils.release import Release
from ansible_collections.exchange.platform.plugins.plugin_utils.rollout import Watch
from ansible_collections.exchange.platform.plugins.plugin_utils.store import now

# The Sealed Secrets controller takes over an existing Secret only with this annotation.
MANAGED = "sealedsecrets.bitnami.com/managed"


class PlanError(Exception):
    """The revision cannot be deployed; nothing was written. The message says why."""


@dataclass
class Plan:
    description: str
    changes: list[planning.Change]
    record: dict[str, Any]
    prune: list[Ref] = field(default_factory=list)
    handover: dict[str, Any] | None = None  # spec.replicas to the HPA's side
    to_controller: bool = False  # annotate the Secret so the controller takes it over
    from_controller: bool = False  # orphan the SealedSecret's Secret and drop the annotation
    secret_changed: bool = False  # a new secret mode or owner, worth a revision of its own

    def change(self, kind: str) -> planning.Change | None:
        return next((c for c in self.changes if c.ref.kind == kind), None)

    def changed(self) -> list[planning.Change]:
        return [c for c in self.changes if c.changed]

    def writes(self) -> list[dict[str, Any]]:
        return [c.obj for c in self.changed()]

    @property
    def modified(self) -> bool:
        moves = self.to_controller or self.from_controller or self.secret_changed
        return bool(self.changed() or self.prune or moves)

    @property
    def started(self) -> bool:
        """Whether this revision changes the pod template (so this run starts a rollout)."""
        deployment = self.change("Deployment")
        return bool(deployment and deployment.changed and deployment.template_changed())


def secret_manifest(rel: Release, data: dict[str, str]) -> dict[str, Any]:
    """The plain-mode Secret a stored revision recorded."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": rel.spec.secret_name, "namespace": rel.spec.namespace},
        "data": data,
    }


def plan(
    rel: Release,
    objects: list[dict[str, Any]],
    secret: dict[str, Any] | None,
    mode: str,
    description: str,
) -> Plan:
    spec, kube = rel.spec, rel.kube
    latest = rel.history.latest
    key = (latest or {}).get("checksum_key") or secrets.token_hex(32)
    # The live Secret and SealedSecret, read once for the mode hand-offs, the data and the dry-run.
    secret_ref = Ref("Secret", spec.namespace, spec.secret_name)
    sealed_ref = Ref("SealedSecret", spec.namespace, spec.secret_name)
    live_secret = kube.get(*astuple(secret_ref))
    known: dict[Ref, dict[str, Any] | None] = {secret_ref: live_secret}
    if live_secret is not None and mode != "existing":
        known[sealed_ref] = kube.get(*astuple(sealed_ref))
    to_controller, from_controller = _secret_moves(
        rel, mode, latest, live_secret, known.get(sealed_ref)
    )
    data = _secret_data(rel, secret, mode, live_secret)
    objects = copy.deepcopy(objects) + ([secret] if secret else [])
    handover = None
    for i, obj in enumerate(objects):
        if obj["kind"] != "Deployment":
            continue
        if data is not None:
            obj = planning.with_checksum(obj, planning.secret_checksum(key, data))
        live = kube.get("Deployment", obj["metadata"]["namespace"], obj["metadata"]["name"])
        known[Ref.of(obj)] = live
        if "replicas" not in obj["spec"] and planning.owns_replicas(live, spec.field_manager):
            current = live["spec"].get("replicas", 1)
            handover = planning.handover_patch(obj, current)
            obj = planning.with_replicas(obj, current)
        objects[i] = obj
    objects.sort(key=catalogue.apply_order)
    preflight = planning.dry_run(kube, objects, spec.sources, rel.secrets, known)
    if preflight.problems:
        raise PlanError(
            "The API server would reject the release; nothing was written:\n"
            + "\n".join(preflight.problems)
        )
    record = {
        "checksum_key": key,
        "description": description,
        "objects": [o for o in objects if o["kind"] != "Secret"],
        "secret": {
            "mode": mode,
            "name": spec.secret_name,
            "owned": mode != "existing",
            "data": (secret or {}).get("data"),
        },
    }
    prune = _prunable(rel, latest, [Ref.of(o) for o in objects])
    before = (latest or {}).get("secret") or {}
    now_ = record["secret"]
    secret_changed = latest is not None and (
        (before.get("mode"), bool(before.get("owned")), before.get("name", now_["name"]))
        != (now_["mode"], now_["owned"], now_["name"])
    )
    return Plan(
        description,
        preflight.changes,
        record,
        prune,
        handover,
        to_controller,
        from_controller,
        secret_changed,
    )


def _owned(rel: Release, latest: dict[str, Any] | None) -> bool:
    """Whether the live Secret is the release's: it created it (plain) or its SealedSecret's
    controller did (sealed), under the same name."""
    before = (latest or {}).get("secret") or {}
    same_name = before.get("name", rel.spec.secret_name) == rel.spec.secret_name
    return bool(before.get("owned")) and same_name


def _secret_moves(
    rel: Release,
    mode: str,
    latest: dict[str, Any] | None,
    live: dict[str, Any] | None,
    sealed: dict[str, Any] | None,
) -> tuple[bool, bool]:
    """(to_controller, from_controller) for a change of secret mode, given the live Secret and
    SealedSecret; refuses to take a Secret the release did not create unless
    exchange_router_secret_adopt allows it."""
    spec = rel.spec
    before = (latest or {}).get("secret") or {}
    leaving_sealed = before.get("mode") == "sealed" and mode != "sealed"
    if mode == "existing":
        return False, leaving_sealed
    controlled = sealed is not None and any(  # made by the release's SealedSecret
        o.get("uid") == sealed["metadata"].get("uid")
        for o in (live or {}).get("metadata", {}).get("ownerReferences") or []
    )
    if live is not None and not (_owned(rel, latest) or controlled or spec.secret_adopt):
        takes = (
            "plain mode would overwrite its data"
            if mode == "plain"
            else "the Sealed Secrets controller would refuse to overwrite it"
        )
        raise PlanError(
            f"exchange_router_secret_adopt: Secret {spec.namespace}/{spec.secret_name} exists and "
            f"was not created by release {spec.name}; {takes}. Set exchange_router_secret_adopt: "
            "true to hand it to the release, or use exchange_router_secret_mode existing."
        )
    if mode == "plain" or live is None:
        return False, leaving_sealed
    annotations = live["metadata"].get("annotations") or {}
    return annotations.get(MANAGED) != "true" and not controlled, False


def _secret_data(
    rel: Release, secret: dict[str, Any] | None, mode: str, live: dict[str, Any] | None
) -> dict[str, str] | None:
    """The data the pods will read: the plain-mode manifest's, or the live Secret's."""
    if secret is not None:
        return secret.get("data") or {}
    spec = rel.spec
    where = f"Secret {spec.namespace}/{spec.secret_name}"
    if mode == "sealed":  # what the controller unsealed last, if anything
        rel.remember((live or {}).get("data"))
        return (live or {}).get("data")
    if live is None:
        raise PlanError(f"{where} does not exist (secret mode existing)")
    missing = sorted(set(spec.required_keys) - set(live.get("data") or {}))
    if missing:
        raise PlanError(
            f"{where} lacks the keys {', '.join(missing)} that exchange_router_secret_env needs"
        )
    rel.remember(live["data"])
    return live["data"]


def _prunable(rel: Release, latest: dict[str, Any] | None, keep: list[Ref]) -> list[Ref]:
    """Objects the release's latest revision had that this one has not (still there)."""
    if latest is None:
        return []
    refs = [Ref.of(o) for o in latest["objects"]]
    before = latest.get("secret") or {}
    if before.get("owned") and before.get("name", rel.spec.secret_name) != rel.spec.secret_name:
        refs.append(Ref("Secret", rel.spec.namespace, before["name"]))  # renamed: the old goes
    return [
        r for r in refs if r not in keep and rel.kube.get(r.kind, r.namespace, r.name) is not None
    ]


def prepare(rel: Release, plan_: Plan) -> str:
    """The writes that precede the apply: the replicas hand-off, the Secret's hand-off to or
    from the Sealed Secrets controller, and a changed SealedSecret, unsealed before its values
    are hashed into the pod template. '' or why it failed."""
    spec, kube = rel.spec, rel.kube
    manager = spec.field_manager + planning.HANDOVER_MANAGER_SUFFIX
    bare = secret_manifest(rel, {})
    bare.pop("data"), bare.pop("type")
    try:
        if plan_.handover:
            kube.apply(plan_.handover, manager=manager)
        if plan_.from_controller:
            kube.delete(Ref("SealedSecret", spec.namespace, spec.secret_name), "Orphan")
            if kube.get("Secret", spec.namespace, spec.secret_name) is not None:
                kube.apply(bare, manager=manager)  # the annotation was this manager's only field
        if plan_.to_controller:
            bare["metadata"]["annotations"] = {MANAGED: "true"}
            kube.apply(bare, manager=manager)
        sealed = plan_.change("SealedSecret")
        if sealed is not None and (sealed.changed or plan_.to_controller):
            data = unseal.apply_and_unseal(kube, sealed.obj, min(spec.timeout, 120))
            sealed.live = sealed.result  # written; the apply need not write it again
            rel.remember(data)
            _rehash(rel, plan_, data)
    except (KubeError, unseal.UnsealFailed) as error:
        return rel.redact(str(error))
    return ""


def _rehash(rel: Release, plan_: Plan, data: dict[str, str]) -> None:
    """Put the unsealed values' checksum into the Deployment and dry-run it again."""
    change = plan_.change("Deployment")
    if change is None:
        return
    checksum = planning.secret_checksum(plan_.record["checksum_key"], data)
    change.obj = planning.with_checksum(change.obj, checksum)
    change.result = rel.kube.apply(change.obj, dry_run=True)
    plan_.record["objects"] = [
        change.obj if o["kind"] == "Deployment" else o for o in plan_.record["objects"]
    ]


def delete(rel: Release, refs: list[Ref], orphan_sealed: bool = True) -> bool:
    """Delete objects; a SealedSecret goes without its Secret unless told otherwise (a mode
    change keeps using that Secret)."""
    deleted = False
    for ref in refs:
        orphan = ref.kind == "SealedSecret" and orphan_sealed
        deleted = rel.kube.delete(ref, "Orphan" if orphan else "Background") or deleted
    return deleted


def complete(rel: Release, plan_: Plan, apply_error: str) -> str:
    """Prune, follow the rollout, record the revision. '' or why the revision failed."""
    if rel.lease.lost:
        raise LockError(rel.lease.lost)
    failure = apply_error
    deployment = plan_.change("Deployment")
    if not failure:
        delete(rel, plan_.prune)
        if rel.spec.wait and deployment is not None:
            watch = Watch(
                rel.kube,
                deployment.ref,
                plan_.started,
                rel.spec.timeout,
                rel.secrets,
                lambda: rel.lease.lost,
                pace=rel.pace(deployment.ref),
            )
            failure = watch.wait()
            for warning in watch.warnings:
                rel.warn(warning)
        if rel.spec.wait and not failure:
            failure = edge.wait(rel.kube, plan_.record["objects"], rel.spec.edge_timeout)
    if rel.lease.lost:  # another run owns the release now: write nothing more
        raise LockError(f"{rel.lease.lost}; stopped without recording history or rolling back")
    record = dict(
        plan_.record,
        revision=rel.history.next_revision(),
        time=now(),
        deployer=rel.who(),
        image=_image(plan_.record["objects"]),
        status="failed" if failure else "deployed",
    )
    if failure and plan_.description == "deploy":
        record["description"] = "failed: " + failure.splitlines()[0]
    rel.history.append(record, rel.spec.history_max)
    rel.outcome.revision = record["revision"]
    return failure


def _image(objects: list[dict[str, Any]]) -> str:
    for obj in objects:
        if obj["kind"] == "Deployment":
            return obj["spec"]["template"]["spec"]["containers"][0].get("image", "")
    return ""
