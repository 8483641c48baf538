"""The fake's own promise, beside the contract: every `Client` request it answers is in `calls`,
as (verb, kind, name), whatever the answer, so a unit test can count what the engine asked."""

from __future__ import annotations

import inspect

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.client import (
    Client,
    KubeError,
    Ref,
)
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fake_cluster import (
    FakeCluster,
)


def test_every_request_of_the_client_protocol_is_recorded() -> None:
    kube = FakeCluster()
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l", "namespace": "ns"},
        "spec": {"holderIdentity": "a"},
    }
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    kube.put(pod)
    kube.calls.clear()

    created = kube.create(lease)
    kube.replace(created)
    kube.apply(lease, manager="m")
    kube.apply(lease, dry_run=True)
    kube.get("Lease", "ns", "l")
    kube.list("Lease", "ns", "a=b")
    kube.watch("Lease", "ns", "a=b", 5).close()
    kube.log("ns", "p", "c", 10, False)
    with pytest.raises(KubeError):
        kube.log("ns", "p", "c", 10, True)  # refused: still recorded
    kube.whoami()
    kube.serves("apps/v1")
    kube.evict("ns", "nobody")
    kube.evict("ns", "p")
    kube.delete(Ref("Lease", "ns", "l"))

    # (verb, kind, name) per request, in order; the watch's first events are a list
    assert [" ".join(call).strip() for call in kube.calls] == [
        "create Lease l", "replace Lease l", "apply:m Lease l", "dry-run Lease l",
        "get Lease l", "list Lease a=b", "watch Lease a=b", "list Lease", "log Pod p", "log Pod p",
        "create SelfSubjectReview", "get APIResourceList apps/v1", "create Eviction nobody",
        "create Eviction p", "delete:Background Lease l",
    ]  # fmt: skip
    functions = inspect.getmembers(Client, inspect.isfunction)
    requests = {name for name, function in functions if not name.startswith("_")}
    recorded = "apply create delete evict get list log replace serves watch whoami"
    assert requests == set(recorded.split()), "a new Client request: record it and add it here"


def test_metrics_still_switches_the_metrics_api() -> None:
    kube = FakeCluster()
    assert kube.metrics and kube.serves("metrics.k8s.io/v1beta1")
    kube.metrics = False
    assert not kube.serves("metrics.k8s.io/v1beta1") and kube.serves("apps/v1")
    kube.served.add("bitnami.com/v1alpha1")
    assert kube.serves("bitnami.com/v1alpha1")
