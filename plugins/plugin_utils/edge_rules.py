# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules no type can express for the release's optional objects: one exposure at a time,
hosts and paths the edge can route, a disruption budget that still allows voluntary evictions,
a network policy that names who may reach the pods, and the pods' ServiceAccount name.

Pure Python. `problems` takes the role's (defaults-merged) values and returns one message per
problem, each naming the variable and its value; the filter validate_edge raises them at once.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.names import (
    is_dns1123_subdomain,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.problems import as_json

INGRESS_PATH_TYPES = ("Prefix", "Exact", "ImplementationSpecific")
ROUTE_PATH_TYPES = ("PathPrefix", "Exact", "RegularExpression")
PERCENT = re.compile(r"(\d{1,3})%")


def _host_ok(host: Any) -> bool:
    return isinstance(host, str) and is_dns1123_subdomain(host.removeprefix("*."))


def _ingress(ingress: dict[str, Any]) -> list[str]:
    out = []
    var = "exchange_router_ingress"
    if not ingress.get("hosts"):
        out.append(f"{var}.hosts: empty; an Ingress needs at least one host")
    for i, entry in enumerate(ingress.get("hosts") or []):
        if not isinstance(entry, dict):
            out.append(f"{var}.hosts[{i}]: {as_json(entry)} is not a mapping of host and paths")
            continue
        host = entry.get("host")
        if not _host_ok(host):
            out.append(
                f"{var}.hosts[{i}].host: {as_json(host)} is not a DNS name (DNS-1123 subdomain)"
            )
        for j, path in enumerate(entry.get("paths") or []):
            where = f"{var}.hosts[{i}].paths[{j}]"
            if not isinstance(path, dict):
                out.append(f"{where}: {as_json(path)} is not a mapping of path and path_type")
                continue
            kind = path.get("path_type", "Prefix")
            if kind not in INGRESS_PATH_TYPES:
                out.append(
                    f"{where}.path_type: {as_json(kind)} is not one of "
                    + ", ".join(INGRESS_PATH_TYPES)
                )
            if kind != "ImplementationSpecific" and not str(path.get("path", "/")).startswith("/"):
                out.append(f"{where}.path: {as_json(path.get('path'))} must start with /")
    if ingress.get("issuer") and ingress.get("cluster_issuer"):
        out.append(
            f"{var}: issuer {as_json(ingress['issuer'])} and cluster_issuer "
            f"{as_json(ingress['cluster_issuer'])} are both set; cert-manager takes one"
        )
    tls = ingress.get("tls_secret_name")
    if tls and not is_dns1123_subdomain(tls):
        out.append(f"{var}.tls_secret_name: {as_json(tls)} is not a DNS-1123 subdomain")
    return out


def _route(route: dict[str, Any]) -> list[str]:
    out = []
    var = "exchange_router_httproute"
    parents = route.get("parent_refs") or []
    if not parents:
        out.append(f"{var}.parent_refs: empty; an HTTPRoute attaches to at least one Gateway")
    for i, parent in enumerate(parents):
        if not isinstance(parent, dict) or not is_dns1123_subdomain(parent.get("name")):
            out.append(f"{var}.parent_refs[{i}]: {as_json(parent)} needs the Gateway's name")
    for i, host in enumerate(route.get("hostnames") or []):
        if not _host_ok(host):
            out.append(f"{var}.hostnames[{i}]: {as_json(host)} is not a DNS name")
    if route.get("path_type") not in ROUTE_PATH_TYPES:
        out.append(
            f"{var}.path_type: {as_json(route.get('path_type'))} is not one of "
            f"{', '.join(ROUTE_PATH_TYPES)}"
        )
    if not str(route.get("path", "")).startswith("/"):
        out.append(f"{var}.path: {as_json(route.get('path'))} must start with /")
    return out


def _amount(value: Any) -> tuple[int, bool] | None:
    """(number, is_percent) of an IntOrString, or None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value, False
    match = PERCENT.fullmatch(str(value))
    if isinstance(value, str) and match and int(match.group(1)) <= 100:
        return int(match.group(1)), True
    return None


def _pdb(pdb: dict[str, Any], floor: int, floor_var: str) -> list[str]:
    var = "exchange_router_pdb"
    most, least = pdb.get("max_unavailable"), pdb.get("min_available")
    if least is not None:
        amount = _amount(least)
        if amount is None:
            return [f"{var}.min_available: {as_json(least)} is not a count or a percentage"]
        number, percent = amount
        if (percent and number == 100) or (not percent and number >= floor):
            return [
                f"{var}.min_available: {as_json(least)} with {floor_var} {floor}: when the "
                "release runs that few pods, no pod may ever be evicted (node drains block); "
                f"use a value below {floor}, or max_unavailable"
            ]
        return []
    amount = _amount(most)
    if amount is None:
        return [f"{var}.max_unavailable: {as_json(most)} is not a count or a percentage"]
    if amount[0] == 0:
        return [f"{var}.max_unavailable: {as_json(most)} blocks every voluntary eviction"]
    return []


def _network_policy(policy: dict[str, Any], exposed: bool) -> list[str]:
    var = "exchange_router_network_policy"
    if policy.get("from"):
        return []
    if policy.get("edge_namespace"):
        return (
            []
            if exposed
            else [
                f"{var}: edge_namespace {as_json(policy['edge_namespace'])} is used only with an "
                "exposure (exchange_router_ingress or exchange_router_httproute); name the peers "
                "that may reach the router in from"
            ]
        )
    return [
        f"{var}: nobody may reach the router: set from (NetworkPolicyPeers) or, with an "
        "exposure, edge_namespace (the namespace of the Ingress or Gateway controller)"
    ]


def problems(values: dict[str, Any]) -> list[str]:
    """Every problem of the optional objects' values (merged with their defaults)."""
    out: list[str] = []
    ingress, route = values["ingress"], values["httproute"]
    if ingress.get("enabled") and route.get("enabled"):
        out.append(
            "exchange_router_ingress and exchange_router_httproute are both enabled; a release "
            "is exposed through one of them"
        )
    if ingress.get("enabled"):
        out += _ingress(ingress)
    if route.get("enabled"):
        out += _route(route)
    scaling = values["autoscaling"]
    if values["pdb"].get("enabled"):
        if scaling.get("enabled"):
            floor, floor_var = scaling["min_replicas"], "exchange_router_autoscaling.min_replicas"
        else:
            floor, floor_var = values["replicas"], "exchange_router_replicas"
        out += _pdb(values["pdb"], int(floor), floor_var)
    if values["network_policy"].get("enabled"):
        exposed = bool(ingress.get("enabled") or route.get("enabled"))
        out += _network_policy(values["network_policy"], exposed)
    account = values["service_account"]
    if account.get("name") and not is_dns1123_subdomain(account["name"]):
        out.append(
            f"exchange_router_service_account.name: {as_json(account['name'])} is not a DNS-1123 "
            "subdomain"
        )
    return out
