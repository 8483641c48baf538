"""The production edge on the kind tier (cluster/kind/edge.sh: Traefik, cert-manager with the CA
ClusterIssuer exchange-platform-ca, the Gateway API CRDs, kube-network-policies): the release's
Ingress or HTTPRoute answers HTTPS with a certificate cert-manager issued, verified against the
CA by a client pod; the seed's nginx rewrite works; the NetworkPolicy keeps every pod but the
edge's out; an issuer that cannot issue fails the deploy with cert-manager's reason and the
whole revision is rolled back."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from conftest import Cluster
from kubernetes import client
from steady_client import CA_ISSUER, ca_configmap, client_pod, edge_ip
from test_kind import GOOD, deploy_plain

pytestmark = pytest.mark.kind


def _curl(kind: Cluster, namespace: str, urls: list[str], also_pod: str = "") -> str:
    """Run curl in a pod of the node's Debian image (kube-proxy's) trusting only the kind CA:
    each URL through Traefik's Service, then (if given) straight to a pod IP. Its log."""
    ip = edge_ip(kind)
    lines = ["set -u"]
    for url in urls:
        host = url.split("/")[2]
        # Traefik builds a route from the Ingress and the Service's EndpointSlices on its own
        # schedule, a moment after the rollout is done: ask until it answers 200 (30 tries, a
        # second apart) and print the last answer (000 when curl itself failed).
        lines.append(
            f"for i in $(seq 30); do code=$(curl -sS --max-time 5 --cacert /ca/ca.crt "
            f"--resolve {host}:443:{ip} -o /dev/null -w '%{{http_code}}' {url}); "
            f'[ "$code" = 200 ] && break; sleep 1; done; echo "$code {url}"'
        )
    if also_pod:
        lines.append(
            f"curl -sS --max-time 5 -o /dev/null -w '%{{http_code}} pod\\n' "
            f"http://{also_pod}:8080/api/v1/health || echo 'refused pod'"
        )
    name = f"client-{uuid.uuid4().hex[:6]}"
    kind.core.create_namespaced_pod(namespace, client_pod(name, "\n".join(lines)))
    for _attempt in range(240):
        phase = kind.core.read_namespaced_pod(name, namespace).status.phase
        if phase in ("Succeeded", "Failed"):
            return kind.core.read_namespaced_pod_log(name, namespace)
        time.sleep(1)
    raise AssertionError(f"client pod {name} never finished")


def _router_pod_ip(kind: Cluster, namespace: str) -> str:
    pods = kind.core.list_namespaced_pod(namespace, label_selector="app=exchange-router").items
    return next(p.status.pod_ip for p in pods if p.status.phase == "Running")


def ingress(host: str, issuer: str = CA_ISSUER, **extra: object) -> dict[str, object]:
    return {
        "exchange_router_ingress": dict(
            {"enabled": True, "class_name": "traefik", "hosts": [{"host": host}]},
            cluster_issuer=issuer,
            **extra,
        )
    }


def test_https_through_the_edge_the_seed_s_rewrite_and_the_network_policy(
    kind: Cluster, kind_namespace: str
) -> None:
    ca_configmap(kind, kind_namespace)
    host = f"{kind_namespace}.kind.test"
    values = dict(
        ingress(host),
        exchange_router_network_policy={"enabled": True, "edge_namespace": "traefik"},
    )
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", _json(values))
    assert run.ok, run.output
    assert f"it answers at https://{host}/" in run.output
    out = _curl(
        kind,
        kind_namespace,
        [f"https://{host}/api/v1/health"],
        _router_pod_ip(kind, kind_namespace),
    )
    assert f"200 https://{host}/api/v1/health" in out, out
    assert "refused pod" in out, out  # not from this namespace: the NetworkPolicy keeps it out

    seed = ingress(
        host,
        class_name="nginx",
        hosts=[
            {
                "host": host,
                "paths": [{"path": "/backend(/|$)(.*)", "path_type": "ImplementationSpecific"}],
            }
        ],
        annotations={"nginx.ingress.kubernetes.io/rewrite-target": "/$2"},
    )
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", _json(seed))
    assert run.ok, run.output
    out = _curl(kind, kind_namespace, [f"https://{host}/backend/api/v1/health"])
    assert f"200 https://{host}/backend/api/v1/health" in out, out


def test_an_issuer_that_cannot_issue_fails_the_deploy_and_rolls_back_the_whole_revision(
    kind: Cluster, kind_namespace: str
) -> None:
    assert deploy_plain(kind, kind_namespace, GOOD).ok
    values = dict(ingress(f"{kind_namespace}.kind.test", issuer="no-such-issuer"))
    values["exchange_router_edge_timeout"] = 20
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", _json(values))
    assert not run.ok
    assert "The edge is not ready after 20s" in run.output, run.output
    assert "no-such-issuer" in run.output  # cert-manager's own words
    assert "Rolled back to revision 1" in run.output, run.output
    ingresses = client.NetworkingV1Api(kind.api).list_namespaced_ingress(kind_namespace).items
    assert not ingresses  # revision 1 had none


def test_an_httproute_on_the_user_s_gateway_answers_https(
    kind: Cluster, kind_namespace: str
) -> None:
    ca_configmap(kind, kind_namespace)
    host = f"gw-{kind_namespace}.kind.test"
    client.CustomObjectsApi(kind.api).create_namespaced_custom_object(
        "gateway.networking.k8s.io",
        "v1",
        kind_namespace,
        "gateways",
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {
                "name": "edge",
                "annotations": {"cert-manager.io/cluster-issuer": CA_ISSUER},
            },
            "spec": {
                "gatewayClassName": "traefik",
                "listeners": [
                    {
                        "name": "https",
                        "protocol": "HTTPS",
                        "port": 8443,
                        "hostname": host,
                        "tls": {"mode": "Terminate", "certificateRefs": [{"name": "gw-tls"}]},
                        "allowedRoutes": {"namespaces": {"from": "Same"}},
                    }
                ],
            },
        },
    )
    values = {
        "exchange_router_httproute": {
            "enabled": True,
            "parent_refs": [{"name": "edge"}],
            "hostnames": [host],
        }
    }
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", _json(values))
    assert run.ok, run.output
    assert f"it answers at https://{host}/" in run.output
    for _attempt in range(240):  # the Gateway's certificate (cert-manager's Gateway shim)
        certs = client.CustomObjectsApi(kind.api).list_namespaced_custom_object(
            "cert-manager.io", "v1", kind_namespace, "certificates"
        )["items"]
        conditions = [c for cert in certs for c in cert.get("status", {}).get("conditions", [])]
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            break
        time.sleep(1)
    out = _curl(kind, kind_namespace, [f"https://{host}/api/v1/health"])
    assert f"200 https://{host}/api/v1/health" in out, out


def _json(values: dict[str, object]) -> str:
    return json.dumps(values)
