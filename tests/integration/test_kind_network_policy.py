"""The release's NetworkPolicy on the kind tier, enforced by kube-network-policies: every
connection it blocks is first shown to succeed without it (the control: the same client, the
same request), and a blocked connection is one that timed out or was refused, never any other
failure.

- Ingress: a client pod in another namespace gets 200 straight from the router's pod, then, with
  the policy admitting only the edge's namespace, is blocked; through the edge (Traefik) it still
  gets 200.
- Egress: the router's own pod (the stand-in's GET /dial) reaches Postgres, Redis and another
  listener by name; with egress rules naming DNS, Postgres and Redis, those still connect and the
  other listener (the same port as Postgres, another pod) is blocked."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from conftest import Cluster, poll
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream
from steady_client import ca_configmap, client_pod, edge_ip
from test_kind import GOOD, IMAGE, deploy_plain
from test_kind_edge import ingress

pytestmark = pytest.mark.kind

BLOCKED = ("timeout", "refused")
# kube-network-policies judges each new connection by the policies its informer has seen: a
# policy just applied holds after a moment. Attempts, a second apart, until it does.
POLICY_SEEN_ATTEMPTS = 15
NAMESPACE_NAME = "kubernetes.io/metadata.name"
EDGE_ONLY = {"enabled": True, "edge_namespace": "traefik"}
DNS = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def _to_backends(port: int) -> dict[str, object]:
    """An egress rule to the test namespace's Postgres/Redis stand-in pod on one port."""
    return {
        "to": [{"podSelector": {"matchLabels": {"app": "backends"}}}],
        "ports": [{"protocol": "TCP", "port": port}],
    }


def _wait_running(kind: Cluster, namespace: str, name: str) -> None:
    for _attempt in range(120):
        pod = kind.core.read_namespaced_pod(name, namespace)
        ready = [c.ready for c in pod.status.container_statuses or []]
        if pod.status.phase == "Running" and ready and all(ready):
            return
        time.sleep(1)
    raise AssertionError(f"pod {name} in {namespace} never became ready")


@pytest.fixture
def client_namespace(kind: Cluster) -> Iterator[str]:
    """Another namespace with a long-running client pod `client` (curl of the node's Debian
    image, trusting only the kind CA)."""
    name = f"xr-kind-client-{uuid.uuid4().hex[:8]}"
    kind.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    ca_configmap(kind, name)
    kind.core.create_namespaced_pod(name, client_pod("client", "sleep infinity", "Always"))
    _wait_running(kind, name, "client")
    yield name
    kind.core.delete_namespace(name)


def _router_pod_ip(kind: Cluster, namespace: str) -> str:
    pods = kind.core.list_namespaced_pod(namespace, label_selector="app=exchange-router").items
    return next(p.status.pod_ip for p in pods if p.status.phase == "Running")


def _curl(kind: Cluster, namespace: str, url: str, edge: str = "") -> str:
    """One request from the client pod: the HTTP status, or "timeout" (curl exit 28),
    "refused" (7), "curl exit N" for any other failure. Through Traefik's Service (IP edge)."""
    host = url.split("/")[2]
    resolve = f"--cacert /ca/ca.crt --resolve {host}:443:{edge} " if edge else ""
    script = (
        f"code=$(curl -sS --max-time 4 {resolve}-o /dev/null -w '%{{http_code}}' {url} "
        '2>/dev/null); echo "$? $code"'
    )
    out = stream(
        kind.core.connect_get_namespaced_pod_exec,
        "client",
        namespace,
        command=["bash", "-c", script],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
    )
    exit_code, _space, code = out.strip().partition(" ")
    return {"0": code, "28": "timeout", "7": "refused"}.get(exit_code, f"curl exit {exit_code}")


