# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The canary's writes to the cluster outside the release's own apply: the weights of the
release's HTTPRoute rule, the canary Deployment's replicas, and the gate's signal.

The Gateway API makes `spec.rules` and each rule's `backendRefs` atomic lists
(`x-kubernetes-list-type: atomic` in the v1.6.1 CRD the kind tier installs): server-side apply
cannot own one weight, only the whole list. So a weight write reads the live route, changes only
the `weight` of the two backendRefs of the release's own rule (the rule whose backendRefs name
the stable Service; filters, matches, timeouts, other rules and other backends as they are live)
and applies that list under a field manager of its own (`exchange.platform-canary`) with the
resourceVersion it read: a route someone changed in between is a 409, read again and written
again, never overwritten. The release's own apply (the promote's, any later deploy's) writes the
rule as the role renders it and takes the list back.

The canary Deployment's replicas are set the same way, as the only field of that manager's apply.
The gate's signal (playbooks/promote.yml, playbooks/abort.yml) is one annotation of the canary
Deployment under a third manager (`exchange.platform-gate`), which the canary reads at each check.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import canary_plan, catalogue
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Failed
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec

CANARY_MANAGER_SUFFIX = "-canary"
GATE_MANAGER_SUFFIX = "-gate"
GATE = "exchange.platform/canary-gate"
PROMOTE, ABORT = "promote", "abort"
TRIES = 3  # reads and writes of the route when someone else keeps writing it


@dataclass(frozen=True)
class Names:
    """The release's objects a canary touches, named as the catalogue names them."""

    namespace: str
    route: str
    stable_service: str
    canary_service: str
    stable: str  # Deployment
    canary: str  # Deployment
    hpa: str

    @classmethod
    def of(cls, spec: Spec) -> Names:
        name = spec.name
        return cls(
            spec.namespace,
            catalogue.name_of("route", name),
            catalogue.name_of("service", name),
            catalogue.name_of("canary_service", name),
            catalogue.name_of("deployment", name),
            catalogue.name_of("canary_deployment", name),
            catalogue.name_of("hpa", name),
        )

    @property
    def route_ref(self) -> Ref:
        return Ref("HTTPRoute", self.namespace, self.route)

    @property
    def canary_ref(self) -> Ref:
        return Ref("Deployment", self.namespace, self.canary)

    @property
    def stable_ref(self) -> Ref:
        return Ref("Deployment", self.namespace, self.stable)


def _rule(route: dict[str, Any], names: Names) -> dict[str, Any] | None:
    """The release's own rule: the first whose backendRefs name the stable Service."""
    for rule in (route.get("spec") or {}).get("rules") or []:
        if any(_ours(ref, names.stable_service) for ref in rule.get("backendRefs") or []):
            return rule
    return None


def _ours(ref: dict[str, Any], service: str) -> bool:
    """A backendRef to that Service of the route's namespace (a Service is the default kind)."""
    return (
        ref.get("name") == service
        and ref.get("kind", "Service") == "Service"
        and ref.get("group", "") == ""
        and not ref.get("namespace")
    )


def canary_weight(route: dict[str, Any] | None, names: Names) -> int | None:
    """The canary's weight in the release's rule, in percent of the two; None without both."""
    rule = _rule(route or {}, names)
    refs = (rule or {}).get("backendRefs") or []
    stable = next((r.get("weight", 1) for r in refs if _ours(r, names.stable_service)), None)
    canary = next((r.get("weight", 1) for r in refs if _ours(r, names.canary_service)), None)
    if stable is None or canary is None:
        return None
    total = stable + canary
    return round(100 * canary / total) if total else 0


def port(route: dict[str, Any] | None, names: Names) -> int:
    """The port of the canary's backendRef (Traefik's older metrics names carry it)."""
    rule = _rule(route or {}, names) or {}
    refs = [r for r in rule.get("backendRefs") or [] if _ours(r, names.canary_service)]
    return int(refs[0].get("port", 80)) if refs else 80


def with_weight(route: dict[str, Any], names: Names, weight: int) -> list[dict[str, Any]]:
    """The live route's rules with only the weights of the release's rule changed: stable
    100 - weight, canary weight (canary_plan.split). Failed when the rule lacks either."""
    rules = copy.deepcopy((route.get("spec") or {}).get("rules") or [])
    rule = _rule({"spec": {"rules": rules}}, names)
    if rule is None or canary_weight({"spec": {"rules": [rule]}}, names) is None:
        raise Failed(
            f"HTTPRoute {names.namespace}/{names.route} has no rule with backendRefs to both "
            f"{names.stable_service} and {names.canary_service}: the canary cannot set its weight"
        )
    stable_weight, canary_weight_ = canary_plan.split(weight)
    for ref in rule["backendRefs"]:
        if _ours(ref, names.stable_service):
            ref["weight"] = stable_weight
        elif _ours(ref, names.canary_service):
            ref["weight"] = canary_weight_
    return rules


def set_weight(kube: Client, names: Names, weight: int, manager: str) -> bool:
    """Send `weight` percent of the release's requests to the canary (the rest to stable): one
    write when the live weights differ, none when they already are; True if it wrote."""
    for attempt in range(TRIES):
        live = kube.get("HTTPRoute", names.namespace, names.route)
        if live is None:
            raise Failed(f"HTTPRoute {names.namespace}/{names.route} is gone: no weight to set")
        rules = with_weight(live, names, weight)
        if rules == live["spec"]["rules"]:
            return False
        body = {
            "apiVersion": live["apiVersion"],
            "kind": "HTTPRoute",
            "metadata": {
                "name": names.route,
                "namespace": names.namespace,
                "resourceVersion": live["metadata"]["resourceVersion"],
            },
            "spec": {"rules": rules},
        }
        try:
            kube.apply(body, manager=manager + CANARY_MANAGER_SUFFIX, force=True)
            return True
        except KubeError as error:
            if error.status != 409 or attempt == TRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def scale(kube: Client, names: Names, replicas: int, manager: str) -> bool:
    """Set the canary Deployment's replicas (its only field of the canary's manager); False when
    it does not exist or already has them."""
    live = kube.get("Deployment", names.namespace, names.canary)
    if live is None or live["spec"].get("replicas") == replicas:
        return False
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": names.canary, "namespace": names.namespace},
        "spec": {"replicas": replicas},
    }
    kube.apply(body, manager=manager + CANARY_MANAGER_SUFFIX, force=True)
    return True


def signal(kube: Client, names: Names) -> str:
    """The gate's signal on the canary Deployment: promote, abort or ''."""
    live = kube.get("Deployment", names.namespace, names.canary) or {}
    return ((live.get("metadata") or {}).get("annotations") or {}).get(GATE, "")


def send(kube: Client, names: Names, value: str, manager: str) -> bool:
    """Write the gate's signal (promote, abort; '' clears it); False without a canary
    Deployment."""
    if kube.get("Deployment", names.namespace, names.canary) is None:
        return False
    meta: dict[str, Any] = {"name": names.canary, "namespace": names.namespace}
    if value:
        meta["annotations"] = {GATE: value}
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta}
    kube.apply(body, manager=manager + GATE_MANAGER_SUFFIX, force=True)
    return True
