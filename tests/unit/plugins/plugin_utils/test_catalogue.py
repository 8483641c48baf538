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
        "ConfigMap",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Certificate",
        "Ingress",
        "HTTPRoute",
    ]
    assert catalogue.apply_order({"kind": "Job"}) == len(catalogue.ORDER)
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
    assert catalogue.api_path("Deployment", "") == "/apis/apps/v1/deployments"  # every namespace


def test_field_sources_name_a_role_variable_for_each_field() -> None:
    sources = catalogue.field_sources(dict(role_defaults()))
    assert sources["namespace"] == "exchange_router_namespace"
    assert sources["*:metadata.labels"] == "exchange_router_labels"
    assert sources["Service:spec.ports"] == "exchange_router_service_port"
    assert sources["HTTPRoute:"] == "exchange_router_httproute"
    assert sources["ConfigMap:data"] == "exchange_router_config_files"
    assert all(variable in role_defaults() for variable in sources.values())
    assert all(v.startswith(P) for v in sources.values())


def test_each_env_entry_is_traced_to_the_variable_that_renders_it() -> None:
    """The template renders exchange_router_secret_env's entries (3 by default), then
    exchange_router_env's: both once mapped to the whole env field, so a rejected extra entry
    was blamed on exchange_router_secret_env."""
    extra = [{"name": f"E{i}", "value": "x"} for i in range(9)]
    sources = catalogue.field_sources(dict(role_defaults(), **{P + "env": extra}))
    env = "spec.template.spec.containers[0].env"
    owner = {
        path: preflight.field_variable("Deployment", path, sources)
        for path in (f"{env}[2].name", f"{env}[3].name", f"{env}[11].value", f"{env}[12]", env)
    }
    assert owner == {
        f"{env}[2].name": P + "secret_env",
        f"{env}[3].name": P + "env",
        f"{env}[11].value": P + "env",  # env[1]'s prefix is no prefix of env[11]
        f"{env}[12]": P + "secret_env",  # no such entry: the list's own variable
        env: P + "secret_env",
    }


def test_only_the_secret_holds_secret_values() -> None:
    holders = [k.kind for k in catalogue.KINDS if catalogue.holds_secret_values(k.kind)]
    assert holders == ["Secret"]
    assert not catalogue.holds_secret_values("ConfigMap")  # its files are no secret
    assert not catalogue.holds_secret_values("Job")  # not a kind of the catalogue


def test_refs_name_every_object_a_release_can_own() -> None:
    """The ServiceAccount was once missing: removal without history left it behind."""
    refs = [
        (r["kind"], r["metadata"]["name"])
        for r in catalogue.refs(dict(role_defaults(), **{P + "name": "xr", P + "secret_name": "s"}))
    ]
    assert refs == [
        ("ServiceAccount", "xr"),
        ("Secret", "s"),
        ("SealedSecret", "s"),
        ("ConfigMap", "xr-config"),
        ("Service", "xr-service"),
        ("Service", "xr-canary"),
        ("Deployment", "xr-deployment"),
        ("Deployment", "xr-canary"),
        ("HorizontalPodAutoscaler", "xr-hpa"),
        ("PodDisruptionBudget", "xr-pdb"),
        ("NetworkPolicy", "xr-network-policy"),
        ("Certificate", "xr-tls"),
        ("Ingress", "xr-ingress"),
        ("HTTPRoute", "xr-route"),
    ]


def test_the_config_map_goes_before_the_pods_that_mount_it_only_when_files_are_given() -> None:
    v = dict(role_defaults(), **{P + "config_files": {"app.yaml": "a: 1\n"}})
    assert catalogue.templates(v) == [
        "configmap.yaml.j2",
        "service.yaml.j2",
        "deployment.yaml.j2",
        "hpa.yaml.j2",
    ]
    assert catalogue.entry("ConfigMap").name(v) == "exchange-router-config"


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
        ("Certificate", "spec.dnsNames[0]", "ingress"),
    ],
)
def test_a_dry_run_rejection_of_a_chart_value_names_its_variable(
    kind: str, path: str, variable: str
) -> None:
    assert (
        preflight.field_variable(kind, path, catalogue.field_sources(role_defaults()))
        == P + variable
    )


def test_the_ingress_waits_for_its_certificate_named_after_its_tls_secret() -> None:
    assert [k.kind for k in catalogue.KINDS if k.after_certificates] == ["Ingress"]
    assert catalogue.ORDER.index("Certificate") < catalogue.ORDER.index("Ingress")
    v = dict(role_defaults(), **{P + "ingress": {"enabled": True, "cluster_issuer": "ca"}})
    assert catalogue.entry("Certificate").enabled(v)
    assert catalogue.entry("Certificate").name(v) == "exchange-router-tls"
    v[P + "ingress"] = {"enabled": True, "issuer": "ca", "tls_secret_name": "mine"}
    assert catalogue.entry("Certificate").name(v) == "mine"
    v[P + "ingress"] = {"enabled": True, "tls_secret_name": "theirs"}  # a secret made elsewhere
    assert not catalogue.entry("Certificate").enabled(v)
    v[P + "ingress"] = {"enabled": False, "cluster_issuer": "ca"}
    assert not catalogue.entry("Certificate").enabled(v)
