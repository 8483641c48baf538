"""The Ingress's certificate as a release member (issue 24, "certificates before traffic"): the
release's own cert-manager Certificate is applied, waited on until Ready, and only then is the
Ingress applied; a certificate that cannot be issued fails the deploy with cert-manager's reason
and rolls it back with the Ingress never written. Over the in-memory cluster, with a fake
cert-manager that issues or refuses what each Certificate asks for."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.client import Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Waiter
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.test_actions import (
    NAME,
    World,
    writes,
)

INGRESS_REF = Ref("Ingress", "ns", f"{NAME}-ingress")
CERT = Ref("Certificate", "ns", f"{NAME}-tls")
HOSTS = [{"host": "x.example"}]


def ingress(**extra: Any) -> dict[str, Any]:
    return dict({"enabled": True, "hosts": HOSTS, "cluster_issuer": "ca"}, **extra)


class CertManager:
    """cert-manager over the fake cluster, working while the deployer sleeps (a fake clock): a
    Certificate written is looked at on the deployer's next sleep. It is Ready for its
    generation when its secret was issued for that spec (a rollback to it); else it is issued
    (the next revision) unless its issuer is missing or it names a host the CA refuses: then a
    Failed CertificateRequest of that issuance, and Ready False. `seen` is what each Ingress
    write found of the Certificate it points at: whether it was Ready for its spec then."""

    def __init__(self, world: World, refused_hosts: tuple[str, ...] = ()) -> None:
        self.kube = world.kube
        self.issuers = {"ca"}
        self.refused_hosts = set(refused_hosts)
        self.issued: dict[str, Any] = {}  # secret name -> the spec it was issued for
        self.requests = 0
        self.seen: list[tuple[str, bool]] = []
        self.pending: list[Ref] = []
        self.now = 0.0
        world.kube.controllers.append(self.written)
        world.waiter = Waiter(clock=lambda: self.now, sleep=self.work)

    def written(self, obj: dict[str, Any]) -> None:
        if obj["kind"] == "Certificate":
            self.pending.append(Ref.of(obj))
        for tls in obj["spec"].get("tls") or [] if obj["kind"] == "Ingress" else []:
            cert = self.kube.objects.get(Ref("Certificate", "ns", tls["secretName"]))
            ready = (cert or {}).get("status", {}).get("conditions", [{}])[0]
            fresh = ready.get("observedGeneration") == (cert or {}).get("metadata", {}).get(
                "generation"
            )
            self.seen.append((tls["secretName"], fresh and ready.get("status") == "True"))

    def work(self, seconds: float) -> None:
        self.now += seconds
        pending, self.pending = self.pending, []
        for ref in pending:
            if ref in self.kube.objects:
                self.reconcile(self.kube.objects[ref])

    def reconcile(self, obj: dict[str, Any]) -> None:
        spec, status = obj["spec"], obj.setdefault("status", {})
        generation = obj["metadata"]["generation"]
        refused = spec["issuerRef"]["name"] not in self.issuers or any(
            host in self.refused_hosts for host in spec["dnsNames"]
        )
        ready = {"type": "Ready", "status": "True", "observedGeneration": generation}
        if self.issued.get(spec["secretName"]) == spec:
            pass
        elif refused:
            ready.update(status="False", message="Issuing certificate as Secret does not exist")
            self._failed_request(obj)
        else:
            self.issued[spec["secretName"]] = spec
            status["revision"] = status.get("revision", 0) + 1
        status["conditions"] = [ready]

    def _failed_request(self, cert: dict[str, Any]) -> None:
        self.requests += 1
        name = f"{cert['metadata']['name']}-{self.requests}"
        issuance = str(cert["status"].get("revision", 0) + 1)
        self.kube.objects[Ref("CertificateRequest", "ns", name)] = {
            "kind": "CertificateRequest",
            "metadata": {
                "name": name,
                "namespace": "ns",
                "creationTimestamp": f"2026-12-07T08:00:{self.requests:02d}Z",
                "annotations": {
                    "cert-manager.io/certificate-name": cert["metadata"]["name"],
                    "cert-manager.io/certificate-revision": issuance,
                },
            },
            "spec": {"issuerRef": cert["spec"]["issuerRef"]},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "Failed",
                        "message": f"the issuer refused {cert['spec']['dnsNames']}",
                    }
                ]
            },
        }


@pytest.fixture
def world() -> World:
    world = World()
    world.existing()
    return world


def test_the_certificate_is_issued_before_the_ingress_points_at_it(world: World) -> None:
    cert_manager = CertManager(world)
    rel = world.run(ingress=ingress())
    assert not rel.failed, rel.msg
    assert rel.msg.endswith("it answers at https://x.example/")
    applied = [(kind, name) for verb, kind, name in writes(world.kube) if verb.startswith("apply")]
    assert applied.index(("Certificate", CERT.name)) < applied.index(("Ingress", INGRESS_REF.name))
    assert cert_manager.seen == [(CERT.name, True)]
    cert = world.live(CERT)
    assert cert is not None and cert["spec"] == {
        "secretName": CERT.name,
        "dnsNames": ["x.example"],
        "issuerRef": {"name": "ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
    }
    ingress_live = world.live(INGRESS_REF)
    assert ingress_live is not None
    assert "annotations" not in ingress_live["metadata"]  # no ingress-shim competing
    assert ingress_live["spec"]["tls"] == [{"hosts": ["x.example"], "secretName": CERT.name}]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"enabled": True, "hosts": HOSTS}, ingress(cluster_issuer="no-such-issuer")),
        (ingress(), ingress(cluster_issuer="no-such-issuer", tls_secret_name="renewed-tls")),
        (ingress(), ingress(hosts=[*HOSTS, {"host": "refused.example"}])),
    ],
    ids=["tls-turned-on", "a-new-tls-secret-name", "a-new-host"],
)
def test_a_certificate_that_cannot_be_issued_fails_and_rolls_back_with_the_ingress_untouched(
    world: World, before: dict[str, Any], after: dict[str, Any]
) -> None:
    cert_manager = CertManager(world, refused_hosts=("refused.example",))
    first = world.run(ingress=before)
    assert not first.failed, first.msg
    ingress_before = world.live(INGRESS_REF)
    world.kube.calls.clear()
    rel = world.run(image="router:v2", ingress=after)
    assert rel.failed and rel.rolled_back_to == 1, rel.msg
    assert "The edge failed: cert-manager could not issue Certificate ns/" in rel.msg
    assert ": Failed: the issuer refused" in rel.msg
    assert "Rolled back to revision 1 (recorded as revision 3)" in rel.msg
    assert [c for c in writes(world.kube) if c[1] == "Ingress"] == []  # never written
    assert world.live(INGRESS_REF) == ingress_before
    assert world.image() == "router:v1"
    assert [r["status"] for r in world.history()] == ["superseded", "failed", "deployed"]
    certificates = {ref.name for ref in world.kube.objects if ref.kind == "Certificate"}
    assert certificates == ({CERT.name} if before.get("cluster_issuer") else set())
    if certificates:  # its revision 1 spec is back, and Ready
        assert cert_manager.issued[CERT.name] == world.live(CERT)["spec"]  # type: ignore[index]


def test_a_renamed_tls_secret_is_issued_first_and_the_old_certificate_pruned_after(
    world: World,
) -> None:
    cert_manager = CertManager(world)
    world.run(ingress=ingress())
    rel = world.run(ingress=ingress(tls_secret_name="renewed-tls"))
    assert not rel.failed, rel.msg
    assert cert_manager.seen == [(CERT.name, True), ("renewed-tls", True)]
    assert world.live(CERT) is None
    assert world.live(Ref("Certificate", "ns", "renewed-tls")) is not None
    deleted = [name for verb, kind, name in writes(world.kube) if verb.startswith("delete")]
    applied = [name for verb, kind, name in writes(world.kube) if verb.startswith("apply")]
    assert CERT.name in deleted and applied[-1] == INGRESS_REF.name


def test_an_issuer_fixed_after_a_failed_deploy_is_not_failed_by_the_old_request(
    world: World,
) -> None:
    """Issue 24: the Failed request of the broken issuer stays; the deploy that fixes the issuer
    changes only the Certificate and the Ingress, and must not be failed by it."""
    cert_manager = CertManager(world)
    world.run()
    broken = world.run(ingress=ingress(cluster_issuer="broken"))
    assert broken.failed and "the issuer refused" in broken.msg
    assert any(ref.kind == "CertificateRequest" for ref in world.kube.objects)
    rel = world.run(ingress=ingress())
    assert not rel.failed, rel.msg
    assert cert_manager.seen == [(CERT.name, True)]


def test_a_certificate_never_looked_at_times_out_with_the_ingress_untouched(
    world: World,
) -> None:
    world.run()
    rel = world.run(ingress=ingress(), edge_timeout=1)
    assert rel.failed
    assert "The edge is not ready after 1s: cert-manager has not looked at generation 1 of " in (
        rel.msg
    )
    assert [c for c in writes(world.kube) if c[1] == "Ingress"] == []


def test_without_waiting_the_ingress_is_applied_at_once(world: World) -> None:
    rel = world.run(ingress=ingress(), wait=False)
    assert not rel.failed, rel.msg
    assert world.live(INGRESS_REF) is not None and world.live(CERT) is not None


def test_check_mode_shows_the_certificate_and_writes_nothing(world: World) -> None:
    world.run()
    world.kube.calls.clear()
    rel = world.run(check=True, ingress=ingress())
    assert rel.changed and not rel.failed, rel.msg
    assert [d["after_header"] for d in rel.diff][-2:] == [
        f"Certificate ns/{CERT.name} (after apply)",
        f"Ingress ns/{INGRESS_REF.name} (after apply)",
    ]
    assert [c for c in writes(world.kube) if c[1] != "Lease"] == []


def test_history_rollback_prune_and_removal_carry_the_certificate(world: World) -> None:
    CertManager(world)
    world.run(ingress=ingress())
    assert "Certificate" in [o["kind"] for o in world.stores["ns"].records[0].objects]  # type: ignore[index]
    dropped = world.run()  # the Ingress and its Certificate leave the release
    assert not dropped.failed and world.live(CERT) is None and world.live(INGRESS_REF) is None
    back = world.run(state="rollback", rollback_revision=1)
    assert not back.failed, back.msg
    assert world.live(CERT) is not None and world.live(INGRESS_REF) is not None
    removed = world.run(state="absent")
    assert not removed.failed and world.live(CERT) is None
