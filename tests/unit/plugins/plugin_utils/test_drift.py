"""The drift action (state diff, playbooks/diff.yml): live fields against the last deployed
revision, over the in-memory cluster."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.drift import (
    HIDDEN,
    _show,
    differences,
)
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import spec
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.test_actions import (
    DEPLOYMENT,
    NAME,
    World,
    writes,
)

HEAD = f"{NAME} in namespace ns"


@pytest.fixture
def world() -> World:
    return World()


def hand_edit(w: World, image: str) -> None:
    """kubectl edit of the Deployment's image: an Update by another manager."""
    edited = copy.deepcopy(w.live(DEPLOYMENT))
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = image
    del edited["metadata"]["managedFields"]
    w.kube.put(edited, manager="kubectl-edit")


def test_a_release_nobody_touched_has_no_drift_and_nothing_is_written(world: World) -> None:
    world.existing()
    assert not world.run().failed
    world.kube.calls.clear()
    rel = world.run(state="diff")
    assert not rel.failed and not rel.changed, rel.msg
    assert rel.msg == f"{HEAD}: no drift from revision 1"
    assert rel.revision == 1  # the revision compared against: the fleet summary's clean mark
    assert [c for c in writes(world.kube) if c[1] != "Lease"] == []


def test_a_hand_edit_is_reported_field_by_field_as_changed(world: World) -> None:
    world.existing()
    world.run()
    hand_edit(world, "router:hand")
    world.kube.calls.clear()
    rel = world.run(state="diff")
    assert rel.changed and not rel.failed
    assert rel.msg.splitlines() == [
        f"{HEAD}: 1 field drifted from revision 1",
        f'  {DEPLOYMENT} spec.template.spec.containers[0].image: "router:v1" -> "router:hand" live',
    ]
    assert world.image() == "router:hand"  # reported, never reverted
    assert [c for c in writes(world.kube) if c[1] != "Lease"] == []


def test_what_the_hpa_scales_is_not_drift_and_a_deleted_object_is(world: World) -> None:
    world.existing()
    world.run()
    world.kube.scale("ns", DEPLOYMENT.name, 2)  # the HPA's doing, not drift
    assert not world.run(state="diff").changed
    hpa = next(r for r in world.kube.objects if r.kind == "HorizontalPodAutoscaler")
    del world.kube.objects[hpa]
    rel = world.run(state="diff")
    assert rel.changed
    assert rel.msg.splitlines()[1] == f"  {hpa}: gone (revision 1 has it)"


def test_a_fleet_reports_each_release_one_without_history_included() -> None:
    w = World(namespaces=("ns", "other"))
    w.existing()
    w.run()
    hand_edit(w, "router:hand")
    results = w.run_all([spec(state="diff"), spec("h2", namespace="other", state="diff")])
    assert results["localhost"].changed
    assert results["localhost"].msg.startswith(f"{HEAD}: 1 field drifted")
    other = results["h2"]
    assert not other.failed and not other.changed and other.revision is None
    assert other.msg == (
        f"{NAME} in namespace other: no deployed revision in its history (never deployed there, "
        "or the namespace is gone): nothing to compare"
    )


def fleet_of_two() -> World:
    """Two deployed releases, in ns and other, the first with a hand edit."""
    w = World(namespaces=("ns", "other"))
    w.existing()
    given = copy.deepcopy(w.kube.objects[Ref("Secret", "ns", "exchange-router-secret")])
    given["metadata"] = {"name": "exchange-router-secret", "namespace": "other"}
    w.kube.put(given)
    w.run_all([spec(), spec("h2", namespace="other")])
    hand_edit(w, "router:hand")
    w.kube.calls.clear()
    return w


def drift_of_two(w: World) -> list[str]:
    """The batch's drift: the hand edit reported in ns; other's lines."""
    results = w.run_all([spec(state="diff"), spec("h2", namespace="other", state="diff")])
    assert results["localhost"].changed and not results["localhost"].failed
    assert results["localhost"].msg.splitlines()[1].startswith(f"  {DEPLOYMENT} spec.template")
    assert not results["h2"].failed, results["h2"].msg
    return results["h2"].msg.splitlines()


def test_a_batch_lists_each_kind_once_instead_of_reading_each_object() -> None:
    w = fleet_of_two()
    assert drift_of_two(w) == [f"{NAME} in namespace other: no drift from revision 1"]
    lists = sorted(c for c in w.kube.calls if c[0] == "list")
    assert lists == [
        ("list", kind, "app.kubernetes.io/managed-by=exchange.platform")
        for kind in ("Deployment", "HorizontalPodAutoscaler", "Service")
    ]
    assert not [c for c in w.kube.calls if c[0] == "get" and c[1] != "Secret"]


def test_a_refused_list_and_an_object_the_list_lacks_are_read_one_by_one() -> None:
    w = fleet_of_two()
    w.kube.refusals["list", "Service"] = KubeError(403, "services is forbidden")
    del w.kube.objects[Ref("HorizontalPodAutoscaler", "other", f"{NAME}-hpa")]["metadata"][
        "labels"
    ]["app.kubernetes.io/managed-by"]  # a label edited away: not listed, still there
    hpa = f"HorizontalPodAutoscaler other/{NAME}-hpa"
    assert drift_of_two(w)[1:] == [
        f'  {hpa} metadata.labels.app.kubernetes.io/managed-by: "exchange.platform" -> (none) live'
    ]
    reads = sorted(c[1:] for c in w.kube.calls if c[0] == "get" and c[1] != "Secret")
    assert reads == [
        ("HorizontalPodAutoscaler", f"{NAME}-hpa"),
        ("Service", f"{NAME}-service"),
        ("Service", f"{NAME}-service"),
    ]


def test_differences_walk_maps_and_lists_and_skip_what_the_server_owns() -> None:
    wanted = {"spec": {"a": [1, {"b": 2}], "c": [1]}, "status": {"x": 1}}
    live = {"spec": {"a": [1, {"b": 3}], "c": [1, 2]}, "status": {"x": 2}}
    assert differences(wanted, live, {"status"}) == [
        ("spec.a[1].b", 2, 3),
        ("spec.c", [1], [1, 2]),
    ]


def test_values_are_shown_short_and_secret_values_never() -> None:
    assert _show(None, False) == "(none)"
    assert _show("s3cret", True) == HIDDEN
    long = _show("x" * 100, False)
    assert len(long) == 60 and long.endswith("...")