def test_the_ingress_policy_blocks_a_client_that_reached_the_pod_before_and_keeps_the_edge(
    kind: Cluster, kind_namespace: str, client_namespace: str
) -> None:
    host = f"{kind_namespace}.kind.test"
    edge = f"https://{host}/api/v1/health"
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", json.dumps(ingress(host)))
    assert run.ok, run.output
    ip = edge_ip(kind)
    straight = f"http://{_router_pod_ip(kind, kind_namespace)}:8080/api/v1/health"

    # The control: without a policy, the client reaches the pod straight and through the edge
    # (Traefik routes a moment after the rollout: ask until it answers).
    assert _curl(kind, client_namespace, straight) == "200"
    assert poll(lambda: _curl(kind, client_namespace, edge, ip), "200".__eq__, 30) == "200"

    values = dict(ingress(host), exchange_router_network_policy=EDGE_ONLY)
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", json.dumps(values))
    assert run.ok, run.output
    straight = f"http://{_router_pod_ip(kind, kind_namespace)}:8080/api/v1/health"
    blocked = poll(
        lambda: _curl(kind, client_namespace, straight), BLOCKED.__contains__, POLICY_SEEN_ATTEMPTS
    )
    assert blocked in BLOCKED, f"straight to the pod with the policy: {blocked}"
    assert _curl(kind, client_namespace, edge, ip) == "200"  # the edge's namespace is admitted


def _dial(kind: Cluster, namespace: str, addr: str) -> str:
    """GET /dial?addr= of the router's running pod, through the API server's proxy: "ok",
    "timeout", "refused" or "error" for a connection the router's pod opened to addr."""
    pods = kind.core.list_namespaced_pod(namespace, label_selector="app=exchange-router").items
    pod = next(
        p.metadata.name
        for p in pods
        if p.status.phase == "Running" and not p.metadata.deletion_timestamp
    )
    path = f"/api/v1/namespaces/{namespace}/pods/{pod}:8080/proxy/dial?addr={quote(addr)}"
    try:
        answer = kind.api.call_api(
            path, "GET", auth_settings=["BearerToken"], _preload_content=False
        )[0]
        body = answer.data.decode()
    except ApiException as err:
        body = err.body.decode() if isinstance(err.body, bytes) else str(err.body)
    outcome, _space, dialled = body.strip().partition(" ")
    assert dialled == addr, f"GET /dial?addr={addr} through the proxy: {body}"
    return outcome


def _other_listener(kind: Cluster, namespace: str) -> None:
    """Pod and Service `elsewhere`: the stand-in accepting TCP on 5432, as Postgres does, in a pod
    no egress rule names."""
    labels = {"app": "elsewhere"}
    kind.core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "elsewhere", "labels": labels},
            "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [
                    {
                        "name": "listen",
                        "image": IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["listen", "5432"],
                        "readinessProbe": {"tcpSocket": {"port": 5432}, "periodSeconds": 1},
                    }
                ],
            },
        },
    )
    kind.core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "elsewhere"},
            "spec": {"selector": labels, "ports": [{"port": 5432, "targetPort": 5432}]},
        },
    )
    _wait_running(kind, namespace, "elsewhere")


def test_egress_rules_let_dns_postgres_and_redis_through_and_block_another_listener(
    kind: Cluster, kind_namespace: str
) -> None:
    _other_listener(kind, kind_namespace)
    named = ["postgres:5432", "redis:6379"]
    other = "elsewhere:5432"
    run = deploy_plain(kind, kind_namespace, GOOD)
    assert run.ok, run.output
    # The control: without a policy the router's pod reaches all three, by name (DNS).
    assert {a: _dial(kind, kind_namespace, a) for a in [*named, other]} == dict.fromkeys(
        [*named, other], "ok"
    )

    policy = {
        "enabled": True,
        "from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: "traefik"}}}],
        "egress": [DNS, _to_backends(5432), _to_backends(6379)],
    }
    values = {"exchange_router_network_policy": policy}
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", json.dumps(values))
    assert run.ok, run.output
    blocked = poll(
        lambda: _dial(kind, kind_namespace, other), BLOCKED.__contains__, POLICY_SEEN_ATTEMPTS
    )
    assert blocked in BLOCKED, f"{other} with the egress rules: {blocked}"
    assert {a: _dial(kind, kind_namespace, a) for a in named} == dict.fromkeys(named, "ok")
