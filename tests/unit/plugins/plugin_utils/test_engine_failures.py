"""The engine when the cluster says no mid-way, over the in-memory cluster: a rollback target the
API server now rejects, a rollback that fails after a failed rollout, a read, an apply, a removal
or a history write refused, the deploy lock lost to another run, and a Deployment found short of
replicas. Each fails its release with the cluster's own words, and nothing this run did not
change is rolled back."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import engine, lock, revision
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.configuration import Configuration
from ansible_collections.exchange.platform.plugins.plugin_utils.store import Revision
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Sleep, Waiter
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import (
    FakeCluster,
    MemoryStore,
)
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.test_actions import (
    DEPLOYMENT,
    World,
    plain,
    writes,
)


@pytest.fixture
def world() -> World:
    world = World()
    world.existing()
    return world


def refuse_image(image: str) -> Any:
    """An admission rule of the cluster: Deployments running `image` are refused."""

    def deny(obj: dict[str, Any], dry_run: bool) -> KubeError | None:
        if obj["kind"] != "Deployment":
            return None
        if obj["spec"]["template"]["spec"]["containers"][0]["image"] == image:
            return KubeError(422, f"image {image} is no longer allowed")
        return None

    return deny


def test_a_rollback_target_the_api_server_now_rejects_writes_nothing(world: World) -> None:
    world.run()
    world.run(image="router:v2")
    world.kube.denials.append(refuse_image("router:v1"))
    world.kube.calls.clear()
    rel = world.run(state="rollback", rollback_revision=1)
    assert rel.failed
    assert "The API server would reject the release; nothing was written" in rel.msg
    assert "image router:v1 is no longer allowed" in rel.msg
    assert [c for c in writes(world.kube) if c[1] != "Lease"] == []
    assert world.image() == "router:v2" and len(world.history()) == 2


def test_a_failed_rollout_whose_rollback_is_rejected_says_both(world: World) -> None:
    world.run()
    world.kube.denials.append(refuse_image("router:v1"))
    rel = world.run(image="router:crash")
    assert rel.failed and "CrashLoopBackOff" in rel.msg
    assert "Rolling back to revision 1 failed: The API server would reject the release" in (rel.msg)
    assert world.image() == "router:crash"  # left as it failed, for diagnosis
    # revision 1 stays the last deployed one, as helm leaves it when an upgrade fails
    assert [r["status"] for r in world.history()] == ["deployed", "failed"]


def test_a_rollback_the_cluster_breaks_off_is_reported_with_its_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.run()
    plans = 0
    real_candidate = revision.candidate

    def candidate(*args: Any, **kwargs: Any) -> Any:
        nonlocal plans
        plans += 1
        if plans == 2:  # the rollback's candidate, after the failed rollout's
            raise KubeError(500, "etcdserver: request timed out")
        return real_candidate(*args, **kwargs)

    monkeypatch.setattr(revision, "candidate", candidate)
    rel = world.run(image="router:crash")
    assert "Rolling back to revision 1 failed: 500 etcdserver: request timed out" in (rel.msg)


def test_a_read_the_deployer_may_not_make_fails_the_release_before_any_write() -> None:
    world = World()
    world.existing()
    world.kube.refusals["get", "Deployment"] = KubeError(
        403, 'deployments "exchange-router-deployment" is forbidden'
    )
    rel = world.run()
    assert rel.failed
    assert rel.msg == '403 deployments "exchange-router-deployment" is forbidden'
    assert [c for c in writes(world.kube) if c[1] != "Lease"] == []


def test_a_removal_the_deployer_may_not_make_fails_the_release_with_the_reason() -> None:
    world = World()
    world.existing()
    world.run()
    world.kube.refusals["delete", "Service"] = KubeError(
        403, 'services "exchange-router-service" is forbidden'
    )
    rel = world.run(state="absent")
    assert rel.failed
    assert '403 services "exchange-router-service" is forbidden' in rel.msg


def test_an_apply_the_cluster_refuses_fails_the_release_with_the_module_s_words(
    world: World,
) -> None:
    world.run()

    def deny(obj: dict[str, Any], dry_run: bool) -> KubeError | None:
        return None if dry_run else KubeError(403, "admission webhook denied the request")

    world.kube.denials.append(deny)
    rel = world.run(image="router:v2")
    assert rel.failed
    assert "kubernetes.core.k8s could not apply the release: 403 admission webhook" in (rel.msg)
    assert world.image() == "router:v1"


class BrokenStore(MemoryStore):
    def save(self, records: list[Revision]) -> None:
        raise KubeError(500, "etcdserver: leader changed")


def test_a_history_that_cannot_be_written_fails_the_release_with_the_reason(
    world: World,
) -> None:
    world.stores["ns"] = BrokenStore()
    rel = world.run()
    assert rel.failed and "500 etcdserver: leader changed" in rel.msg


def short_of_replicas(world: World) -> None:
    """The cluster loses a pod of the rolled-out Deployment (a node drained, say)."""
    status = world.kube.objects[DEPLOYMENT]["status"]
    status["availableReplicas"] = max(status["replicas"] - 1, 0)


def test_a_no_op_says_when_its_deployment_is_short_of_replicas_and_changes_nothing(
    world: World,
) -> None:
    world.run()
    short_of_replicas(world)
    world.kube.calls.clear()
    rel = world.run()
    assert not rel.failed and not rel.changed
    (warning,) = rel.warnings
    assert warning.startswith(
        "Deployment ns/exchange-router-deployment is not fully rolled out (waiting for 0 of 1 "
        "updated replicas available); this run did not change its pod template, so nothing "
        "was rolled back:"
    )
    assert [c for c in writes(world.kube) if c[1] != "Lease"] == []
    quiet = world.run(wait=False)
    assert quiet.warnings == []


LOST = "lost the deploy lock ns/exchange-router-deploy-lock (409 conflict)"


@pytest.fixture
def leases(monkeypatch: pytest.MonkeyPatch) -> list[lock.Lease]:
    """The deploy locks the engine takes, so a test can have another run take one over."""
    taken: list[lock.Lease] = []
    real = engine._lease

    def lease(*args: Any) -> lock.Lease:
        taken.append(real(*args))
        return taken[-1]

    monkeypatch.setattr(engine, "_lease", lease)
    return taken


def test_a_lock_lost_during_the_apply_stops_before_the_rollout_is_followed(
    world: World, leases: list[lock.Lease]
) -> None:
    def taken_over(obj: dict[str, Any]) -> None:
        if obj["kind"] == "Deployment":
            leases[-1].lost = LOST

    world.kube.controllers.append(taken_over)
    rel = world.run()
    assert rel.failed and rel.msg == LOST
    assert world.history() == []


class Losing(Sleep):
    """A rollout wait during which another run takes the lock over."""

    def __init__(self, lease: lock.Lease) -> None:
        super().__init__(lambda seconds: None)
        self.lease = lease

    def mark(self) -> int:
        self.lease.lost = LOST
        return 0


def test_a_lock_lost_during_the_rollout_records_nothing_and_rolls_nothing_back(
    world: World, leases: list[lock.Lease], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.run()
    monkeypatch.setattr(Configuration, "pace", lambda cfg, ref: Losing(leases[-1]))
    rel = world.run(image="router:v2")
    assert rel.failed
    assert rel.msg == f"{LOST}; stopped without recording history or rolling back"
    assert len(world.history()) == 1 and world.image() == "router:v2"


def test_a_deploy_that_leaves_the_pod_template_alone_warns_about_a_short_deployment(
    world: World,
) -> None:
    world.run()
    short_of_replicas(world)
    rel = world.run(service_port=81, rollout_timeout=1)
    assert not rel.failed and rel.revision == 2
    (warning,) = rel.warnings
    assert "this run did not change its pod template, so nothing was rolled back" in warning


def test_a_check_of_a_release_in_a_missing_namespace_names_the_variable() -> None:
    world = World(namespaces=())
    rel = world.run(check=True, namespace="nowhere", **plain("x"))
    assert rel.failed
    assert 'exchange_router_namespace: namespaces "nowhere" not found' in rel.msg


class Finalized(FakeCluster):
    """Deletions are accepted, but a finalizer keeps the objects (as a stuck controller does)."""

    def delete(self, ref: Ref, propagation: str = "Background", precondition_rv: str = "") -> bool:
        self.calls.append((f"delete:{propagation}", ref.kind, ref.name))
        return ref in self.objects


def test_a_removal_whose_objects_linger_says_which_are_still_being_deleted() -> None:
    world = World()
    world.kube = Finalized()
    world.existing()
    world.run()
    clock = [0.0]
    world.waiter = Waiter(lambda: clock[0], lambda s: clock.__setitem__(0, clock[0] + s))
    rel = world.run(state="absent")
    assert not rel.failed and rel.msg == "Release exchange-router removed"
    (warning,) = rel.warnings
    assert warning == (
        "still being deleted: Service ns/exchange-router-service, Deployment "
        "ns/exchange-router-deployment, HorizontalPodAutoscaler ns/exchange-router-hpa"
    )
