"""What the release engine relies on a cluster to answer, checked on the fake and on kube-apiserver
alike (conftest.py): server-side apply per field manager and its conflicts, 404 and 409, the
Lease compare-and-swap of the deploy lock, pod logs, discovery, evictions and dry-runs."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref
from ansible_collections.exchange.platform.tests.contract.backends import Backend, b64


def secret(backend: Backend, name: str, data: dict[str, str] | None = None, **meta: Any):
    """A Secret of the test's namespace; `data` values in clear (encoded here)."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": backend.namespace, **meta},
    }
    if data is not None:
        body["data"] = {k: b64(v) for k, v in data.items()}
    return body


def clear(obj: dict[str, Any] | None) -> dict[str, str]:
    """A Secret's data, decoded."""
    data = (obj or {}).get("data") or {}
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def owned(obj: dict[str, Any], manager: str, operation: str = "Apply") -> dict[str, Any]:
    """The fields a manager owns (managedFields' fieldsV1), {} if none."""
    for entry in obj["metadata"].get("managedFields") or []:
        if entry["manager"] == manager and entry["operation"] == operation:
            return entry.get("fieldsV1") or {}
    return {}


def refused(call: Any, *args: Any, **kwargs: Any) -> KubeError:
    with pytest.raises(KubeError) as error:
        call(*args, **kwargs)
    return error.value


def test_apply_merges_per_field_manager_and_a_conflict_is_refused_unless_forced(
    backend: Backend,
) -> None:
    kube, ns = backend.client, backend.namespace

    def live() -> dict[str, Any]:
        found = kube.get("Secret", ns, "merged")
        assert found is not None
        return found

    kube.apply(
        secret(backend, "merged", {"a": "1", "shared": "s"}, labels={"one": "x"}), manager="one"
    )
    kube.apply(
        secret(backend, "merged", {"b": "2", "shared": "s"}, labels={"two": "y"}), manager="two"
    )
    assert clear(live()) == {"a": "1", "b": "2", "shared": "s"}  # the same value: no conflict
    assert live()["metadata"]["labels"] == {"one": "x", "two": "y"}
    assert set(owned(live(), "one")["f:data"]) - {"."} == {"f:a", "f:shared"}
    assert set(owned(live(), "two")["f:data"]) - {"."} == {"f:b", "f:shared"}

    # "one" stops applying a (its alone: it goes) and shared ("two" still applies it: it stays)
    kube.apply(secret(backend, "merged", labels={"one": "x"}), manager="one")
    assert clear(live()) == {"b": "2", "shared": "s"}

    # another value for a field "two" owns: refused, naming the owner and the field
    conflict = refused(
        kube.apply,
        secret(backend, "merged", {"b": "3"}, labels={"one": "x"}),
        manager="one",
        force=False,
    )
    assert conflict.status == 409
    assert conflict.message == 'Apply failed with 1 conflict: conflict with "two": .data.b'
    assert conflict.causes == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "two"', "field": ".data.b"}
    ]
    assert clear(live())["b"] == "2"
    # a dry-run is refused the same way, and a conflict leaves everything as it was
    assert (
        refused(
            kube.apply,
            secret(backend, "merged", {"b": "3"}, labels={"one": "x"}),
            dry_run=True,
            manager="one",
            force=False,
        ).status
        == 409
    )

    # forced: the field changes hands, so when "one" drops it, nobody owns it and it goes
    kube.apply(secret(backend, "merged", {"b": "3"}, labels={"one": "x"}), manager="one")
    assert clear(live())["b"] == "3"
    assert "f:b" not in owned(live(), "two").get("f:data", {})
    kube.apply(secret(backend, "merged", labels={"one": "x"}), manager="one")
    assert clear(live()) == {"shared": "s"}

    # the last owner of the labels drops them: the map goes with them
    kube.apply(secret(backend, "merged", {"shared": "s"}), manager="two")
    assert live()["metadata"]["labels"] == {"one": "x"}
    kube.apply(secret(backend, "merged"), manager="one")
    assert "labels" not in live()["metadata"]

    # a replace (an Update) takes the fields it changes: applying the old value conflicts
    changed = live()
    changed["data"]["shared"] = b64("t")
    kube.replace(changed)
    conflict = refused(
        kube.apply, secret(backend, "merged", {"shared": "s"}), manager="two", force=False
    )
    assert conflict.status == 409
    assert conflict.message == (  # the Python client's user agent names an Update's manager
        'Apply failed with 1 conflict: conflict with "OpenAPI-Generator" using v1: .data.shared'
    )
    kube.apply(secret(backend, "merged", {"shared": "s"}), manager="two")  # forced: taken back
    assert clear(live()) == {"shared": "s"}


