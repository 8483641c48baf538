"""plugins/plugin_utils/catalogue.py: the one table of kinds, checked against the role's
templates, so a template without an entry (or an entry without a template) fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    catalogue,
    preflight,
    template_context,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import P, role_defaults

TEMPLATES = Path(__file__).resolve().parents[4] / "roles/exchange_router/templates"
OBJECTS = "objects.yaml.j2"  # the list of includes, itself made from the catalogue


def test_every_template_has_one_entry_and_every_entry_a_template() -> None:
    files = sorted(p.name for p in TEMPLATES.glob("*.j2") if p.name != OBJECTS)
    entries = sorted(k.template for k in catalogue.RELEASE_KINDS)
    assert entries == files
    for entry in catalogue.RELEASE_KINDS:
        text = (TEMPLATES / entry.template).read_text()
        assert f"kind: {entry.kind}\n" in text, entry.template
        assert f"apiVersion: {entry.api_version}\n" in text, entry.template


def test_the_list_of_objects_is_the_catalogue_s_not_a_list_of_its_own() -> None:
    text = (TEMPLATES / OBJECTS).read_text()
    assert re.findall(r"include '([^']+)'", text) == []
    assert "{% for template in __exchange_router_templates %}" in text


def test_every_object_name_a_template_uses_comes_from_the_context() -> None:
    v = dict(role_defaults())
    context = template_context.context(v, {})
    used = set()
    for path in TEMPLATES.glob("*.j2"):
        used |= set(re.findall(r"__exchange_router_(\w+_name)\b", path.read_text()))
    assert {f"__exchange_router_{name}" for name in used} <= set(context)


def test_the_release_kinds_in_apply_order_what_the_pods_need_first() -> None:
    assert catalogue.ORDER == [
        "ServiceAccount",
        "Secret",
        "SealedSecret",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Ingress",
        "HTTPRoute",
    ]
    assert catalogue.apply_order({"kind": "ConfigMap"}) == len(catalogue.ORDER)
    assert catalogue.templates(dict(role_defaults())) == [
        "service.yaml.j2",
        "deployment.yaml.j2",
        "hpa.yaml.j2",
    ]


def test_api_paths_of_core_and_group_kinds() -> None:
    assert catalogue.api_path("Pod", "ns", "p", "log") == "/api/v1/namespaces/ns/pods/p/log"
    assert catalogue.api_path("Lease", "ns") == (
        "/apis/coordination.k8s.io/v1/namespaces/ns/leases"
    )


def test_field_sources_name_a_role_variable_for_each_field() -> None:
    sources = catalogue.FIELD_SOURCES
    assert sources["namespace"] == "exchange_router_namespace"
    assert sources["*:metadata.labels"] == "exchange_router_labels"
    assert sources["Service:spec.ports"] == "exchange_router_service_port"
    assert sources["HTTPRoute:"] == "exchange_router_httproute"
    assert all(variable in role_defaults() for variable in sources.values())
    assert all(v.startswith(P) for v in sources.values())


def test_only_the_secret_holds_secret_values() -> None:
    holders = [k.kind for k in catalogue.KINDS if catalogue.holds_secret_values(k.kind)]
    assert holders == ["Secret"]
    assert not catalogue.holds_secret_values("ConfigMap")  # not a kind of the catalogue


def test_refs_name_every_object_a_release_can_own() -> None:
    """The ServiceAccount was once missing: removal without history left it behind."""
    refs = {
        r["kind"]: r["metadata"]["name"]
        for r in catalogue.refs(dict(role_defaults(), **{P + "name": "xr", P + "secret_name": "s"}))
    }
    assert refs == {
        "ServiceAccount": "xr",
        "Secret": "s",
        "SealedSecret": "s",
        "Service": "xr-service",
        "Deployment": "xr-deployment",
        "HorizontalPodAutoscaler": "xr-hpa",
        "PodDisruptionBudget": "xr-pdb",
        "NetworkPolicy": "xr-network-policy",
        "Ingress": "xr-ingress",
        "HTTPRoute": "xr-route",
    }


@pytest.mark.parametrize(
    ("kind", "path", "variable"),
    [
        ("Deployment", "spec.template.spec.containers[0].imagePullPolicy", "image_pull_policy"),
        ("Deployment", "spec.template.spec.containers[0].image", "image"),
        ("Deployment", "spec.template.spec.securityContext.fsGroup", "pod_security_context"),
        (
            "Deployment",
            "spec.template.spec.containers[0].securityContext.runAsUser",
            "container_security_context",
        ),
        ("Deployment", "spec.template.metadata.labels", "pod_labels"),
        ("Deployment", "spec.template.spec.containers[0].lifecycle.preStop", "lifecycle"),
        (
            "Deployment",
            "spec.template.spec.terminationGracePeriodSeconds",
            "termination_grace_period_seconds",
        ),
        ("Service", "spec.ports[0].nodePort", "service_node_port"),
        ("Service", "spec.ports[0].port", "service_port"),
        ("Service", "metadata.annotations", "service_annotations"),
        ("ServiceAccount", "metadata.annotations", "service_account"),
        ("HorizontalPodAutoscaler", "spec.behavior.scaleDown", "autoscaling"),
    ],
)
def test_a_dry_run_rejection_of_a_chart_value_names_its_variable(
    kind: str, path: str, variable: str
) -> None:
    assert preflight.field_variable(kind, path, catalogue.FIELD_SOURCES) == P + variable
