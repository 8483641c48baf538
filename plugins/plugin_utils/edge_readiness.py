# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release's edge: an Ingress whose TLS certificate cert-manager issues, or an HTTPRoute on
the user's Gateway. A deploy is done when its edge is: the certificate Ready, the route accepted
by every parent Gateway. A certificate cert-manager refuses, or a route a Gateway rejects, fails
the deploy with cert-manager's or the Gateway's own reason, and so rolls it back like a rollout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import catalogue
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, Ref, condition
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Waiter

ISSUER_ANNOTATIONS = ("cert-manager.io/issuer", "cert-manager.io/cluster-issuer")
# CertificateRequest Ready reasons after which cert-manager will not issue without a change
FATAL = {"Failed", "Denied", "InvalidRequest"}
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


def _certificates(obj: dict[str, Any]) -> list[Ref]:
    """The Certificates cert-manager's ingress-shim makes for an annotated Ingress."""
    annotations = obj["metadata"].get("annotations") or {}
    if obj["kind"] != "Ingress" or not any(a in annotations for a in ISSUER_ANNOTATIONS):
        return []
    namespace = obj["metadata"]["namespace"]
    return [Ref("Certificate", namespace, t["secretName"]) for t in obj["spec"].get("tls") or []]


def certificate_state(kube: Client, ref: Ref) -> tuple[str, str]:
    """('ready' | 'waiting' | 'failed', what cert-manager says)."""
    cert = kube.get(ref.kind, ref.namespace, ref.name)
    if cert is None:
        return "waiting", f"cert-manager has not made {ref} yet (is cert-manager running?)"
    ready = condition(cert, "Ready")
    fresh = ready.get("observedGeneration", 0) >= cert["metadata"].get("generation", 0)
    if ready.get("status") == "True" and fresh:
        return "ready", f"{ref} is Ready"
    requests = [
        r
        for r in kube.list("CertificateRequest", ref.namespace)
        if (r["metadata"].get("annotations") or {}).get("cert-manager.io/certificate-name")
        == ref.name
    ]
    requests.sort(key=lambda r: r["metadata"].get("creationTimestamp", ""))
    said = ready.get("message") or "not Ready"
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


def wait(kube: Client, objects: list[dict[str, Any]], timeout: float, waiter: Waiter) -> str:
    """'' when every certificate is issued and every route accepted, else why not."""
    checks: list[tuple[Ref, Callable[[Client, Ref], tuple[str, str]]]] = []
    for obj in objects:
        wait_kind = catalogue.entry(obj["kind"]).wait
        if wait_kind == catalogue.CERTIFICATE:
            checks += [(ref, certificate_state) for ref in _certificates(obj)]
        elif wait_kind == catalogue.ACCEPTED:
            checks.append((Ref.of(obj), route_state))
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
