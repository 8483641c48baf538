"""The production edge on the kind tier (cluster/kind/edge.sh: Traefik, cert-manager with the CA
ClusterIssuer exchange-platform-ca, the Gateway API CRDs, kube-network-policies): the release's
Ingress or HTTPRoute answers HTTPS with a certificate cert-manager issued, verified against the
CA by a client pod; the seed's nginx rewrite works; an issuer that cannot issue fails the deploy
with cert-manager's reason and the whole revision is rolled back. (The NetworkPolicy, with its
controls: test_kind_network_policy.py.)"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from conftest import Cluster
from kubernetes import client, watch
from steady_client import CA_ISSUER, Phases, SteadyClient, ca_configmap, client_pod, edge_ip
from test_kind import GOOD, deploy_plain

pytestmark = pytest.mark.kind


def _curl(kind: Cluster, namespace: str, urls: list[str]) -> str:
    """Run curl in a pod of the node's Debian image (kube-proxy's) trusting only the kind CA:
    each URL through Traefik's Service. Its log."""
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
    name = f"client-{uuid.uuid4().hex[:6]}"
    kind.core.create_namespaced_pod(namespace, client_pod(name, "\n".join(lines)))
    for _attempt in range(240):
        phase = kind.core.read_namespaced_pod(name, namespace).status.phase
        if phase in ("Succeeded", "Failed"):
            return kind.core.read_namespaced_pod_log(name, namespace)
        time.sleep(1)
    raise AssertionError(f"client pod {name} never finished")


def ingress(host: str, issuer: str = CA_ISSUER, **extra: object) -> dict[str, object]:
    return {
        "exchange_router_ingress": dict(
            {"enabled": True, "class_name": "traefik", "hosts": [{"host": host}]},
            cluster_issuer=issuer,
            **extra,
        )
    }


def test_https_through_the_edge_and_the_seed_s_rewrite(kind: Cluster, kind_namespace: str) -> None:
    ca_configmap(kind, kind_namespace)
    host = f"{kind_namespace}.kind.test"
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", _json(ingress(host)))
    assert run.ok, run.output
    assert f"it answers at https://{host}/" in run.output
    out = _curl(kind, kind_namespace, [f"https://{host}/api/v1/health"])
    assert f"200 https://{host}/api/v1/health" in out, out

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


class _IngressWrites:
    """Every write to the namespace's Ingresses while open (a watch in a thread): what shows
    the edge never changed."""

    def __init__(self, kind: Cluster, namespace: str) -> None:
        self.events: list[tuple[str, str]] = []
        self._watch = watch.Watch()
        net = client.NetworkingV1Api(kind.api)
        # from this version on: every write after this list is seen, whenever the watch opens
        start = net.list_namespaced_ingress(namespace).metadata.resource_version
        self._thread = threading.Thread(
            target=self._follow, args=(net, namespace, start), daemon=True, name="ingress-writes"
        )

    def _follow(self, net: client.NetworkingV1Api, namespace: str, start: str) -> None:
        for event in self._watch.stream(
            net.list_namespaced_ingress, namespace, resource_version=start, timeout_seconds=600
        ):
            self.events.append((event["type"], event["object"].metadata.name))

    def __enter__(self) -> _IngressWrites:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(1)  # the last events arrive
        self._watch.stop()


def _names(kind: Cluster, namespace: str, group: str, plural: str) -> list[str]:
    """The names of a namespace's custom objects of one kind (group/v1 plural)."""
    found = client.CustomObjectsApi(kind.api).list_namespaced_custom_object(
        group, "v1", namespace, plural
    )["items"]
    return sorted(o["metadata"]["name"] for o in found)


def _certificates(kind: Cluster, namespace: str) -> list[str]:
    return _names(kind, namespace, "cert-manager.io", "certificates")


def test_an_issuer_that_cannot_issue_fails_the_deploy_and_rolls_back_the_whole_revision(
    kind: Cluster, kind_namespace: str
) -> None:
    """TLS turned on with a ClusterIssuer that does not exist: the Certificate is never Ready,
    so the Ingress is never created; the rollback removes the Certificate."""
    assert deploy_plain(kind, kind_namespace, GOOD).ok
    values = dict(ingress(f"{kind_namespace}.kind.test", issuer="no-such-issuer"))
    values["exchange_router_edge_timeout"] = 20
    with _IngressWrites(kind, kind_namespace) as writes:
        run = deploy_plain(kind, kind_namespace, GOOD, "-e", _json(values))
    assert not run.ok
    assert (
        f"The edge is not ready after 20s: Certificate {kind_namespace}/exchange-router-tls: "
        in run.output
    ), run.output
    assert "no-such-issuer" in run.output  # cert-manager's own words
    assert "Rolled back to revision 1" in run.output, run.output
    assert writes.events == []  # the Ingress was never created
    ingresses = client.NetworkingV1Api(kind.api).list_namespaced_ingress(kind_namespace).items
    assert not ingresses  # revision 1 had none
    assert _certificates(kind, kind_namespace) == []  # nor a Certificate


