# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release's edge: an Ingress whose TLS certificate the release's own cert-manager Certificate
issues, or an HTTPRoute on the user's Gateway. A deploy is done when its edge is: the Certificate
Ready for its current spec, the route accepted by every parent Gateway. A certificate cert-manager
refuses, or a route a Gateway rejects, fails the deploy with cert-manager's or the Gateway's own
reason, and so rolls it back like a rollout. revision.put waits for the certificates alone
(`only`) before it applies the kinds that send clients to them (the Ingress).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import catalogue
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, Ref, condition
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Waiter

# CertificateRequest Ready reasons after which cert-manager will not issue without a change
FATAL = {"Failed", "Denied", "InvalidRequest"}
CERTIFICATE_NAME = "cert-manager.io/certificate-name"
CERTIFICATE_REVISION = "cert-manager.io/certificate-revision"
POLL = 1.0


def urls(objects: list[dict[str, Any]]) -> list[str]:
    """Where the release answers: each Ingress host and path, each HTTPRoute hostname."""
    found = []
    for obj in objects:
        spec = obj.get("spec", {})
        if obj["kind"] == "Ingress":
            scheme = "https" if spec.get("tls") else "http"
            for rule in spec.get("rules") or []:
                for path in rule.get("http", {}).get("paths") or []:
                    found.append(f"{scheme}://{rule['host']}{path.get('path', '/')}")
        elif obj["kind"] == "HTTPRoute":
            value = spec["rules"][0]["matches"][0]["path"]["value"]
            found += [f"https://{host}{value}" for host in spec.get("hostnames") or []]
    return found


def _issuer(ref: dict[str, Any] | None) -> tuple[str, str, str]:
    """An issuerRef with cert-manager's defaults filled in (kind Issuer, group cert-manager.io)."""
    ref = ref or {}
    return ref.get("name", ""), ref.get("kind") or "Issuer", ref.get("group") or "cert-manager.io"


def _current_requests(kube: Client, cert: dict[str, Any]) -> list[dict[str, Any]]:
    """The Certificate's CertificateRequests of its current issuance, oldest first: made for its
    next revision (status.revision + 1) from its current issuerRef. An earlier attempt's request
    (a broken issuer since fixed) says nothing about this one."""
    name, namespace = cert["metadata"]["name"], cert["metadata"]["namespace"]
    issuance = str(int(cert.get("status", {}).get("revision") or 0) + 1)
    issuer = _issuer(cert.get("spec", {}).get("issuerRef"))
    requests = [
        r
        for r in kube.list("CertificateRequest", namespace)
        if (r["metadata"].get("annotations") or {}).get(CERTIFICATE_NAME) == name
        and (r["metadata"].get("annotations") or {}).get(CERTIFICATE_REVISION) == issuance
        and _issuer(r.get("spec", {}).get("issuerRef")) == issuer
    ]
    return sorted(requests, key=lambda r: r["metadata"].get("creationTimestamp", ""))


def certificate_state(kube: Client, ref: Ref) -> tuple[str, str]:
    """('ready' | 'waiting' | 'failed', what cert-manager says). Only a Ready condition cert-manager
    set for the Certificate's current generation counts, and only then its requests (until it
    has looked at a new spec, a request of the old one may still look current)."""
    cert = kube.get(ref.kind, ref.namespace, ref.name)
    if cert is None:
        return "waiting", f"{ref} is not there (was it deleted?)"
    ready = condition(cert, "Ready")
    generation = cert["metadata"].get("generation", 0)
    if ready.get("observedGeneration", 0) < generation:
        return "waiting", (
            f"cert-manager has not looked at generation {generation} of {ref} yet "
            "(is cert-manager running?)"
        )
    if ready.get("status") == "True":
        return "ready", f"{ref} is Ready"
    said = ready.get("message") or "not Ready"
    requests = _current_requests(kube, cert)
    if requests:
        request = condition(requests[-1], "Ready")
        if request.get("reason") in FATAL:
            return "failed", (
                f"cert-manager could not issue {ref}: {request.get('reason')}: "
                f"{request.get('message')}"
            )
        said = request.get("message") or said
    return "waiting", f"{ref}: {said}"


def route_state(kube: Client, ref: Ref) -> tuple[str, str]:
    route = kube.get(ref.kind, ref.namespace, ref.name)
    if route is None:
        return "failed", f"{ref} disappeared"
    statuses = route.get("status", {}).get("parents") or []
    for parent in route["spec"].get("parentRefs") or []:
        status = next(
            (s for s in statuses if s.get("parentRef", {}).get("name") == parent["name"]), None
        )
        gateway = f"Gateway {parent.get('namespace', ref.namespace)}/{parent['name']}"
        if status is None:
            return "waiting", f"{gateway} has not accepted {ref} yet (is its controller running?)"
        for kind in ("Accepted", "ResolvedRefs"):
            cond = next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})
            if cond.get("status") == "False":
                return "failed", (
                    f"{gateway} did not accept {ref}: {kind}=False ({cond.get('reason')}): "
                    f"{cond.get('message')}"
                )
            if cond.get("status") != "True":
                return "waiting", f"{gateway} has not set {kind} on {ref} yet"
    return "ready", f"{ref} is accepted"


def wait(
    kube: Client,
    objects: list[dict[str, Any]],
    timeout: float,
    waiter: Waiter,
    only: tuple[str, ...] = (catalogue.CERTIFICATE, catalogue.ACCEPTED),
) -> str:
    """'' when every certificate is issued and every route accepted (of the waits in `only`),
    else why not."""
    probes = {catalogue.CERTIFICATE: certificate_state, catalogue.ACCEPTED: route_state}
    checks: list[tuple[Ref, Callable[[Client, Ref], tuple[str, str]]]] = [
        (Ref.of(obj), probes[catalogue.entry(obj["kind"]).wait])
        for obj in objects
        if catalogue.entry(obj["kind"]).wait in only
    ]
    if not checks:
        return ""
    waiting: list[str] = []

    def probe() -> str | None:
        states = [check(kube, ref) for ref, check in checks]
        failed = [message for state, message in states if state == "failed"]
        if failed:
            return "The edge failed: " + "; ".join(failed)
        waiting[:] = [message for state, message in states if state == "waiting"]
        return None if waiting else ""

    answer = waiter.until(probe, timeout, POLL)
    if answer is None:
        return f"The edge is not ready after {timeout:g}s: " + "; ".join(waiting)
    return answer
