"""An in-memory cluster for the engine's unit tests, as Helm tests its actions with kubefake:
every branch in milliseconds, no API server. tests/contract runs the same checks on it and on the
kwok tier's kube-apiserver, so what it answers is what a real API server answers.

What it keeps as the API server does:
- objects by reference, with resourceVersions, uids and generations; 404 for what is missing
  (a namespace included), 409 for a create of what exists, a replace, an apply or a delete whose
  resourceVersion is stale (a replace or an apply without one is unconditional);
- server-side apply with field ownership per (manager, operation): managers share a field they
  set to the same value; a different value is a 409 conflict naming the owner and the field,
  unless forced, which takes the field away from it; a field its last owner stops applying is
  removed; a create, a replace or `scale` (an Update) takes the fields it changes. managedFields
  says who owns what (fieldsV1);
- dry-runs that check everything and store nothing (the answer keeps the live resourceVersion,
  or has none for a new object); metadata.generation only on kinds that have one;
- pod logs per pod and container (`set_log`), the last `lines` lines, `previous` only for a
  container that has a previous instance (400 otherwise, as the kubelet says), 400 for a
  container the pod does not have;
- discovery: `served` holds the group versions it serves (`metrics` toggles metrics.k8s.io);
- the Eviction API: 201 (True), 404 (False), 429 when a PodDisruptionBudget forbids it, 500 when
  two budgets select the pod;
- every request in `calls`, as (verb, kind, name).

It stands in for three controllers: the Deployment controller (a rollout completes, crash-loops or
misses its deadline, as `behaviour` says), the HPA (`scale`) and the Sealed Secrets controller
(the "ciphertext" is the base64 value itself; an existing Secret is taken over only when annotated
or controlled).

Deliberate simplifications (none changes what the engine sees):
- every list is atomic for apply (the API server merges keyed lists, containers by name, item by
  item); the release applies each list whole with one manager;
- no schema: no defaulting (a Secret's type, a Deployment's replicas), no validation; `denials`
  stand in for the API server's rejections;
- a PodDisruptionBudget's allowed disruptions are computed at eviction time from the Ready pods
  its matchLabels select (the disruption controller computes them in the background, and counts
  the expected pods from their controller's scale, not from the pods that exist);
- resourceVersions count up from 1; uids are "uid-1", "uid-2", ...; no creationTimestamp and
  no managedFields times;
- a create records only the fields it was given (the API server's defaults, such as a Secret's
  type, are owned by the creator too).
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.catalogue import BY_KIND
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref

MANAGER = "exchange.platform"
MANAGED = "sealedsecrets.bitnami.com/managed"
# The field manager the API server records for a create or replace without one: the kubernetes
# Python client's user agent, up to its first "/".
UPDATER = "OpenAPI-Generator"
METRICS = "metrics.k8s.io/v1beta1"
# What kube-apiserver serves (that the engine reads or writes), and metrics-server's API.
SERVED = frozenset(
    {
        "v1",
        "apps/v1",
        "autoscaling/v2",
        "policy/v1",
        "coordination.k8s.io/v1",
        "networking.k8s.io/v1",
        "authentication.k8s.io/v1",
        METRICS,
    }
)
# Kinds the API server keeps no metadata.generation for.
UNVERSIONED = frozenset({"Secret", "ConfigMap", "ServiceAccount", "Service", "Lease", "Event"})
# Set by the API server, never owned by a field manager.
SERVER_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "managedFields",
        "creationTimestamp",
        "deletionTimestamp",
        "selfLink",
    }
)
# The fake kubelet's log of a container the Deployment controller made crash.
CRASH_LOG = "connecting to postgres://router:hunter22@db/exchange\nexit: no route to redis"

Path = tuple[str, ...]
Owners = dict[tuple[str, str], set[Path]]  # (manager, operation) -> the fields it owns


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


def _leaves(value: dict[str, Any], prefix: Path = ()) -> dict[Path, Any]:
    out: dict[Path, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict) and item:
            out |= _leaves(item, (*prefix, key))
        else:  # a scalar, a list (atomic) or an empty map
            out[(*prefix, key)] = item
    return out


def fields(obj: dict[str, Any] | None) -> dict[Path, Any]:
    """The fields a field manager can own, each with its value: all but the object's identity,
    what the server sets and status."""
    if not obj:
        return {}
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status", "metadata")}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_METADATA}
    return _leaves(body) | _leaves({"metadata": meta} if meta else {})


def _related(a: Path, b: Path) -> bool:
    """The same field, or one inside the other."""
    return a[: len(b)] == b or b[: len(a)] == a


def _set(obj: dict[str, Any], path: Path, value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            obj[key] = {}
        obj = obj[key]
    obj[path[-1]] = copy.deepcopy(value)


def _remove(obj: dict[str, Any], path: Path) -> None:
    """Remove the field, and the maps it leaves empty."""
    parents = [obj]
    for key in path[:-1]:
        child = parents[-1].get(key)
        if not isinstance(child, dict):
            return
        parents.append(child)
    parents[-1].pop(path[-1], None)
    for depth in range(len(path) - 2, -1, -1):
        if parents[depth + 1] == {}:
            parents[depth].pop(path[depth], None)


def _fields_v1(owned: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(owned):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def _dotted(path: Path) -> str:
    return "".join(f".{key}" for key in path)


def _plural(kind: str) -> str:
    """The resource as the API server names it: "secrets", "leases.coordination.k8s.io"."""
    if kind not in BY_KIND:
        return kind.lower() + "s"
    group = BY_KIND[kind].api_version.rpartition("/")[0]
    return BY_KIND[kind].plural + (f".{group}" if group else "")


def _ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _desired(pdb: dict[str, Any], expected: int) -> int:
    """How many healthy pods the budget wants (minAvailable or maxUnavailable, count or %)."""
    spec = pdb.get("spec") or {}
    if "minAvailable" in spec:
        value, scale = spec["minAvailable"], expected
        if isinstance(value, str) and value.endswith("%"):
            return math.ceil(int(value[:-1]) * scale / 100)
        return int(value)
    value = spec.get("maxUnavailable", 0)
    if isinstance(value, str) and value.endswith("%"):
        return expected - math.ceil(int(value[:-1]) * expected / 100)
    return expected - int(value)


_MISSING = object()


def _render(owners: Owners, api_version: str) -> list[dict[str, Any]]:
    return [
        {
            "manager": manager,
            "operation": operation,
            "apiVersion": api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": _fields_v1(paths),
        }
        for (manager, operation), paths in owners.items()
        if paths
    ]


def _conflict(conflicts: list[tuple[tuple[str, str], Path]], api_version: str) -> KubeError:
    """409 as the API server words it: 'Apply failed with 1 conflict: conflict with "m": .a.b'."""

    def owner(manager: str, operation: str) -> str:
        return f'"{manager}"' + (f" using {api_version}" if operation == "Update" else "")

    if len(conflicts) == 1:
        ((manager, operation), path) = conflicts[0]
        text = f"Apply failed with 1 conflict: conflict with {owner(manager, operation)}: "
        text += _dotted(path)
    else:
        text = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(
            f"conflict with {owner(m, o)}: {_dotted(p)}" for (m, o), p in conflicts
        )
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {owner(m, o)}",
            "field": _dotted(p),
        }
        for (m, o), p in conflicts
    ]
    return KubeError(409, text, causes)


class FakeCluster:
    def __init__(self, namespaces: tuple[str, ...] = ("ns",)) -> None:
        self.namespaces = set(namespaces)
        self.objects: dict[Ref, dict[str, Any]] = {}
        self.owners: dict[Ref, Owners] = {}
        self.calls: list[tuple[str, str, str]] = []  # (verb, kind, name); verb "dry-run" too
        self.version = 0
        self.uid = 0
        self.user = "system:serviceaccount:ns:deployer"
        self.served: set[str] = set(SERVED)
        # (namespace, pod, container) -> (current log, previous instance's log or None)
        self.logs: dict[tuple[str, str, str], tuple[str, str | None]] = {}
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
    @property
    def metrics(self) -> bool:
        """Whether metrics.k8s.io/v1beta1 is served (metrics-server is there)."""
        return METRICS in self.served

    @metrics.setter
    def metrics(self, served: bool) -> None:
        if served:
            self.served.add(METRICS)
        else:
            self.served.discard(METRICS)

    def put(self, obj: dict[str, Any], manager: str = "kubectl-create") -> dict[str, Any]:
        """Create an object as someone else would (kubectl create: an Update of every field)."""
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {}).setdefault("namespace", "ns")
        ref = Ref.of(obj)
        self._update(ref, None, obj, manager)
        return self._store(ref, obj)

    def scale(self, namespace: str, name: str, replicas: int) -> None:
        """The HPA's scale subresource update: kube-controller-manager takes spec.replicas."""
        ref = Ref("Deployment", namespace, name)
        live = self.objects[ref]
        after = merge(live, {"spec": {"replicas": replicas}})
        self._update(ref, live, after, "kube-controller-manager")
        live["spec"]["replicas"] = replicas
        live["metadata"]["managedFields"] = self._managed_fields(ref, live)

    def set_log(
        self,
        namespace: str,
        pod: str,
        container: str,
        current: str = "",
        previous: str | None = None,
    ) -> None:
        """What the container printed, and what its previous instance printed (None: it has
        none, unless its status shows restarts)."""
        self.logs[namespace, pod, container] = (current, previous)

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
        return [copy.deepcopy(o) for o in self._select(kind, namespace, selector)]

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
        self, obj: dict[str, Any], dry_run: bool = False, manager: str = "", force: bool = True
    ) -> dict[str, Any]:
        ref = Ref.of(obj)
        manager = manager or MANAGER
        self.calls.append(("dry-run" if dry_run else f"apply:{manager}", ref.kind, ref.name))
        self._namespace(ref.namespace)
        for deny in self.denials:
            error = deny(obj, dry_run)
            if error is not None:
                raise error
        live = self.objects.get(ref)
        given = (obj.get("metadata") or {}).get("resourceVersion")
        if given and live is not None and given != live["metadata"]["resourceVersion"]:
            raise KubeError(409, self._modified(ref))
        owners = copy.deepcopy(self.owners.get(ref, {}))
        config, current = fields(obj), fields(live)
        mine = (manager, "Apply")
        conflicts = [
            (other, owned)
            for other, paths in owners.items()
            if other != mine
            for owned in sorted(paths)
            for path in config
            if _related(path, owned)
            and (path != owned or current.get(owned, _MISSING) != config[path])
        ]
        if conflicts and not force:
            raise _conflict(conflicts, obj.get("apiVersion", ""))
        for other, owned in conflicts:  # forced: the field is the applier's alone
            owners[other].discard(owned)
        merged = copy.deepcopy(live) if live is not None else {"metadata": {}}
        for dropped in owners.get(mine, set()) - set(config):
            shared = any(_related(dropped, p) for o, ps in owners.items() if o != mine for p in ps)
            if not shared:
                _remove(merged, dropped)
        for path, value in config.items():
            _set(merged, path, value)
        merged["apiVersion"], merged["kind"] = obj.get("apiVersion", ""), ref.kind
        merged.setdefault("metadata", {}).update(name=ref.name, namespace=ref.namespace)
        owners[mine] = set(config)
        if dry_run:
            merged["metadata"]["managedFields"] = _render(owners, merged["apiVersion"])
            return self._versioned(ref, merged, store=False)
        self.owners[ref] = owners
        return self._store(ref, merged)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        ref = Ref.of(obj)
        self.calls.append(("create", ref.kind, ref.name))
        self._namespace(ref.namespace)
        if ref in self.objects:
            raise KubeError(409, f'{_plural(ref.kind)} "{ref.name}" already exists')
        obj = copy.deepcopy(obj)
        self._update(ref, None, obj, UPDATER)
        return self._store(ref, obj)

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        ref = Ref.of(obj)
        self.calls.append(("replace", ref.kind, ref.name))
        live = self.objects.get(ref)
        if live is None:
            raise KubeError(404, f'{_plural(ref.kind)} "{ref.name}" not found')
        given = obj["metadata"].get("resourceVersion")
        if given and given != live["metadata"]["resourceVersion"]:
            raise KubeError(409, self._modified(ref))
        obj = copy.deepcopy(obj)
        obj.pop("status", None)
        if "status" in live:  # the status subresource is written apart
            obj["status"] = copy.deepcopy(live["status"])
        self._update(ref, live, obj, UPDATER)
        return self._store(ref, obj)

    def delete(self, ref: Ref, propagation: str = "Background", precondition_rv: str = "") -> bool:
        self.calls.append((f"delete:{propagation}", ref.kind, ref.name))
        self._refuse("delete", ref.kind)
        live = self.objects.get(ref)
        if live is None:
            return False
        if precondition_rv and precondition_rv != live["metadata"]["resourceVersion"]:
            raise KubeError(
                409,
                f'Operation cannot be fulfilled on {ref.kind} "{ref.name}": the ResourceVersion '
                f"in the precondition ({precondition_rv}) does not match the ResourceVersion in "
                f"record ({live['metadata']['resourceVersion']}). The object might have been "
                "modified",
            )
        self._remove_object(ref, propagation)
        return True

    def log(self, namespace: str, pod: str, container: str, lines: int, previous: bool) -> str:
        self.calls.append(("log", "Pod", pod))
        self._refuse("log", "Pod")
        live = self.objects.get(Ref("Pod", namespace, pod))
        if live is None:
            raise KubeError(404, f'pods "{pod}" not found')
        spec, status = live.get("spec") or {}, live.get("status") or {}
        containers = {
            c["name"]: c
            for key in ("initContainers", "containers")
            for c in [*(spec.get(key) or []), *(status.get(key[:-1] + "Statuses") or [])]
        }
        if container not in containers:
            raise KubeError(400, f"container {container} is not valid for pod {pod}")
        current, before = self.logs.get((namespace, pod, container), ("", None))
        if previous:
            if before is None and not containers[container].get("restartCount"):
                raise KubeError(
                    400, f'previous terminated container "{container}" in pod "{pod}" not found'
                )
            current = before or ""
        kept = current.splitlines()[-lines:] if lines > 0 else []
        return "".join(line + "\n" for line in kept)

    def whoami(self) -> str:
        self.calls.append(("create", "SelfSubjectReview", ""))
        return self.user

    def serves(self, group_version: str) -> bool:
        self.calls.append(("get", "APIResourceList", group_version))
        return group_version in self.served

    def evict(self, namespace: str, pod: str) -> bool:
        self.calls.append(("create", "Eviction", pod))
        self._refuse("create", "Eviction")
        ref = Ref("Pod", namespace, pod)
        live = self.objects.get(ref)
        if live is None:
            return False
        labels = live["metadata"].get("labels") or {}
        budgets = [
            b
            for b in self._select("PodDisruptionBudget", namespace)
            if ((b.get("spec") or {}).get("selector") or {}).get("matchLabels", {}).items()
            <= labels.items()
        ]
        if len(budgets) > 1:
            raise KubeError(
                500,
                "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                "does not support.",
            )
        for budget in budgets:
            selector = ",".join(
                f"{k}={v}" for k, v in budget["spec"]["selector"]["matchLabels"].items()
            )
            pods = self._select("Pod", namespace, selector)
            healthy = sum(_ready(p) for p in pods)
            desired = _desired(budget, len(pods))
            if healthy - desired <= 0 and (_ready(live) or healthy < desired):
                name = budget["metadata"]["name"]
                raise KubeError(
                    429,
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    [
                        {
                            "reason": "DisruptionBudget",
                            "message": f"The disruption budget {name} needs {desired} healthy "
                            f"pods and has {healthy} currently",
                        }
                    ],
                )
        self._remove_object(ref, "Background")
        return True

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _modified(ref: Ref) -> str:
        return (
            f'Operation cannot be fulfilled on {_plural(ref.kind)} "{ref.name}": the object has '
            "been modified; please apply your changes to the latest version and try again"
        )

    def _namespace(self, namespace: str) -> None:
        if namespace not in self.namespaces:
            raise KubeError(404, f'namespaces "{namespace}" not found')

    def _select(self, kind: str, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        wanted = dict(p.split("=", 1) for p in selector.split(",") if p)
        # a snapshot: a waiter's thread (follow.py) lists while the deploy's thread writes
        return [
            o
            for r, o in list(self.objects.items())
            if r.kind == kind
            and namespace in ("", r.namespace)  # '': every namespace
            and wanted.items() <= (o["metadata"].get("labels") or {}).items()
        ]

    def _update(
        self, ref: Ref, before: dict[str, Any] | None, after: dict[str, Any], manager: str
    ) -> None:
        """An Update (create, replace, a controller's write): `manager` takes every field it
        changes or removes from whoever owned it."""
        old, new = fields(before), fields(after)
        changed = {p for p, v in new.items() if old.get(p, _MISSING) != v}
        removed = set(old) - set(new)
        owners = self.owners.setdefault(ref, {})
        for paths in owners.values():
            paths -= {p for p in paths if any(_related(p, c) for c in changed | removed)}
        mine = owners.setdefault((manager, "Update"), set())
        mine |= changed
        mine -= removed

    def _managed_fields(self, ref: Ref, obj: dict[str, Any]) -> list[dict[str, Any]]:
        owners = {o: ps for o, ps in self.owners.get(ref, {}).items() if ps}
        self.owners[ref] = owners
        return _render(owners, obj.get("apiVersion", ""))

    def _remove_object(self, ref: Ref, propagation: str) -> None:
        live = self.objects.pop(ref)
        self.owners.pop(ref, None)
        uid = live["metadata"]["uid"]
        for other in list(self.objects.values()):
            owners = other["metadata"].get("ownerReferences") or []
            if any(o.get("uid") == uid for o in owners):
                if propagation == "Orphan":
                    other["metadata"]["ownerReferences"] = [o for o in owners if o["uid"] != uid]
                else:
                    del self.objects[Ref.of(other)]

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
        if ref.kind not in UNVERSIONED:
            generation = (live or {}).get("metadata", {}).get("generation", 0)
            if live is None or live.get("spec") != obj.get("spec"):
                generation += 1
            meta["generation"] = generation
        if store:
            self.version += 1
            meta["resourceVersion"] = str(self.version)
        elif live is not None:  # a dry-run writes nothing: the version stays the live one's
            meta["resourceVersion"] = live["metadata"]["resourceVersion"]
        else:
            meta.pop("resourceVersion", None)
        return obj

    def _store(self, ref: Ref, obj: dict[str, Any]) -> dict[str, Any]:
        obj = self._versioned(ref, obj, store=True)
        obj["metadata"]["managedFields"] = self._managed_fields(ref, obj)
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
                "spec": copy.deepcopy(spec["template"]["spec"]),
                "status": {
                    "phase": "Running",
                    "containerStatuses": [
                        {
                            "name": c["name"],
                            "restartCount": 3,
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                        }
                        for c in spec["template"]["spec"]["containers"]
                    ],
                },
            }
            for obj in (rs, pod):
                self._store(Ref.of(obj), obj)
            for c in spec["template"]["spec"]["containers"]:
                self.set_log(meta["namespace"], pod["metadata"]["name"], c["name"], "", CRASH_LOG)
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
            self._update(ref, secret, body, "controller")
            stored = self._versioned(ref, body, store=True)
            stored["metadata"]["managedFields"] = self._managed_fields(ref, stored)
            self.objects[ref] = stored
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


__all__ = [
    "CRASH_LOG",
    "MANAGED",
    "MANAGER",
    "METRICS",
    "SERVED",
    "UPDATER",
    "FakeCluster",
    "FakeStream",
    "by_image",
    "fields",
    "merge",
]