def test_an_httproute_on_the_user_s_gateway_answers_https(
    kind: Cluster, kind_namespace: str
) -> None:
    ca_configmap(kind, kind_namespace)
    host = f"gw-{kind_namespace}.kind.test"
    values = _gateway(kind, kind_namespace, host)
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


def _gateway(kind: Cluster, namespace: str, host: str) -> dict[str, object]:
    """A Gateway `edge` of Traefik's class for `host` (its certificate from cert-manager's Gateway
    shim); the release values of an HTTPRoute on it."""
    client.CustomObjectsApi(kind.api).create_namespaced_custom_object(
        "gateway.networking.k8s.io",
        "v1",
        namespace,
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
    return {
        "exchange_router_httproute": {
            "enabled": True,
            "parent_refs": [{"name": "edge"}],
            "hostnames": [host],
        }
    }


def _json(values: dict[str, object]) -> str:
    return json.dumps(values)


def _routes(kind: Cluster, namespace: str) -> list[str]:
    return _names(kind, namespace, "gateway.networking.k8s.io", "httproutes")


def test_an_httproute_left_out_of_a_revision_is_deleted_and_removal_deletes_it(
    kind: Cluster, kind_namespace: str
) -> None:
    """Issue 24: no test pruned or removed an HTTPRoute. kwok has no Gateway API CRDs; kind has
    them and Traefik's Gateway controller, which accepts the route."""
    values = _gateway(kind, kind_namespace, f"gw-{kind_namespace}.kind.test")
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", _json(values))
    assert run.ok, run.output
    assert _routes(kind, kind_namespace) == ["exchange-router-route"]  # the control
    run = deploy_plain(kind, kind_namespace, GOOD)  # revision 2: no route
    assert run.ok, run.output
    assert _routes(kind, kind_namespace) == []
    back = deploy_plain(
        kind,
        kind_namespace,
        GOOD,
        "-e",
        _json({"exchange_router_rollback_revision": 1}),
        playbook="rollback",
    )
    assert back.ok, back.output
    assert _routes(kind, kind_namespace) == ["exchange-router-route"]
    removed = deploy_plain(kind, kind_namespace, GOOD, playbook="remove")
    assert removed.ok, removed.output
    assert _routes(kind, kind_namespace) == []


def _ingress_version(kind: Cluster, namespace: str) -> tuple[str, list[str]]:
    live = client.NetworkingV1Api(kind.api).read_namespaced_ingress(
        "exchange-router-ingress", namespace
    )
    return live.metadata.resource_version, [t.secret_name for t in live.spec.tls]


def test_the_same_client_sees_no_failure_through_a_certificate_refused_and_one_issued(
    kind: Cluster, kind_namespace: str
) -> None:
    """Certificates before traffic (issue 24), with a client calling the edge every 20 ms:
    (a) a deploy moving the Ingress to a new TLS Secret from a ClusterIssuer that does not exist
    fails, rolls back, and the Ingress never changed; (b) the same move from the CA issuer
    deploys, the Ingress switched only once the new certificate was Ready. 0 failed requests
    through both (before this change, (a) lost about 25 s of HTTPS to Traefik's default
    certificate)."""
    host = f"{kind_namespace}.kind.test"
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", _json(ingress(host)))
    assert run.ok, run.output
    before = _ingress_version(kind, kind_namespace)
    assert before[1] == ["exchange-router-tls"]
    refused = ingress(host, issuer="no-such-issuer", tls_secret_name="renewed-tls")
    refused["exchange_router_edge_timeout"] = 20
    issued = ingress(host, tls_secret_name="renewed-tls")
    with SteadyClient(kind, kind_namespace, host) as steady:
        steady.wait_serving()
        phases = Phases(steady)
        run = deploy_plain(kind, kind_namespace, GOOD, "-e", _json(refused))
        phases.end("certificate refused")
        assert not run.ok
        assert "Certificate " + kind_namespace + "/renewed-tls: " in run.output, run.output
        assert "Rolled back to revision 1" in run.output, run.output
        assert _ingress_version(kind, kind_namespace) == before  # never written
        assert _certificates(kind, kind_namespace) == ["exchange-router-tls"]
        run = deploy_plain(kind, kind_namespace, GOOD, "-e", _json(issued))
        phases.end("certificate issued")
        assert run.ok, run.output
        assert _ingress_version(kind, kind_namespace)[1] == ["renewed-tls"]
        assert _certificates(kind, kind_namespace) == ["renewed-tls"]  # the old one pruned
    assert not phases.failures(min_sent=100), "\n".join(phases.failures(min_sent=100))