def test_missing_objects_are_404_and_stale_writes_409(backend: Backend) -> None:
    kube, ns = backend.client, backend.namespace
    assert kube.get("Secret", ns, "nobody") is None
    assert kube.delete(Ref("Secret", ns, "nobody")) is False
    assert refused(kube.replace, secret(backend, "nobody", {"a": "1"})).status == 404
    elsewhere = secret(backend, "lost", {"a": "1"})
    elsewhere["metadata"]["namespace"] = backend.missing_namespace
    missing = refused(kube.create, elsewhere)
    assert missing.status == 404
    assert missing.message == f'namespaces "{backend.missing_namespace}" not found'
    assert refused(kube.apply, elsewhere).status == 404

    first = kube.create(secret(backend, "once", {"a": "1"}))
    again = refused(kube.create, secret(backend, "once", {"a": "2"}))
    assert again.status == 409 and again.message == 'secrets "once" already exists'

    newer = kube.replace(dict(first, data={"a": b64("2")}))
    assert newer["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]
    stale = refused(kube.replace, dict(first, data={"a": b64("3")}))
    assert stale.status == 409 and "the object has been modified" in stale.message
    # without a resourceVersion a replace is unconditional
    unconditional = dict(first, data={"a": b64("4")})
    unconditional["metadata"] = {
        k: v for k, v in first["metadata"].items() if k != "resourceVersion"
    }
    assert clear(kube.replace(unconditional)) == {"a": "4"}

    current = kube.get("Secret", ns, "once")
    assert current is not None
    old, now = first["metadata"]["resourceVersion"], current["metadata"]["resourceVersion"]
    stale_delete = refused(kube.delete, Ref("Secret", ns, "once"), precondition_rv=old)
    assert stale_delete.status == 409
    assert stale_delete.message == (
        f'Operation cannot be fulfilled on Secret "once": the ResourceVersion in the precondition '
        f"({old}) does not match the ResourceVersion in record ({now}). The object might have "
        "been modified"
    )
    assert kube.delete(
        Ref("Secret", ns, "once"), precondition_rv=current["metadata"]["resourceVersion"]
    )
    assert kube.get("Secret", ns, "once") is None


def test_an_apply_carrying_a_resource_version_is_refused_when_it_is_stale(
    backend: Backend,
) -> None:
    """The canary writes its route weights so (canary_route.py): never over a newer route."""
    kube, ns = backend.client, backend.namespace
    first = kube.apply(secret(backend, "versioned", {"a": "1"}), manager="one")
    body = secret(backend, "versioned", {"a": "2"})
    body["metadata"]["resourceVersion"] = first["metadata"]["resourceVersion"]
    second = kube.apply(body, manager="two")
    assert clear(second) == {"a": "2"}
    body = secret(backend, "versioned", {"a": "3"})
    body["metadata"]["resourceVersion"] = first["metadata"]["resourceVersion"]
    stale = refused(kube.apply, body, manager="two")
    assert stale.status == 409 and "the object has been modified" in stale.message
    assert clear(kube.get("Secret", ns, "versioned")) == {"a": "2"}


def test_a_lease_is_a_compare_and_swap_on_its_resource_version(backend: Backend) -> None:
    kube, ns = backend.client, backend.namespace
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "lock", "namespace": ns},
        "spec": {"holderIdentity": "first", "leaseDurationSeconds": 30},
    }
    created = kube.create(lease)
    taken = refused(kube.create, lease)
    assert taken.status == 409
    assert taken.message == 'leases.coordination.k8s.io "lock" already exists'
    read_by_a = kube.get("Lease", ns, "lock")
    read_by_b = kube.get("Lease", ns, "lock")
    assert read_by_a is not None and read_by_b is not None
    assert read_by_a["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    read_by_a["spec"]["holderIdentity"] = "a"
    won = kube.replace(read_by_a)  # the version last read: a wins
    read_by_b["spec"]["holderIdentity"] = "b"
    lost = refused(kube.replace, read_by_b)  # the same, now old, version: b loses
    assert lost.status == 409
    held = kube.get("Lease", ns, "lock")
    assert held is not None and held["spec"]["holderIdentity"] == "a"
    assert held["metadata"]["resourceVersion"] == won["metadata"]["resourceVersion"]

    # released only by who holds the version read: b's delete is refused too
    old = read_by_b["metadata"]["resourceVersion"]
    assert refused(kube.delete, Ref("Lease", ns, "lock"), precondition_rv=old).status == 409
    assert kube.delete(Ref("Lease", ns, "lock"), precondition_rv=won["metadata"]["resourceVersion"])
    assert kube.get("Lease", ns, "lock") is None


def test_pod_logs_per_container_with_the_line_limit_and_the_previous_instance(
    backend: Backend,
) -> None:
    kube, ns = backend.client, backend.namespace
    current = "\n".join(f"line {n}" for n in range(1, 6))
    backend.run_pod(
        "logger",
        {"app": "logger"},
        {"app": (current, "panic: cannot reach redis\nexit 1"), "sidecar": ("sidecar up", None)},
    )
    assert kube.log(ns, "logger", "app", 2, False) == "line 4\nline 5\n"
    assert kube.log(ns, "logger", "app", 50, False) == current + "\n"
    assert kube.log(ns, "logger", "app", 1, True) == "exit 1\n"
    assert kube.log(ns, "logger", "app", 50, True) == "panic: cannot reach redis\nexit 1\n"
    assert kube.log(ns, "logger", "sidecar", 50, False) == "sidecar up\n"
    # a container with no previous instance, one the pod does not have, a pod that is not there
    assert refused(kube.log, ns, "logger", "sidecar", 50, True).status == 400
    unknown = refused(kube.log, ns, "logger", "nope", 50, False)
    assert unknown.status == 400 and "nope" in unknown.message
    assert refused(kube.log, ns, "nobody", "app", 50, False).status == 404


def test_discovery_says_which_group_versions_are_served(backend: Backend) -> None:
    kube = backend.client
    assert kube.serves("v1")
    assert kube.serves("apps/v1")
    assert kube.serves("coordination.k8s.io/v1")
    assert kube.serves("metrics.k8s.io/v1beta1")  # metrics-server runs on the kwok tier
    assert not kube.serves("apps/v1beta9")
    assert not kube.serves("nothing.example.com/v1")


def test_eviction_is_allowed_refused_by_a_budget_or_finds_nothing(backend: Backend) -> None:
    kube, ns = backend.client, backend.namespace
    for name in ("guarded-1", "guarded-2"):
        backend.run_pod(name, {"app": "guarded"})
    backend.run_pod("free", {"app": "free"})

    def budget(min_available: int) -> dict[str, Any]:
        return {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "budget", "namespace": ns},
            "spec": {
                "minAvailable": min_available,
                "selector": {"matchLabels": {"app": "guarded"}},
            },
        }

    kube.apply(budget(2))
    backend.settle("budget", allowed=0)
    no = refused(kube.evict, ns, "guarded-1")
    assert no.status == 429
    assert no.message == "Cannot evict pod as it would violate the pod's disruption budget."
    assert [c["message"] for c in no.causes] == [
        "The disruption budget budget needs 2 healthy pods and has 2 currently"
    ]
    assert kube.get("Pod", ns, "guarded-1") is not None

    assert kube.evict(ns, "free") is True  # no budget selects it
    gone = kube.get("Pod", ns, "free")
    assert gone is None or gone["metadata"].get("deletionTimestamp")
    assert kube.evict(ns, "nobody") is False

    kube.apply(budget(1))
    backend.settle("budget", allowed=1)
    assert kube.evict(ns, "guarded-1") is True
    # the eviction itself used the one disruption allowed: the next is refused at once
    assert refused(kube.evict, ns, "guarded-2").status == 429


