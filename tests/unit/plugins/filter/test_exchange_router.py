"""The exchange_router filter plugin, used as Ansible does: through FilterModule().filters()."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ansible._internal._datatag._tags import Origin
from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.platform.plugins.filter.exchange_router import FilterModule

FILTERS = FilterModule().filters()
k8s_quantity = FILTERS["k8s_quantity"]
k8s_quantity_canonical = FILTERS["k8s_quantity_canonical"]
validate_resources = FILTERS["validate_resources"]
validate_scaling = FILTERS["validate_scaling"]

ORIGIN = Origin(path="/tmp/vars.yml", line_num=1)


def tagged(value: Any) -> Any:
    """The value as Ansible 2.19 hands it over from a variables file: tagged, subclassed."""
    if isinstance(value, dict):
        return ORIGIN.tag({tagged(key): tagged(item) for key, item in value.items()})
    if isinstance(value, list):
        return ORIGIN.tag([tagged(item) for item in value])
    return ORIGIN.tag(value)


def assert_plain(value: Any) -> None:
    assert type(value) in (dict, list, str, int, float, bool, type(None)), type(value)
    if isinstance(value, dict):
        for key, item in value.items():
            assert_plain(key)
            assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain(item)


def test_exports_exactly_five_filters() -> None:
    assert sorted(FILTERS) == [
        "k8s_quantity",
        "k8s_quantity_canonical",
        "validate_edge",
        "validate_resources",
        "validate_scaling",
    ]


def test_validate_edge_returns_good_values_and_names_every_problem() -> None:
    off = {"enabled": False}
    good = {
        "ingress": {"enabled": True, "hosts": [{"host": "*.example.com"}]},
        "httproute": off,
        "pdb": {"enabled": True, "max_unavailable": "50%", "min_available": None},
        "network_policy": {"enabled": True, "edge_namespace": "traefik", "from": []},
        "service_account": {"create": True, "name": ""},
        "autoscaling": {"enabled": True, "min_replicas": 2},
        "replicas": 1,
    }
    assert FILTERS["validate_edge"](good) == good
    bad = dict(
        good,
        pdb={"enabled": True, "max_unavailable": "0%", "min_available": None},
        service_account={"name": "Router"},
    )
    with pytest.raises(AnsibleFilterError) as error:
        FILTERS["validate_edge"](bad)
    assert 'exchange_router_pdb.max_unavailable: "0%" blocks every voluntary eviction' in str(
        error.value
    )
    assert 'exchange_router_service_account.name: "Router"' in str(error.value)
    with pytest.raises(AnsibleFilterError, match="expects a mapping"):
        FILTERS["validate_edge"]([])


# (value, what the API server stores, the fully canonical form)
QUANTITIES = [
    ("2000m", "2", "2"),
    ("1024Mi", "1Gi", "1Gi"),
    (0.5, "500m", "500m"),
    (1000, "1k", "1k"),
    ("1e3", "1e3", "1e3"),
    # spellings the API server keeps as written (issue 11)
    ("1.500", "1.500", "1500m"),
    ("+1Gi", "+1Gi", "1Gi"),
    ("100.035k", "100.035k", "100035"),
    ("1.", "1.", "1"),
    (1e18, "1e+18", "1e18"),
]


@pytest.mark.parametrize(("value", "stored", "canonical"), QUANTITIES)
def test_k8s_quantity_returns_what_the_api_server_stores(
    value: object, stored: str, canonical: str
) -> None:
    assert k8s_quantity(value) == stored
    result = k8s_quantity(tagged(value))
    assert result == stored
    assert type(result) is str


@pytest.mark.parametrize(("value", "stored", "canonical"), QUANTITIES)
def test_k8s_quantity_canonical(value: object, stored: str, canonical: str) -> None:
    result = k8s_quantity_canonical(tagged(value))
    assert result == canonical
    assert type(result) is str


@pytest.mark.parametrize("name", ["k8s_quantity", "k8s_quantity_canonical"])
@pytest.mark.parametrize(
    "value", ["2x", "", "1 Gi", True, None, ["1"], "E-18446744073709551616", "1000E"]
)
def test_quantity_errors_name_the_value(name: str, value: object) -> None:
    with pytest.raises(AnsibleFilterError) as excinfo:
        FILTERS[name](value)
    assert repr(value) in str(excinfo.value)
    assert excinfo.value.__cause__ is None


def test_validate_resources_takes_tagged_values() -> None:
    given = tagged({"requests": {"cpu": 0.5, "memory": "1024Mi"}, "limits": {"cpu": 2}})
    result = validate_resources(given, path="exchange_router_resources")
    assert result == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2"}}
    assert_plain(result)


def test_validate_resources_error_lists_every_problem() -> None:
    given = tagged({"request": {}, "requests": {"cpu": 3}, "limits": {"cpu": 2, "memory": "x"}})
    with pytest.raises(AnsibleFilterError) as excinfo:
        validate_resources(given)
    assert str(excinfo.value).splitlines() == [
        "resources.request: unknown field 'request' (did you mean 'requests'?)",
        "resources.limits.memory: invalid quantity 'x': quantities must match the regular "
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        "resources.requests.cpu: request 3 is above limits.cpu 2",
    ]


def test_validate_scaling_takes_tagged_values() -> None:
    spec = {
        "minReplicas": 2,
        "maxReplicas": 6,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70},
                },
            }
        ],
    }
    result = validate_scaling(
        tagged(spec), resources=tagged({"requests": {"cpu": "250m"}}), replicas=tagged(3)
    )
    assert result == spec
    assert_plain(result)


def test_validate_scaling_error() -> None:
    with pytest.raises(AnsibleFilterError) as excinfo:
        validate_scaling(
            {"maxReplicas": 2},
            {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}},
            3,
            "hpa",
            resources_path="res",
        )
    assert str(excinfo.value).splitlines() == ["replicas: 3 is above hpa.maxReplicas 2 (must lie "
                                               "within [1, 2])"]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("k8s_quantity", {"path": "x"}),
        ("validate_resources", {"pth": "x"}),
        ("validate_scaling", {"resource": {}}),
    ],
)
def test_unknown_keyword_arguments_are_rejected_by_name(name: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        FILTERS[name]("1", **kwargs)


LAZY_TEMPLATING = """
import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible.template import Templar, trust_as_template as t

