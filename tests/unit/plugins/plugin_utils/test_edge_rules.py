"""plugins/plugin_utils/edge_rules.py, rule by rule: each problem of the optional objects' values
is one message naming the variable and the value; values that break no rule give none."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.edge_rules import problems

OFF: dict[str, Any] = {
    "ingress": {"enabled": False},
    "httproute": {"enabled": False},
    "autoscaling": {"enabled": True, "min_replicas": 2},
    "replicas": 3,
    "pdb": {"enabled": False},
    "network_policy": {"enabled": False},
    "service_account": {},
}
HOST = {"host": "exchange.example.com", "paths": [{"path": "/", "path_type": "Prefix"}]}
INGRESS = {"enabled": True, "hosts": [HOST]}
ROUTE = {
    "enabled": True,
    "parent_refs": [{"name": "edge"}],
    "hostnames": ["*.example.com"],
    "path": "/",
    "path_type": "PathPrefix",
}


def values(**changes: Any) -> dict[str, Any]:
    return dict(OFF, **changes)


@pytest.mark.parametrize(
    "good",
    [
        values(),
        values(ingress=dict(INGRESS, cluster_issuer="ca", tls_secret_name="exchange-tls")),
        values(ingress={"enabled": True, "hosts": [{"host": "a.example", "paths": [{}]}]}),
        values(
            ingress={
                "enabled": True,
                "hosts": [
                    {
                        "host": "a.example",
                        "paths": [{"path": "x", "path_type": "ImplementationSpecific"}],
                    }
                ],
            }
        ),
        values(httproute=ROUTE),
        values(pdb={"enabled": True, "max_unavailable": 1}),
        values(pdb={"enabled": True, "max_unavailable": "50%"}),
        values(pdb={"enabled": True, "min_available": 1}),
        values(pdb={"enabled": True, "min_available": "99%"}),
        values(
            autoscaling={"enabled": False},
            replicas=3,
            pdb={"enabled": True, "min_available": 2},
        ),
        values(network_policy={"enabled": True, "from": [{"podSelector": {}}]}),
        values(ingress=INGRESS, network_policy={"enabled": True, "edge_namespace": "traefik"}),
        values(service_account={"name": "exchange-router"}),
    ],
)
def test_values_that_break_no_rule_give_no_problem(good: dict[str, Any]) -> None:
    assert problems(good) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            values(ingress=INGRESS, httproute=ROUTE),
            "exchange_router_ingress and exchange_router_httproute are both enabled; a release "
            "is exposed through one of them",
        ),
        (
            values(ingress={"enabled": True}),
            "exchange_router_ingress.hosts: empty; an Ingress needs at least one host",
        ),
        (
            values(ingress={"enabled": True, "hosts": ["exchange.example.com"]}),
            'exchange_router_ingress.hosts[0]: "exchange.example.com" is not a mapping of host '
            "and paths",
        ),
        (
            values(ingress={"enabled": True, "hosts": [{"paths": [{}]}]}),
            "exchange_router_ingress.hosts[0].host: null is not a DNS name (DNS-1123 subdomain)",
        ),
        (
            values(ingress={"enabled": True, "hosts": [dict(HOST, paths=["/"])]}),
            'exchange_router_ingress.hosts[0].paths[0]: "/" is not a mapping of path and path_type',
        ),
        (
            values(ingress={"enabled": True, "hosts": [dict(HOST, paths=[{"path_type": "Glob"}])]}),
            'exchange_router_ingress.hosts[0].paths[0].path_type: "Glob" is not one of Prefix, '
            "Exact, ImplementationSpecific",
        ),
        (
            values(ingress={"enabled": True, "hosts": [dict(HOST, paths=[{"path": "api"}])]}),
            'exchange_router_ingress.hosts[0].paths[0].path: "api" must start with /',
        ),
        (
            values(ingress=dict(INGRESS, issuer="a", cluster_issuer="b")),
            'exchange_router_ingress: issuer "a" and cluster_issuer "b" are both set; '
            "cert-manager takes one",
        ),
        (
            values(ingress=dict(INGRESS, tls_secret_name="Exchange_TLS")),
            'exchange_router_ingress.tls_secret_name: "Exchange_TLS" is not a DNS-1123 subdomain',
        ),
        (
            values(httproute=dict(ROUTE, parent_refs=[])),
            "exchange_router_httproute.parent_refs: empty; an HTTPRoute attaches to at least one "
            "Gateway",
        ),
        (
            values(httproute=dict(ROUTE, parent_refs=[{"namespace": "edge"}])),
            'exchange_router_httproute.parent_refs[0]: {"namespace": "edge"} needs the '
            "Gateway's name",
        ),
        (
            values(httproute=dict(ROUTE, hostnames=["exchange!"])),
            'exchange_router_httproute.hostnames[0]: "exchange!" is not a DNS name',
        ),
        (
            values(httproute=dict(ROUTE, path_type="Prefix")),
            'exchange_router_httproute.path_type: "Prefix" is not one of PathPrefix, Exact, '
            "RegularExpression",
        ),
        (
            values(httproute=dict(ROUTE, path="api")),
            'exchange_router_httproute.path: "api" must start with /',
        ),
        (
            values(pdb={"enabled": True, "min_available": "half"}),
            'exchange_router_pdb.min_available: "half" is not a count or a percentage',
        ),
        (
            values(pdb={"enabled": True, "min_available": "100%"}),
            'exchange_router_pdb.min_available: "100%" with exchange_router_autoscaling.'
            "min_replicas 2: when the release runs that few pods, no pod may ever be evicted "
            "(node drains block); use a value below 2, or max_unavailable",
        ),
        (
            values(autoscaling={"enabled": False}, pdb={"enabled": True, "min_available": 3}),
            "exchange_router_pdb.min_available: 3 with exchange_router_replicas 3: when the "
            "release runs that few pods, no pod may ever be evicted (node drains block); use a "
            "value below 3, or max_unavailable",
        ),
        (
            values(pdb={"enabled": True, "max_unavailable": True}),
            "exchange_router_pdb.max_unavailable: true is not a count or a percentage",
        ),
        (
            values(pdb={"enabled": True, "max_unavailable": "101%"}),
            'exchange_router_pdb.max_unavailable: "101%" is not a count or a percentage',
        ),
        (
            values(pdb={"enabled": True, "max_unavailable": "0%"}),
            'exchange_router_pdb.max_unavailable: "0%" blocks every voluntary eviction',
        ),
        (
            values(network_policy={"enabled": True, "edge_namespace": "traefik"}),
            'exchange_router_network_policy: edge_namespace "traefik" is used only with an '
            "exposure (exchange_router_ingress or exchange_router_httproute); name the peers "
            "that may reach the router in from",
        ),
        (
            values(network_policy={"enabled": True}),
            "exchange_router_network_policy: nobody may reach the router: set from "
            "(NetworkPolicyPeers) or, with an exposure, edge_namespace (the namespace of the "
            "Ingress or Gateway controller)",
        ),
        (
            values(service_account={"name": "Router"}),
            'exchange_router_service_account.name: "Router" is not a DNS-1123 subdomain',
        ),
    ],
)
def test_each_problem_names_the_variable_and_the_value(bad: dict[str, Any], message: str) -> None:
    assert problems(bad) == [message]
