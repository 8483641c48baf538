"""With an inventory, the shipped playbooks target its hosts (the group exchange_router, else all
of them), never localhost's current kube context."""

from __future__ import annotations

import json

import pytest
from conftest import Cluster

PLAYBOOKS = ["deploy", "remove", "render", "rbac", "rollback", "history", "diff"]


def _hosts(cluster: Cluster, playbook: str, *args: str) -> list[str]:
    run = cluster.playbook(playbook, {}, "--list-hosts", *args)
    assert run.ok, run.output
    listed = run.output.split("hosts (", 1)[1].splitlines()[1:]
    return sorted(line.strip() for line in listed if line.strip() and ":" not in line)


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbooks_target_the_inventory_never_a_surprise_localhost(
    cluster: Cluster, playbook: str
) -> None:
    grouped = cluster.work / f"grouped-{playbook}.yml"
    grouped.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {"monitoring": {}},
                    "children": {"exchange_router": {"hosts": {"prod-a": {}, "prod-b": {}}}},
                }
            }
        )
    )
    assert _hosts(cluster, playbook, "-i", str(grouped)) == ["prod-a", "prod-b"]
    flat = cluster.work / f"flat-{playbook}.yml"
    flat.write_text(json.dumps({"all": {"hosts": {"staging-a": {}, "staging-b": {}}}}))
    assert _hosts(cluster, playbook, "-i", str(flat)) == ["staging-a", "staging-b"]
    assert _hosts(cluster, playbook) == ["localhost"]  # no inventory: the current context


def test_a_deploy_with_an_inventory_goes_where_the_inventory_says(
    cluster: Cluster, namespace: str
) -> None:
    inventory = cluster.inventory(
        {"target": {"exchange_router_namespace": namespace, "exchange_router_name": "inv"}}
    )
    run = cluster.deploy({}, "-i", str(inventory))
    assert run.ok, run.output
    assert "localhost" not in run.output.split("PLAY RECAP", 1)[1]
    assert cluster.apps.read_namespaced_deployment("inv-deployment", namespace)
    assert not [
        d
        for d in cluster.apps.list_namespaced_deployment("default").items
        if d.metadata.name == "inv-deployment"
    ]