variables = {
    "cpu": "500m",
    "res": {"requests": {"cpu": t("{{ cpu }}"), "memory": t("{{ '1024' ~ 'Mi' }}")}},
    "spec": {"maxReplicas": t("{{ 1 + 2 }}"), "metrics": [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": t("{{ 50 }}")}}}]},
}
templar = Templar(loader=DataLoader(), variables=variables)
resources = templar.template(t("{{ res | exchange.platform.validate_resources }}"))
spec = templar.template(t("{{ spec | exchange.platform.validate_scaling(resources=res) }}"))
try:
    templar.template(t("{{ res | exchange.platform.validate_scaling(replicas=1) }}"))
except Exception as error:
    failure = str(error)
print(json.dumps({"resources": resources, "spec": spec, "failure": failure,
                  "types": [type(resources).__name__, type(spec["metrics"]).__name__]}))
"""


def test_lazy_containers_through_the_templar(in_ansible: Callable[[str], Any]) -> None:
    """Ansible 2.19 passes lazy containers whose templates render on access."""
    output = in_ansible(LAZY_TEMPLATING)
    assert output["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}}
    assert output["spec"]["maxReplicas"] == 3
    assert output["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    assert output["types"] == ["dict", "list"]
    assert "spec.requests: unknown field 'requests'" in output["failure"]
    assert "spec.maxReplicas: required value" in output["failure"]
