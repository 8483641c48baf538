"""The release store over the in-memory cluster (Helm's Secret driver: records written with the
resourceVersion last read, a concurrent writer refused); what the edge's wait reads from
cert-manager and a Gateway; a SealedSecret the controller refuses."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    edge_readiness,
    sealed_secret_sync,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.store import (
    Revision,
    SecretRecord,
    SecretStore,
    Status,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Waiter
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import (
    FakeCluster,
)


def record(number: int) -> Revision:
    secret = SecretRecord("plain", "s", True, {"k": "dg=="})
    return Revision(number, Status.DEPLOYED, "deploy", [{"kind": "Service"}], secret, "00")


def test_a_record_written_by_2_0_reads_back_typed_with_its_defaults() -> None:
    old = {"revision": 3, "status": "superseded", "objects": [], "secret": {"mode": "sealed"}}
    revision = Revision.from_dict(old)
    assert revision.status is Status.SUPERSEDED and revision.secret == SecretRecord("sealed")
    assert Revision.from_dict(revision.to_dict()) == revision
    assert revision.summary() == {
        "revision": 3,
        "time": "",
        "status": "superseded",
        "deployer": "",
        "image": "",
        "description": "",
    }


def test_the_store_replaces_its_secret_with_the_version_it_read_and_refuses_a_lost_update() -> None:
    cluster = FakeCluster()
    mine, theirs = SecretStore(cluster, "ns", "r"), SecretStore(cluster, "ns", "r")
    assert mine.load() is None
    mine.save([record(1)])
    assert theirs.load() == [record(1)]
    mine.save([record(1), record(2)])  # a replace, with the version mine wrote
    assert SecretStore(cluster, "ns", "r").load() == [record(1), record(2)]
    with pytest.raises(KubeError, match="409"):
        theirs.save([record(1), record(9)])  # read before mine's second write
    assert mine.delete() and mine.secret is None
    assert SecretStore(cluster, "ns", "r").load() is None and not mine.delete()


CERT = Ref("Certificate", "ns", "exchange-tls")
ROUTE = Ref("HTTPRoute", "ns", "r-route")


def certificate(ready: dict[str, Any], issuer: str = "ca", **status: Any) -> dict[str, Any]:
    return {
        "kind": "Certificate",
        "metadata": {"name": CERT.name, "generation": 1},
        "spec": {"issuerRef": {"name": issuer, "kind": "ClusterIssuer"}},
        "status": dict(status, conditions=[dict({"type": "Ready"}, **ready)]),
    }


def request(
    name: str, created: str, ready: dict[str, Any], issuer: str = "ca", revision: str = "1"
) -> dict[str, Any]:
    return {
        "kind": "CertificateRequest",
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "annotations": {
                "cert-manager.io/certificate-name": CERT.name,
                "cert-manager.io/certificate-revision": revision,
            },
        },
        "spec": {
            "issuerRef": {"name": issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"}
        },
        "status": {"conditions": [dict({"type": "Ready"}, **ready)]},
    }


FAILED = {"status": "False", "reason": "Failed", "message": "the CA secret does not exist"}
ISSUING = {"status": "False", "observedGeneration": 1, "message": "Issuing certificate"}


def test_a_certificate_waits_with_the_newest_request_s_words_until_it_is_ready() -> None:
    cluster = FakeCluster()
    assert edge_readiness.certificate_state(cluster, CERT) == (
        "waiting",
        "Certificate ns/exchange-tls is not there (was it deleted?)",
    )
    cluster.put(certificate({"status": "False", "message": "Issuing certificate"}))
    assert edge_readiness.certificate_state(cluster, CERT) == (
        "waiting",
        "cert-manager has not looked at generation 1 of Certificate ns/exchange-tls yet (is "
        "cert-manager running?)",
    )
    cluster.put(certificate(ISSUING))
    assert edge_readiness.certificate_state(cluster, CERT) == (
        "waiting",
        "Certificate ns/exchange-tls: Issuing certificate",
    )
    cluster.put(request("old", "2026-01-01T00:00:00Z", {"reason": "Failed", "message": "x"}))
    cluster.put(request("new", "2026-01-02T00:00:00Z", {"reason": "Pending", "message": "queued"}))
    assert edge_readiness.certificate_state(cluster, CERT) == (
        "waiting",
        "Certificate ns/exchange-tls: queued",
    )
    cluster.put(certificate({"status": "True", "observedGeneration": 1}))
    assert edge_readiness.certificate_state(cluster, CERT) == (
        "ready",
        "Certificate ns/exchange-tls is Ready",
    )


def test_a_failed_request_of_the_current_issuance_fails_the_certificate() -> None:
    """The control of the next test: the same Failed request, of this issuance, fails it."""
    cluster = FakeCluster()
    cluster.put(certificate(ISSUING, revision=2))
    cluster.put(request("r-3", "2026-01-01T00:00:00Z", FAILED, revision="3"))
    assert edge_readiness.certificate_state(cluster, CERT) == (
        "failed",
        "cert-manager could not issue Certificate ns/exchange-tls: Failed: the CA secret does not "
        "exist",
    )


@pytest.mark.parametrize(
    ("issuer", "revision"),
    [("ca", "2"), ("broken", "3")],
    ids=["an-earlier-revision", "the-issuer-since-fixed"],
)
def test_a_failed_request_of_an_earlier_issuance_is_not_this_one_s_failure(
    issuer: str, revision: str
) -> None:
    """Issue 24: a Failed request from an earlier broken issuer failed the deploy that fixed the
    issuer; one of an issued revision (status.revision 2: the next request is revision 3) is as
    stale."""
    cluster = FakeCluster()
    cluster.put(certificate(ISSUING, revision=2))
    cluster.put(request("stale", "2026-01-01T00:00:00Z", FAILED, issuer, revision))
    assert edge_readiness.certificate_state(cluster, CERT) == (
        "waiting",
        "Certificate ns/exchange-tls: Issuing certificate",
    )
    cluster.put(request("current", "2026-01-02T00:00:00Z", {"reason": "Pending"}, revision="3"))
    assert edge_readiness.certificate_state(cluster, CERT)[0] == "waiting"


def test_a_request_of_a_spec_cert_manager_has_not_looked_at_yet_is_not_read() -> None:
    """A rollback puts an old spec back: until cert-manager has looked at it, the Failed request
    of the spec it replaces still carries the current revision and issuer."""
    cluster = FakeCluster()
    cluster.put(certificate({"status": "False", "observedGeneration": 0}))
    cluster.put(request("r-1", "2026-01-01T00:00:00Z", FAILED))
    assert edge_readiness.certificate_state(cluster, CERT)[0] == "waiting"


def route(parents: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "HTTPRoute",
        "metadata": {"name": ROUTE.name},
        "spec": {"parentRefs": [{"name": "edge", "namespace": "gateways"}]},
        "status": {"parents": parents},
    }


def parent(**conditions: str) -> dict[str, Any]:
    return {
        "parentRef": {"name": "edge"},
        "conditions": [
            {"type": kind, "status": status, "reason": "R", "message": "m"}
            for kind, status in conditions.items()
        ],
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            None,
            ("failed", "HTTPRoute ns/r-route disappeared"),
        ),
        (
            [],
            (
                "waiting",
                "Gateway gateways/edge has not accepted HTTPRoute ns/r-route yet (is its "
                "controller running?)",
            ),
        ),
        (
            [parent(Accepted="True")],
            (
                "waiting",
                "Gateway gateways/edge has not set ResolvedRefs on HTTPRoute ns/r-route yet",
            ),
        ),
        (
            [parent(Accepted="True", ResolvedRefs="False")],
            (
                "failed",
                "Gateway gateways/edge did not accept HTTPRoute ns/r-route: ResolvedRefs=False "
                "(R): m",
            ),
        ),
        (
            [parent(Accepted="True", ResolvedRefs="True")],
            ("ready", "HTTPRoute ns/r-route is accepted"),
        ),
    ],
)
def test_a_route_is_ready_when_every_gateway_accepted_it_and_resolved_its_backends(
    status: list[dict[str, Any]] | None, expected: tuple[str, str]
) -> None:
    cluster = FakeCluster()
    if status is not None:
        cluster.put(route(status))
    assert edge_readiness.route_state(cluster, ROUTE) == expected


def test_a_sealed_secret_the_controller_refuses_fails_with_the_controller_s_words() -> None:
    cluster = FakeCluster()
    cluster.put({"kind": "Secret", "metadata": {"name": "s"}, "data": {}})  # not the controller's
    sealed = {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": {"encryptedData": {"k": "dg=="}, "template": {"metadata": {}}},
    }
    with pytest.raises(sealed_secret_sync.UnsealFailed) as failed:
        sealed_secret_sync.apply_and_unseal(cluster, sealed, 5, Waiter(sleep=lambda seconds: None))
    assert str(failed.value) == (
        "the Sealed Secrets controller could not unseal SealedSecret ns/s "
        '(exchange_router_sealed_secret_encrypted_data): Resource "s" already exists and is not '
        "managed by SealedSecret"
    )
