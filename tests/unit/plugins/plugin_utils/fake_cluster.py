"""An in-memory cluster for the engine's unit tests, as Helm tests its actions with kubefake:
every branch in milliseconds, no API server.

FakeCluster keeps objects by reference with resourceVersions and generations, merges
server-side applies per field manager (a manager's fields go when it stops applying them), runs
dry-runs without storing, answers with 404/409 as the API server does, and stands in for three
controllers: the Deployment controller (a rollout completes, crash-loops or misses its deadline,
as `behaviour` says), the HPA (`scale`) and the Sealed Secrets controller (the "ciphertext" is the
base64 value itself; an existing Secret is taken over only when annotated or controlled).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref

MANAGER = "exchange.platform"
MANAGED = "sealedsecrets.bitnami.com/managed"


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def by_image(deployment: dict[str, Any]) -> str:
    """A rollout crash-loops when the image's tag says "crash", misses its deadline when it says
    "stuck", and completes otherwise."""
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return next((b for b in ("crash", "stuck") if b in image), "ready")


class FakeCluster:
    def __init__(self, namespaces: tuple[str, ...] = ("ns",)) -> None:
        self.namespaces = set(namespaces)
        self.objects: dict[Ref, dict[str, Any]] = {}
        self.applied: dict[Ref, dict[str, dict[str, Any]]] = {}  # ref -> manager -> object
        self.calls: list[tuple[str, str, str]] = []  # (verb, kind, name); verb "dry-run" too
        self.version = 0
        self.uid = 0
        self.user = "system:serviceaccount:ns:deployer"
        self.metrics = True
        self.controller = True  # Sealed Secrets
        self.denials: list[Callable[[dict[str, Any], bool], KubeError | None]] = []
        # (verb, kind) -> the error a get, list, delete or log answers with (RBAC, say)
        self.refusals: dict[tuple[str, str], KubeError] = {}
        self.behaviour: Callable[[dict[str, Any]], str] = by_image
        # more controllers: called with each object written (cert-manager, a Gateway, ...)
        self.controllers: list[Callable[[dict[str, Any]], None]] = []
        self.watchable = True  # False: the deployer's Role lacks the watch verb
        self.streams: list[FakeStream] = []

    # ------------------------------------------------------------------ helpers for tests
    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create an object as someone else would (kubectl)."""
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {}).setdefault("namespace", "ns")
        return self._store(Ref.of(obj), obj)

    def scale(self, namespace: str, name: str, replicas: int) -> None:
        """The HPA's scale subresource update."""
        ref = Ref("Deployment", namespace, name)
        self.objects[ref]["spec"]["replicas"] = replicas
        for applied in self.applied[ref].values():  # an Update takes the field from appliers
            applied.get("spec", {}).pop("replicas", None)
        self.applied[ref]["hpa"] = {}
        for entry in self.objects[ref]["metadata"]["managedFields"]:
            entry["fieldsV1"] = {}

    def verbs(self, verb: str, kind: str = "") -> list[str]:
        return [n for v, k, n in self.calls if v == verb and (not kind or k == kind)]

    # ------------------------------------------------------------------ the Client interface
    def _refuse(self, verb: str, kind: str) -> None:
        if (verb, kind) in self.refusals:
            raise self.refusals[verb, kind]

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(("get", kind, name))
        self._refuse("get", kind)
        found = self.objects.get(Ref(kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def list(self, kind: str, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        self.calls.append(("list", kind, selector))
        self._refuse("list", kind)
        wanted = dict(p.split("=", 1) for p in selector.split(",") if p)
        return [
            copy.deepcopy(o)
            for r, o in self.objects.items()
            if r.kind == kind
            and r.namespace == namespace
            and wanted.items() <= (o["metadata"].get("labels") or {}).items()
        ]

    def watch(self, kind: str, namespace: str, selector: str, seconds: int) -> FakeStream:
        self.calls.append(("watch", kind, selector))
        if not self.watchable:
            raise KubeError(403, f'{kind.lower()}s is forbidden: cannot watch in "{namespace}"')
        stream = FakeStream(
            [{"type": "ADDED", "object": copy.deepcopy(o)} for o in self.list(kind, namespace)]
        )
        self.streams.append(stream)
        return stream

    def apply(
        self, obj: dict[str, Any], dry_run: bool = False, manager: str = ""
    ) -> dict[str, Any]:
        ref = Ref.of(obj)
        manager = manager or MANAGER
        self.calls.append(("dry-run" if dry_run else f"apply:{manager}", ref.kind, ref.name))
        self._namespace(ref.namespace)
        for deny in self.denials:
            error = deny(obj, dry_run)
            if error is not None:
                raise error
        before = self.applied.get(ref, {})
        # the applier's own fields win (force): merged last
        managers = {m: a for m, a in before.items() if m != manager} | {manager: copy.deepcopy(obj)}
        appliers = {m: a for m, a in managers.items() if m != "hpa"}
        live = self.objects.get(ref)
        merged: dict[str, Any] = {}
        for applied in appliers.values():
            merged = merge(merged, applied)
        if live is not None and "hpa" in managers and "replicas" not in merged["spec"]:
            merged["spec"]["replicas"] = live["spec"]["replicas"]  # the HPA's field
        merged["metadata"] = merge((live or {}).get("metadata", {}), merged["metadata"])
        for key in ("labels", "annotations"):
            applied_before = {
                k for a in before.values() for k in a.get("metadata", {}).get(key) or {}
            }
            fields = {  # set by controllers, not by an applier
                k: v
                for k, v in ((live or {}).get("metadata", {}).get(key) or {}).items()
                if k not in applied_before
            }
            for applied in appliers.values():
                fields.update(applied["metadata"].get(key) or {})
            merged["metadata"][key] = fields
        merged["metadata"]["managedFields"] = [
            {
                "manager": m,
                "operation": "Apply",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}
                if "replicas" in a.get("spec", {})
                else {},
            }
            for m, a in appliers.items()
        ]
        if live is not None and "status" in live:
            merged["status"] = live["status"]
        if dry_run:
            return self._versioned(ref, merged, store=False)
        self.applied[ref] = managers
        return self._store(ref, merged)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        ref = Ref.of(obj)
        self.calls.append(("create", ref.kind, ref.name))
        self._namespace(ref.namespace)
        if ref in self.objects:
            raise KubeError(409, f'{ref.kind.lower()}s "{ref.name}" already exists')
        return self._store(ref, copy.deepcopy(obj))

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        ref = Ref.of(obj)
        self.calls.append(("replace", ref.kind, ref.name))
        live = self.objects.get(ref)
        if live is None:
            raise KubeError(404, f'{ref.kind.lower()}s "{ref.name}" not found')
        if obj["metadata"].get("resourceVersion") != live["metadata"]["resourceVersion"]:
            raise KubeError(409, "the object has been modified")
        return self._store(ref, copy.deepcopy(obj))

    def delete(self, ref: Ref, propagation: str = "Background", precondition_rv: str = "") -> bool:
        self.calls.append((f"delete:{propagation}", ref.kind, ref.name))
        self._refuse("delete", ref.kind)
        live = self.objects.get(ref)
        if live is None:
            return False
        if precondition_rv and precondition_rv != live["metadata"]["resourceVersion"]:
            raise KubeError(409, "precondition failed")
        del self.objects[ref]
        self.applied.pop(ref, None)
        uid = live["metadata"]["uid"]
        for other in list(self.objects.values()):
            owners = other["metadata"].get("ownerReferences") or []
            if any(o.get("uid") == uid for o in owners):
                if propagation == "Orphan":
                    other["metadata"]["ownerReferences"] = [o for o in owners if o["uid"] != uid]
                else:
                    del self.objects[Ref.of(other)]
        return True

    def log(self, namespace: str, pod: str, container: str, lines: int, previous: bool) -> str:
        self._refuse("log", "Pod")
        return "connecting to postgres://router:hunter22@db/exchange\nexit: no route to redis"

    def whoami(self) -> str:
        self.calls.append(("create", "SelfSubjectReview", ""))
        return self.user

    def serves(self, group_version: str) -> bool:
        return self.metrics

    # ------------------------------------------------------------------ internals
    def _namespace(self, namespace: str) -> None:
        if namespace not in self.namespaces:
            raise KubeError(404, f'namespaces "{namespace}" not found')

    def _versioned(self, ref: Ref, obj: dict[str, Any], store: bool) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        live = self.objects.get(ref)
        meta = obj["metadata"]
        meta["namespace"] = ref.namespace
        if live is None:
            self.uid += 1
            meta["uid"] = f"uid-{self.uid}"
        else:
            meta["uid"] = live["metadata"]["uid"]
        generation = (live or {}).get("metadata", {}).get("generation", 0)
        if live is None or live.get("spec") != obj.get("spec"):
            generation += 1
        meta["generation"] = generation
        if store:
            self.version += 1
        meta["resourceVersion"] = str(self.version + (0 if store else 1))
        return obj

    def _store(self, ref: Ref, obj: dict[str, Any]) -> dict[str, Any]:
        obj = self._versioned(ref, obj, store=True)
        self.objects[ref] = obj
        if ref.kind == "Deployment":
            self._deployment_controller(obj)
        if ref.kind == "SealedSecret" and self.controller:
            self._sealed_secrets_controller(obj)
        for controller in self.controllers:
            controller(self.objects[ref])
        return copy.deepcopy(self.objects[ref])

    def _deployment_controller(self, deployment: dict[str, Any]) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        replicas = spec.get("replicas", 1)
        revision = int((meta.get("annotations") or {}).get("deployment.kubernetes.io/revision", 0))
        meta.setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(revision + 1)
        behaviour = self.behaviour(deployment)
        status: dict[str, Any] = {"observedGeneration": meta["generation"], "replicas": replicas}
        if behaviour == "ready":
            status.update(updatedReplicas=replicas, availableReplicas=replicas)
        elif behaviour == "stuck":
            status.update(updatedReplicas=replicas, availableReplicas=0)
            status["conditions"] = [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
            ]
        else:  # crash: a new ReplicaSet whose pod crash-loops
            status.update(updatedReplicas=replicas, availableReplicas=0)
            labels = dict(spec["selector"]["matchLabels"], **{"pod-template-hash": str(revision)})
            rs = {
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{meta['name']}-{revision}",
                    "namespace": meta["namespace"],
                    "labels": labels,
                    "annotations": {"deployment.kubernetes.io/revision": str(revision + 1)},
                    "ownerReferences": [{"uid": meta["uid"], "kind": "Deployment"}],
                },
            }
            pod = {
                "kind": "Pod",
                "metadata": {
                    "name": f"{meta['name']}-{revision}-pod",
                    "namespace": meta["namespace"],
                    "labels": labels,
                    "ownerReferences": [{"uid": "rs", "name": rs["metadata"]["name"]}],
                },
                "status": {
                    "phase": "Running",
                    "containerStatuses": [
                        {
                            "name": "exchange-router",
                            "restartCount": 3,
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                        }
                    ],
                },
            }
            for obj in (rs, pod):
                self._store(Ref.of(obj), obj)
        deployment["status"] = status

    def _sealed_secrets_controller(self, sealed: dict[str, Any]) -> None:
        meta = sealed["metadata"]
        ref = Ref("Secret", meta["namespace"], meta["name"])
        secret = self.objects.get(ref)
        owned = secret is not None and any(
            o.get("uid") == meta["uid"] for o in secret["metadata"].get("ownerReferences") or []
        )
        annotated = secret is not None and (
            (secret["metadata"].get("annotations") or {}).get(MANAGED) == "true"
        )
        if secret is not None and not owned and not annotated:
            condition = {
                "type": "Synced",
                "status": "False",
                "message": f'Resource "{meta["name"]}" already exists and is not managed by '
                "SealedSecret",
            }
        else:
            body = merge(secret or {"apiVersion": "v1", "kind": "Secret"}, {})
            body.setdefault("metadata", {}).update(name=meta["name"], namespace=meta["namespace"])
            body["metadata"]["ownerReferences"] = [{"kind": "SealedSecret", "uid": meta["uid"]}]
            body["data"] = dict(sealed["spec"]["encryptedData"])
            self.objects[ref] = self._versioned(ref, body, store=True)
            condition = {"type": "Synced", "status": "True"}
        sealed["status"] = {"observedGeneration": meta["generation"], "conditions": [condition]}

    def k8s_module(self, objects: list[dict[str, Any]]) -> str:
        """What kubernetes.core.k8s does with a list of definitions: apply them in order and
        stop at the first failure, with its message."""
        for obj in objects:
            try:
                self.apply(obj)
            except KubeError as error:
                return f"kubernetes.core.k8s could not apply the release: {error}"
        return ""


class FakeStream:
    """A watch: the events given, then those pushed, until closed."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = list(events)
        self.cond = threading.Condition()
        self.closed = False

    def push(self, event: dict[str, Any]) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.events or self.closed)
                if self.closed:
                    return
                event = self.events.pop(0)
            yield event

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


__all__ = ["MANAGED", "MANAGER", "FakeCluster", "FakeStream", "by_image", "merge"]
