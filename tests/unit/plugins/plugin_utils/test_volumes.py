"""The pods' volumes as Helm's scaffold has them (exchange_router_volumes and
exchange_router_volume_mounts): rendered after the release's files, each rejection of the API
server's dry-run naming the variable, and each mount checked to name a volume the pods have."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import rules
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import P, role_defaults
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import spec
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.test_actions import (
    DEPLOYMENT,
    World,
    writes,
)

FILES = {"app.yaml": "level: info\n"}
VOLUMES = [
    {"name": "scratch", "emptyDir": {}},
    {"name": "tls", "secret": {"secretName": "router-tls"}},
    {"name": "settings", "configMap": {"name": "shared-settings"}},
    {"name": "bundle", "projected": {"sources": [{"configMap": {"name": "ca"}}]}},
]
MOUNTS = [
    {"name": "scratch", "mountPath": "/scratch"},
    {"name": "tls", "mountPath": "/tls", "readOnly": True},
]


def pod_spec(**variables: Any) -> dict[str, Any]:
    (deployment,) = [o for o in spec(**variables).objects if o["kind"] == "Deployment"]
    return deployment["spec"]["template"]["spec"]


def test_the_volumes_and_mounts_follow_the_release_s_files() -> None:
    pod = pod_spec(config_files=FILES, volumes=VOLUMES, volume_mounts=MOUNTS)
    config = {"name": "config", "configMap": {"name": "exchange-router-config"}}
    assert pod["volumes"] == [config, *VOLUMES]
    config_mount = {"name": "config", "mountPath": "/etc/exchange-router", "readOnly": True}
    assert pod["containers"][0]["volumeMounts"] == [config_mount, *MOUNTS]


def test_volumes_alone_and_none_by_default() -> None:
    pod = pod_spec(volumes=VOLUMES[:1], volume_mounts=MOUNTS[:1])
    assert pod["volumes"] == VOLUMES[:1]
    assert pod["containers"][0]["volumeMounts"] == MOUNTS[:1]
    default = pod_spec()
    assert "volumes" not in default and "volumeMounts" not in default["containers"][0]


@pytest.mark.parametrize(
    ("field", "variable"),
    [
        ("spec.template.spec.volumes[0].secret.secretName", "exchange_router_volumes"),
        ("spec.template.spec.containers[0].volumeMounts[0].mountPath", P + "volume_mounts"),
    ],
)
def test_a_rejected_volume_or_mount_names_its_variable(field: str, variable: str) -> None:
    world = World()
    world.existing()

    def deny(obj: dict[str, Any], dry_run: bool) -> KubeError | None:
        if obj["kind"] == "Deployment":
            return KubeError(422, "invalid", [{"field": field, "message": "bad"}])
        return None

    world.kube.denials.append(deny)
    rel = world.run(volumes=VOLUMES[:2], volume_mounts=MOUNTS)
    assert rel.failed and f"{variable}: {DEPLOYMENT} {field}" in rel.msg, rel.msg
    assert [c for c in writes(world.kube) if c[1] != "Lease"] == []


def v(**given: Any) -> dict[str, Any]:
    return {**role_defaults(), **{P + k: value for k, value in given.items()}}


BAD = {
    "a mount of no volume": (
        {"volumes": VOLUMES[:1], "volume_mounts": [{"name": "tmp", "mountPath": "/tmp"}]},
        'exchange_router_volume_mounts[0].name: "tmp" names no volume of the pods '
        "(exchange_router_volumes and the release's files; they have: scratch)",
    ),
    "the files' volume without files": (
        {"volume_mounts": [{"name": "config", "mountPath": "/c"}]},
        'exchange_router_volume_mounts[0].name: "config" names no volume of the pods',
    ),
    "a relative mount path": (
        {"volumes": VOLUMES[:1], "volume_mounts": [{"name": "scratch", "mountPath": "tmp"}]},
        'exchange_router_volume_mounts[0].mountPath: "tmp" is not an absolute path',
    ),
    "a mount path taken by the files": (
        {
            "config_files": FILES,
            "volumes": VOLUMES[:1],
            "volume_mounts": [{"name": "scratch", "mountPath": "/etc/exchange-router"}],
        },
        'exchange_router_volume_mounts[0].mountPath: "/etc/exchange-router" is mounted already',
    ),
    "a mount that is no mapping": (
        {"volume_mounts": ["scratch"]},
        'exchange_router_volume_mounts[0]: "scratch" is not a mapping of name and mountPath',
    ),
    "a volume without a name": (
        {"volumes": [{"emptyDir": {}}]},
        'exchange_router_volumes[0]: {"emptyDir": {}} has no name that is a DNS-1123 label',
    ),
    "two volumes of one name": (
        {"volumes": [VOLUMES[0], VOLUMES[0]]},
        'exchange_router_volumes[1].name: "scratch" is taken by an earlier volume',
    ),
    "the files' volume name": (
        {"config_files": FILES, "volumes": [{"name": "config", "emptyDir": {}}]},
        'exchange_router_volumes[0].name: "config" is taken (the release\'s files, '
        "exchange_router_config_files)",
    ),
}


@pytest.mark.parametrize(("given", "message"), BAD.values(), ids=BAD.keys())
def test_bad_volumes_and_mounts_name_the_variable_and_the_value(
    given: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match="exchange_router_volume") as error:
        rules.check(v(**given))
    assert message in str(error.value)


def test_good_volumes_pass_the_files_volume_included() -> None:
    mounts = [*MOUNTS, {"name": "config", "mountPath": "/etc/extra", "subPath": "app.yaml"}]
    rules.check(v(config_files=FILES, volumes=VOLUMES, volume_mounts=mounts))
