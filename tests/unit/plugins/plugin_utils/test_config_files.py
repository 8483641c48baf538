"""The release's ConfigMap (exchange_router_config_files) as a full member of the release over
the in-memory cluster: dry-run, install, a change that rolls the pods, prune, rollback,
uninstall, and the rules on its variables."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import rules
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import P, role_defaults
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.test_actions import (
    DEPLOYMENT,
    NAME,
    World,
    writes,
)

CONFIG = Ref("ConfigMap", "ns", f"{NAME}-config")
CHECKSUM = "exchange.platform/config-checksum"
FILES = {"app.yaml": "level: info\n"}


@pytest.fixture
def world() -> World:
    world = World()
    world.existing()
    return world


def pod(world: World) -> dict[str, Any]:
    return world.live(DEPLOYMENT)["spec"]["template"]  # type: ignore[index]


def checksum(world: World) -> str | None:
    return (pod(world)["metadata"].get("annotations") or {}).get(CHECKSUM)


def test_a_dry_run_shows_the_config_map_and_writes_nothing(world: World) -> None:
    world.kube.calls.clear()
    rel = world.run(check=True, config_files=FILES)
    assert rel.changed and f"{CONFIG} (after apply)" in [d["after_header"] for d in rel.diff]
    assert ("dry-run", "ConfigMap", CONFIG.name) in world.kube.calls
    assert writes(world.kube) == [] and world.history() == []


def test_the_files_are_installed_mounted_read_only_and_recorded(world: World) -> None:
    rel = world.run(config_files=FILES, config_mount_path="/etc/router")
    assert not rel.failed, rel.msg
    assert world.live(CONFIG)["data"] == FILES  # type: ignore[index]
    spec = pod(world)["spec"]
    assert spec["volumes"] == [{"name": "config", "configMap": {"name": CONFIG.name}}]
    mounts = spec["containers"][0]["volumeMounts"]
    assert mounts == [{"name": "config", "mountPath": "/etc/router", "readOnly": True}]
    assert checksum(world)
    (record,) = world.history()
    assert "ConfigMap" in [o["kind"] for o in record["objects"]]


def test_a_changed_file_rolls_the_pods_and_an_unchanged_one_does_not(world: World) -> None:
    world.run(config_files=FILES)
    first = checksum(world)
    world.kube.calls.clear()
    assert not world.run(config_files=FILES).changed
    rel = world.run(config_files={"app.yaml": "level: debug\n"})
    assert not rel.failed and rel.revision == 2, rel.msg
    assert world.live(CONFIG)["data"] == {"app.yaml": "level: debug\n"}  # type: ignore[index]
    assert checksum(world) not in (None, first)
    applied = world.kube.verbs("apply:exchange.platform")
    assert applied == [CONFIG.name, DEPLOYMENT.name]  # the files first, then the pods


def test_files_turned_off_prune_the_config_map_and_its_mount(world: World) -> None:
    world.run(config_files=FILES)
    rel = world.run(config_files={})
    assert not rel.failed and rel.changed, rel.msg
    assert world.live(CONFIG) is None
    assert "volumes" not in pod(world)["spec"] and checksum(world) is None
    assert "volumeMounts" not in pod(world)["spec"]["containers"][0]


def test_a_rollback_restores_the_files_and_their_checksum(world: World) -> None:
    world.run(config_files=FILES)
    first = checksum(world)
    world.run(config_files={"other.conf": "x"})
    rel = world.run(state="rollback", rollback_revision=1)
    assert not rel.failed, rel.msg
    assert world.live(CONFIG)["data"] == FILES  # type: ignore[index]
    assert checksum(world) == first
    world.run(config_files={})
    world.run(state="rollback", rollback_revision=1)  # back from none to the files
    assert world.live(CONFIG)["data"] == FILES  # type: ignore[index]


def test_uninstall_removes_the_config_map(world: World) -> None:
    world.run(config_files=FILES)
    rel = world.run(state="absent")
    assert rel.changed and world.live(CONFIG) is None and world.live(DEPLOYMENT) is None


def test_removal_without_history_finds_the_config_map_by_name(world: World) -> None:
    world.run(config_files=FILES)
    world.stores["ns"].records = None  # the history Secret deleted by hand
    rel = world.run(state="absent")
    assert rel.changed and world.live(CONFIG) is None


def v(**given: Any) -> dict[str, Any]:
    return {**role_defaults(), **{P + k: value for k, value in given.items()}}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"config_files": {"conf/app.yaml": "x"}},
            'exchange_router_config_files: "conf/app.yaml" is not a ConfigMap key',
        ),
        ({"config_files": {"..data": "x"}}, 'exchange_router_config_files: "..data" is not'),
        (
            {"config_files": {"port": 8080}},
            "exchange_router_config_files.port: 8080 is not a string",
        ),
        (
            {"config_files": FILES, "config_mount_path": "etc/router"},
            'exchange_router_config_mount_path: "etc/router" is not an absolute path',
        ),
        (
            {"config_files": FILES, "config_mount_path": "/"},
            'exchange_router_config_mount_path: "/" is not an absolute path',
        ),
    ],
    ids=["a path", "a dotted key", "not text", "a relative mount path", "the root"],
)
def test_bad_files_name_the_variable_and_the_value(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="exchange_router_config") as error:
        rules.check(v(**given))
    assert message in str(error.value)


def test_good_files_pass_and_the_mount_path_matters_only_with_files() -> None:
    rules.check(v(config_files={"app.yaml": "x", ".hidden": "y", "a-b_c.1": ""}))
    rules.check(v(config_mount_path="relative"))