def test_a_dry_run_leaves_nothing_behind(backend: Backend) -> None:
    kube, ns = backend.client, backend.namespace
    labels = {"contract": "dry-run"}
    would = kube.apply(secret(backend, "dry", {"a": "1"}, labels=labels), dry_run=True)
    assert clear(would) == {"a": "1"} and would["metadata"]["labels"] == labels
    assert "resourceVersion" not in would["metadata"]  # never stored: no version
    assert kube.get("Secret", ns, "dry") is None
    assert kube.list("Secret", ns, "contract=dry-run") == []

    stored = kube.apply(secret(backend, "dry", {"a": "1"}, labels=labels))
    would = kube.apply(secret(backend, "dry", {"a": "2"}, labels=labels), dry_run=True)
    assert clear(would) == {"a": "2"}
    assert would["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    after = kube.get("Secret", ns, "dry")
    assert after is not None and clear(after) == {"a": "1"}
    assert after["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


def test_a_list_of_every_namespace_has_the_namespace_s_objects_by_label(backend: Backend) -> None:
    """drift.Live: one list of a kind across namespaces ('') instead of a read per object; its
    items name their namespace and carry neither kind nor apiVersion."""
    kube, ns = backend.client, backend.namespace
    label = f"contract-all-{ns}"
    kube.apply(secret(backend, "listed", {"a": "1"}, labels={label: "yes"}))
    kube.apply(secret(backend, "unlisted", {"a": "1"}, labels={label: "no"}))
    items = kube.list("Secret", "", f"{label}=yes")
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in items] == [(ns, "listed")]
    assert clear(items[0]) == {"a": "1"}
