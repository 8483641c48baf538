"""The release's optional objects against the real API server (kwok tier): Ingress, PDB,
NetworkPolicy and the pods' ServiceAccount are accepted, recorded, rolled back and removed with
the release, as the least-privilege deployer of playbooks/rbac.yml; the PodDisruptionBudget holds
against the eviction API. What needs a real edge (Traefik, cert-manager, HTTPS) is in
test_kind_edge.py."""

from __future__ import annotations

import time

import pytest
import yaml
from conftest import ROOT, Cluster, deployer_can, grant_deployer, slow
from kubernetes import client

# The seed's edge (tests/fixtures/edge-values.yml) without its ClusterIssuer: no cert-manager here.
EDGE = yaml.safe_load((ROOT / "tests/fixtures/edge-values.yml").read_text())
EDGE["exchange_router_ingress"]["cluster_issuer"] = ""
GONE = {"ingress": False, "pdb": False, "policy": False, "account": False, "foreign": True}
NAMES = {
    "ingress": "exchange-router-ingress",
    "pdb": "exchange-router-pdb",
    "policy": "exchange-router-network-policy",
    "account": "exchange-router",
}


def _present(cluster: Cluster, namespace: str) -> dict[str, bool]:
    net = client.NetworkingV1Api(cluster.api)
    policy = client.PolicyV1Api(cluster.api)
    ingresses = {i.metadata.name for i in net.list_namespaced_ingress(namespace).items}
    policies = {p.metadata.name for p in net.list_namespaced_network_policy(namespace).items}
    budgets = {
        p.metadata.name for p in policy.list_namespaced_pod_disruption_budget(namespace).items
    }
    accounts = {
        a.metadata.name for a in cluster.core.list_namespaced_service_account(namespace).items
    }
    return {
        "ingress": NAMES["ingress"] in ingresses,
        "pdb": NAMES["pdb"] in budgets,
        "policy": NAMES["policy"] in policies,
        "account": NAMES["account"] in accounts,
        "foreign": "someone-elses" in ingresses,
    }


def test_the_edge_objects_are_members_of_the_release_as_the_least_privileged_deployer(
    cluster: Cluster, namespace: str
) -> None:
    grant_deployer(cluster, namespace)
    kubeconfig = cluster.service_account_kubeconfig(namespace, "exchange-router-deployer")
    net = client.NetworkingV1Api(cluster.api)
    net.create_namespaced_ingress(
        namespace,
        {
            "metadata": {"name": "someone-elses"},
            "spec": {"defaultBackend": {"service": {"name": "x", "port": {"number": 80}}}},
        },
    )
    # pods Ready 12 s after they start: each rollout outlasts a lock renewal (every 10 s)
    values = {"exchange_router_namespace": namespace, "exchange_router_pod_annotations": slow(12)}
    assert cluster.deploy(values, kubeconfig=kubeconfig).ok
    run = cluster.deploy(dict(values, **EDGE), kubeconfig=kubeconfig)
    assert run.ok, run.output
    assert "it answers at http://exchange.example.com/backend(/|$)(.*)" in run.output
    assert _present(cluster, namespace) == dict.fromkeys(
        ["ingress", "pdb", "policy", "account", "foreign"], True
    )
    pod = cluster.apps.read_namespaced_deployment("exchange-router-deployment", namespace)
    assert pod.spec.template.spec.service_account_name == "exchange-router"
    assert pod.spec.template.spec.automount_service_account_token is False
    kinds = {o["kind"] for o in cluster.history(namespace)[-1]["objects"]}
    assert {"Ingress", "PodDisruptionBudget", "NetworkPolicy", "ServiceAccount"} <= kinds

    back = cluster.playbook(
        "rollback", dict(values, exchange_router_rollback_revision=1), kubeconfig=kubeconfig
    )
    assert back.ok, back.output
    assert _present(cluster, namespace) == GONE

    again = cluster.playbook(  # revision 2 had them all: rollback restores them
        "rollback", dict(values, exchange_router_rollback_revision=2), kubeconfig=kubeconfig
    )
    assert again.ok, again.output
    assert _present(cluster, namespace) == dict.fromkeys(GONE, True)
    removed = cluster.playbook("remove", values, kubeconfig=kubeconfig)
    assert removed.ok, removed.output
    assert _present(cluster, namespace) == GONE
    # ... and nothing more than the release needs
    assert deployer_can(
        cluster, namespace, "get", "cert-manager.io/certificates", "exchange-router-tls"
    )
    assert deployer_can(
        cluster, namespace, "patch", "networking.k8s.io/ingresses", "someone-elses"
    )  # same kind, by design
    assert not deployer_can(
        cluster, namespace, "patch", "serviceaccounts", "exchange-router-deployer"
    )
    assert not deployer_can(cluster, namespace, "list", "secrets")
    assert not deployer_can(cluster, namespace, "create", "rbac.authorization.k8s.io/rolebindings")
    # the release's Certificate is one of its kinds now; cert-manager's requests are only read
    assert deployer_can(cluster, namespace, "delete", "cert-manager.io/certificates")
    assert not deployer_can(cluster, namespace, "delete", "cert-manager.io/certificaterequests")


@pytest.mark.parametrize("budget", [{"max_unavailable": 1}, {"min_available": 1}])
def test_the_disruption_budget_refuses_the_second_eviction(
    cluster: Cluster, namespace: str, budget: dict[str, int]
) -> None:
    """2 replicas: the first pod may be evicted; while its replacement is not Ready yet (a kwok
    Stage delay), the eviction API refuses the second."""
    values = {
        "exchange_router_namespace": namespace,
        "exchange_router_autoscaling": {"enabled": False},
        "exchange_router_replicas": 2,
        "exchange_router_pod_annotations": slow(20),
        "exchange_router_pdb": dict({"enabled": True, "max_unavailable": None}, **budget),
    }
    run = cluster.deploy(values)
    assert run.ok, run.output
    policy = client.PolicyV1Api(cluster.api)
    for _attempt in range(60):  # the disruption controller computes what it allows
        status = policy.read_namespaced_pod_disruption_budget(NAMES["pdb"], namespace).status
        if status.disruptions_allowed == 1:
            break
        time.sleep(1)
    pods = cluster.core.list_namespaced_pod(namespace, label_selector="app=exchange-router").items
    assert len(pods) == 2

    def evict(name: str) -> None:
        cluster.core.create_namespaced_pod_eviction(
            name,
            namespace,
            client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=namespace)),
        )

    evict(pods[0].metadata.name)
    with pytest.raises(client.ApiException) as refused:
        evict(pods[1].metadata.name)
    assert refused.value.status == 429, refused.value.body
    assert "disruption budget" in refused.value.body
