"""The chart values beyond the seed's against the real API server and scheduler (kwok tier): all of
them at once are accepted, read back from the live objects, and rolled back; the topology spread
constraints spread the pods over the two nodes where the scheduler would otherwise stack them."""

from __future__ import annotations

import random
from typing import Any

import yaml
from conftest import ROOT, SECRET_VALUES, Cluster, create_secret, grant_deployer, make_namespace
from kubernetes import client

DEPLOYMENT = "exchange-router-deployment"
HOSTNAME = "kubernetes.io/hostname"
ROLE_ARN = "arn:aws:iam::123456789012:role/router"  # as tests/fixtures/chart-values.yml has it


def chart_values(namespace: str, node_port: int) -> dict[str, Any]:
    """Every chart value beyond the seed's (tests/fixtures/chart-values.yml, which tests/render
    renders), in this namespace with this node port."""
    values = yaml.safe_load((ROOT / "tests/fixtures/chart-values.yml").read_text())
    return dict(
        values, exchange_router_namespace=namespace, exchange_router_service_node_port=node_port
    )


def _hpa(cluster: Cluster, namespace: str) -> client.V2HorizontalPodAutoscaler:
    return client.AutoscalingV2Api(cluster.api).read_namespaced_horizontal_pod_autoscaler(
        "exchange-router-hpa", namespace
    )


def test_every_chart_value_is_accepted_read_back_and_rolled_back(
    cluster: Cluster, namespace: str
) -> None:
    grant_deployer(cluster, namespace)
    kubeconfig = cluster.service_account_kubeconfig(namespace, "exchange-router-deployer")
    base = {"exchange_router_namespace": namespace}
    assert cluster.deploy(base, kubeconfig=kubeconfig).ok
    node_port = random.randrange(30000, 32768)  # a port no other test of the cluster holds
    run = cluster.deploy(chart_values(namespace, node_port), kubeconfig=kubeconfig)
    assert run.ok, run.output

    template = cluster.apps.read_namespaced_deployment(DEPLOYMENT, namespace).spec.template
    pod, container = template.spec, template.spec.containers[0]
    assert container.image_pull_policy == "IfNotPresent"
    assert (pod.security_context.run_as_non_root, pod.security_context.fs_group) == (True, 2000)
    assert pod.security_context.run_as_group == 3000
    assert pod.security_context.seccomp_profile.type == "RuntimeDefault"
    security = container.security_context
    assert (security.run_as_user, security.read_only_root_filesystem) == (1000, True)
    assert security.capabilities.drop == ["ALL"]  # the restricted preset's, kept
    assert template.metadata.labels["team"] == "trading"
    assert template.metadata.labels["app"] == "exchange-router"
    assert container.lifecycle.pre_stop.sleep.seconds == 5
    assert pod.termination_grace_period_seconds == 45
    account = cluster.core.read_namespaced_service_account("exchange-router", namespace)
    assert account.metadata.annotations["eks.amazonaws.com/role-arn"] == ROLE_ARN
    service = cluster.core.read_namespaced_service("exchange-router-service", namespace)
    assert service.metadata.annotations["example.com/lb"] == "internal"
    assert service.spec.type == "NodePort"
    assert service.spec.ports[0].node_port == node_port
    hpa = _hpa(cluster, namespace).spec
    assert [(m.resource.name, m.resource.target.average_utilization) for m in hpa.metrics] == [
        ("cpu", 95),
        ("memory", 80),
    ]
    assert hpa.behavior.scale_down.stabilization_window_seconds == 600

    back = cluster.playbook(
        "rollback", dict(base, exchange_router_rollback_revision=1), kubeconfig=kubeconfig
    )
    assert back.ok, back.output
    service = cluster.core.read_namespaced_service("exchange-router-service", namespace)
    assert service.spec.type == "ClusterIP"
    assert not service.metadata.annotations
    hpa = _hpa(cluster, namespace).spec
    assert [m.resource.name for m in hpa.metrics] == ["cpu"]
    # the API server defaults behavior when none is given: the release's 600 s is gone
    assert hpa.behavior is None or hpa.behavior.scale_down.stabilization_window_seconds != 600
    template = cluster.apps.read_namespaced_deployment(DEPLOYMENT, namespace).spec.template
    assert template.spec.containers[0].lifecycle is None
    assert "team" not in template.metadata.labels
    accounts = cluster.core.list_namespaced_service_account(namespace).items
    assert "exchange-router" not in {a.metadata.name for a in accounts}


def _nodes(cluster: Cluster, namespace: str) -> list[str]:
    """The nodes the release's live pods run on, one entry per pod."""
    pods = cluster.core.list_namespaced_pod(namespace, label_selector="app=exchange-router").items
    return sorted(p.spec.node_name for p in pods if not p.metadata.deletion_timestamp)


def test_topology_spread_constraints_spread_two_pods_where_the_scheduler_would_stack_them(
    cluster: Cluster, namespace: str
) -> None:
    """The control makes the real scheduler stack both pods on the first node (a preference for
    it and for the release's own pods); the same values with a DoNotSchedule spread over
    kubernetes.io/hostname put one pod on each node. Without the preferences the scheduler's
    default spreading alone would put them apart, and the constraint would prove nothing."""
    nodes = sorted(n.metadata.name for n in cluster.core.list_node().items)
    assert len(nodes) == 2, nodes
    labels = [n.metadata.labels.get(HOSTNAME) for n in cluster.core.list_node().items]
    assert sorted(labels) == nodes, f"the nodes lack {HOSTNAME}: {labels}"
    selector = {"matchLabels": {"app": "exchange-router"}}
    stacked = {
        "exchange_router_namespace": namespace,
        "exchange_router_autoscaling": {"enabled": False},
        "exchange_router_replicas": 2,
        "exchange_router_affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "preference": {
                            "matchExpressions": [
                                {"key": HOSTNAME, "operator": "In", "values": [nodes[0]]}
                            ]
                        },
                    }
                ]
            },
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {"topologyKey": HOSTNAME, "labelSelector": selector},
                    }
                ]
            },
        },
    }
    run = cluster.deploy(stacked)
    assert run.ok, run.output
    assert _nodes(cluster, namespace) == [nodes[0], nodes[0]]  # the control: stacked

    other = make_namespace(cluster)  # a first rollout of its own, as the control's
    create_secret(cluster, other, SECRET_VALUES)
    spread = {
        **stacked,
        "exchange_router_namespace": other,
        "exchange_router_topology_spread_constraints": [
            {
                "maxSkew": 1,
                "topologyKey": HOSTNAME,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": selector,
            }
        ],
    }
    try:
        run = cluster.deploy(spread)
        assert run.ok, run.output
        assert _nodes(cluster, other) == nodes
    finally:
        cluster.core.delete_namespace(other)
