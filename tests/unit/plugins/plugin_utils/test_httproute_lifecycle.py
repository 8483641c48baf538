"""An HTTPRoute is a member of the release like every other kind (issue 24: no test removed or
pruned one): a revision without it deletes it, a rollback to one with it brings it back, and
removal (with or without a history) deletes it. Over the in-memory cluster, with a Gateway that
accepts every route."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.client import Ref
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import MemoryStore
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.test_actions import (
    NAME,
    ROUTE,
    World,
)

ROUTE_REF = Ref("HTTPRoute", "ns", f"{NAME}-route")


def accepting_gateway(obj: dict[str, Any]) -> None:
    if obj["kind"] == "HTTPRoute":
        accepted = [{"type": kind, "status": "True"} for kind in ("Accepted", "ResolvedRefs")]
        obj["status"] = {"parents": [{"parentRef": {"name": "gw"}, "conditions": accepted}]}


@pytest.fixture
def world() -> World:
    world = World()
    world.existing()
    world.kube.controllers.append(accepting_gateway)
    return world


def test_a_revision_without_the_route_deletes_it_and_a_rollback_brings_it_back(
    world: World,
) -> None:
    assert not world.run(httproute=ROUTE).failed
    assert world.live(ROUTE_REF) is not None
    dropped = world.run()
    assert not dropped.failed and dropped.changed, dropped.msg
    assert world.live(ROUTE_REF) is None
    assert ("delete:Background", "HTTPRoute", ROUTE_REF.name) in world.kube.calls
    back = world.run(state="rollback", rollback_revision=1)
    assert not back.failed, back.msg
    assert world.live(ROUTE_REF) is not None


@pytest.mark.parametrize("history", [True, False], ids=["by-history", "without-history"])
def test_removal_deletes_the_route(world: World, history: bool) -> None:
    assert not world.run(httproute=ROUTE).failed
    if not history:
        world.stores["ns"] = MemoryStore()  # the history Secret deleted by hand
    removed = world.run(state="absent")
    assert not removed.failed and removed.changed, removed.msg
    assert world.live(ROUTE_REF) is None
