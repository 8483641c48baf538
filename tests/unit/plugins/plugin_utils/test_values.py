"""rules.py, template_context.py and spec.py over one host's variables: every rule with its
message, every derived value, the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    rules,
    template_context,
    variables,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import (
    LOCK_SECONDS,
    from_variables,
)

ROOT = Path(__file__).resolve().parents[4]
DEFAULTS = yaml.safe_load((ROOT / "roles/exchange_router/defaults/main.yml").read_text())
KEYS = {"server_addr": "a", "database_url": "b", "redis_url": "c"}


def v(**given: Any) -> dict[str, Any]:
    return {**DEFAULTS, **{f"exchange_router_{k}": val for k, val in given.items()}}


def problems(**given: Any) -> str:
    with pytest.raises(ValueError, match=r"exchange_router_") as error:
        rules.check(v(**given))
    return str(error.value)


def test_the_defaults_pass_and_come_back_canonical() -> None:
    checked = rules.check(v())
    resources = {"requests": {"cpu": "300m"}, "limits": {"cpu": "2"}}
    assert checked["__exchange_router_resources"] == resources
    assert checked["__exchange_router_hpa"]["minReplicas"] == 1
    assert checked["__exchange_router_hpa"]["maxReplicas"] == 2


BASIC = {
    "name not a label": (
        {"name": "Exchange_Router"},
        'exchange_router_name: "Exchange_Router" is not a DNS-1123 label starting with a letter '
        'of at most 55 characters (lowercase letters, digits and "-"; "<name>-service" must '
        "fit 63)",
    ),
    "name too long": ({"name": "a" * 56}, 'exchange_router_name: "' + "a" * 56),
    "namespace": (
        {"namespace": "Bad_NS"},
        'exchange_router_namespace: "Bad_NS" is not a DNS-1123 label',
    ),
    "secret name": (
        {"secret_name": "-x"},
        'exchange_router_secret_name: "-x" is not a DNS-1123 subdomain',
    ),
    "container port": (
        {"container_port": 70000},
        "exchange_router_container_port: 70000 is not a port number (1-65535)",
    ),
    "service port": (
        {"service_port": 0},
        "exchange_router_service_port: 0 is not a port number (1-65535)",
    ),
    "replicas": ({"replicas": -1}, "exchange_router_replicas: -1 must be 0 or more"),
    "timeout below the deadline": (
        {"rollout_timeout": 10},
        "exchange_router_rollout_timeout: 10 is below exchange_router_progress_deadline_seconds "
        "(600): the deadline decides whether a rollout failed; use 0 (the deadline plus 30 s) "
        "or a value at least that long",
    ),
    "negative timeout": ({"rollout_timeout": -1}, "exchange_router_rollout_timeout: -1 is below"),
    "deadline": (
        {"progress_deadline_seconds": 0},
        "exchange_router_progress_deadline_seconds: 0 must be at least 1",
    ),
    "plain keys": (
        {"secret_mode": "plain", "secret_data": {"server_addr": "x"}},
        "exchange_router_secret_data: missing the keys database_url, redis_url that "
        "exchange_router_secret_env needs (secret mode plain)",
    ),
    "sealed keys": (
        {"secret_mode": "sealed", "sealed_secret_encrypted_data": {"redis_url": "Ag"}},
        "exchange_router_sealed_secret_encrypted_data: missing the keys database_url, "
        "server_addr that exchange_router_secret_env needs (secret mode sealed)",
    ),
}


@pytest.mark.parametrize(("given", "message"), BASIC.values(), ids=BASIC.keys())
def test_each_basic_rule_names_the_variable_and_its_value(
    given: dict[str, Any], message: str
) -> None:
    assert problems(**given).startswith(rules.INVALID)
    assert message in problems(**given)


def test_every_basic_problem_is_listed_at_once() -> None:
    text = problems(name="a" * 60, replicas=-2, service_port=99999)
    assert text.count("\n") == 3
    assert "exchange_router_name" in text
    assert "exchange_router_replicas" in text
    assert "exchange_router_service_port" in text


def test_existing_mode_needs_no_keys_and_given_keys_pass() -> None:
    rules.check(v(secret_mode="existing", secret_data={}))
    rules.check(v(secret_mode="plain", secret_data=KEYS))
    rules.check(v(secret_mode="sealed", sealed_secret_encrypted_data=KEYS))


def test_a_timeout_at_least_the_deadline_and_numbers_as_strings_typed_pass() -> None:
    rules.check(v(rollout_timeout=600))
    rules.check(variables.typed(v(container_port="8080", replicas="2")))


def test_the_edge_rules_run_only_when_an_edge_object_is_on() -> None:
    assert "nobody may reach the router" in problems(network_policy={"enabled": True})
    text = problems(pdb={"enabled": True, "min_available": 2})
    assert "exchange_router_pdb.min_available: 2" in text
    assert "exchange_router_autoscaling.min_replicas 1" in text
    rules.check(v(network_policy={"enabled": False}, pdb={"enabled": False}))


def test_a_service_account_name_alone_turns_the_edge_rules_on() -> None:
    assert rules.edge_enabled(v(service_account={"name": "sa"}))
    assert not rules.edge_enabled(v())


def test_autoscaling_rules_then_resources_rules() -> None:
    assert "maxReplicas: invalid value 2" in problems(
        autoscaling={"min_replicas": 3, "max_replicas": 2}
    )
    # with autoscaling off, a malformed quantity is the resources rule's to report
    text = problems(
        autoscaling={"enabled": False}, resources={"requests": {"cpu": "300x"}, "limits": {}}
    )
    assert "exchange_router_resources.requests.cpu: invalid quantity '300x'" in text
    assert rules.check(v(autoscaling={"enabled": False}))["__exchange_router_hpa"] == {}


def test_the_first_failing_group_is_reported_in_the_roles_order() -> None:
    text = problems(replicas=-1, network_policy={"enabled": True})
    assert "exchange_router_replicas" in text
    assert "nobody may reach" not in text


def context(**given: Any) -> dict[str, Any]:
    return template_context.context(v(**given), rules.check(v(**given)))


def test_derived_names_labels_and_filled_mappings() -> None:
    c = context(name="xr", labels={"team": "t"}, autoscaling={"max_replicas": 4})
    assert c["__exchange_router_deployment_name"] == "xr-deployment"
    assert c["__exchange_router_network_policy_name"] == "xr-network-policy"
    assert c["__exchange_router_labels"] == {
        "team": "t",
        "app.kubernetes.io/name": "exchange-router",
        "app.kubernetes.io/instance": "xr",
        "app.kubernetes.io/managed-by": "exchange.platform",
    }
    assert c["__exchange_router_selector"] == {"app": "xr"}
    assert c["__exchange_router_autoscaling"] == {
        "enabled": True,
        "min_replicas": 1,
        "max_replicas": 4,
        "target_cpu_utilization": 95,
        "target_memory_utilization": None,
        "behavior": {},
    }
    assert c["__exchange_router_pod_labels"] == {**c["__exchange_router_labels"], "app": "xr"}
    restricted = context(pod_security_level="restricted")["__exchange_router_security_contexts"]
    assert restricted["container"]["runAsUser"] == 65532
    assert restricted["pod"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert c["__exchange_router_security_contexts"]["pod"] == {}


@pytest.mark.parametrize(
    ("account", "name"),
    [
        ({"create": True}, "exchange-router"),
        ({"create": True, "name": "own"}, "own"),
        ({"name": "theirs"}, "theirs"),
        ({}, ""),
    ],
)
def test_the_pods_service_account(account: dict[str, Any], name: str) -> None:
    assert context(service_account=account)["__exchange_router_service_account_name"] == name


def test_the_ingress_tls_secret_its_issuer_and_no_issuer_annotation() -> None:
    """The release's own Certificate issues the secret: an issuer annotation would have
    cert-manager's ingress-shim make a second Certificate that competes with it."""
    hosts = [{"host": "a.example.com"}]
    c = context(annotations={"x": "y"}, ingress={"enabled": True, "hosts": hosts, "issuer": "ca"})
    assert c["__exchange_router_tls_secret_name"] == "exchange-router-tls"
    assert c["__exchange_router_certificate_name"] == "exchange-router-tls"
    assert c["__exchange_router_ingress_annotations"] == {"x": "y"}
    assert c["__exchange_router_certificate_issuer"] == {
        "name": "ca",
        "kind": "Issuer",
        "group": "cert-manager.io",
    }
    c = context(ingress={"enabled": True, "hosts": hosts, "cluster_issuer": "le"})
    assert c["__exchange_router_ingress_annotations"] == {}
    assert c["__exchange_router_certificate_issuer"]["kind"] == "ClusterIssuer"
    c = context(ingress={"enabled": True, "hosts": hosts, "tls_secret_name": "mine"})
    assert c["__exchange_router_tls_secret_name"] == "mine"
    assert context()["__exchange_router_tls_secret_name"] == ""


def test_network_peers_given_or_the_edge_namespace() -> None:
    peers = [{"podSelector": {}}]
    assert (
        context(network_policy={"enabled": True, "from": peers})["__exchange_router_network_peers"]
        == peers
    )
    exposed = {"enabled": True, "hosts": [{"host": "a.example.com"}]}
    c = context(ingress=exposed, network_policy={"enabled": True, "edge_namespace": "edge"})
    selector = c["__exchange_router_network_peers"][0]["namespaceSelector"]
    assert selector == {"matchLabels": {"kubernetes.io/metadata.name": "edge"}}


def test_the_release_spec_has_exactly_the_engines_keys() -> None:
    spec = from_variables("h", v(), [], None)
    assert spec.timeout == 630  # the deadline plus 30 s
    assert spec.state == "present"
    assert spec.required_keys == ["database_url", "redis_url", "server_addr"]
    assert spec.lock_seconds == LOCK_SECONDS
    spec = from_variables("h", v(rollout_timeout=900, render_dir="/out"), [], None)
    assert (spec.timeout, spec.state) == (900, "rendered")
    assert not from_variables("h", v(autoscaling={"enabled": False}), [], None).autoscaling


MEMORY = {"requests": {"cpu": "300m", "memory": "256Mi"}, "limits": {"cpu": "2"}}


def test_a_memory_target_and_behavior_join_the_hpa_spec() -> None:
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 600}}
    scaling = {"target_memory_utilization": 80, "behavior": behavior}
    hpa = rules.check(v(autoscaling=scaling, resources=MEMORY))["__exchange_router_hpa"]
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu", "memory"]
    assert hpa["metrics"][1]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 80,
    }
    assert hpa["behavior"] == behavior
    assert "behavior" not in rules.check(v())["__exchange_router_hpa"]


def test_a_memory_target_needs_a_memory_request_naming_both_variables() -> None:
    text = problems(autoscaling={"target_memory_utilization": 80})
    assert (
        "exchange_router_autoscaling.target_memory_utilization: Resource metric memory targets "
        "80% utilization, but exchange_router_resources.requests.memory is not set" in text
    )
    assert "metrics[" not in text


def test_scaling_messages_name_the_variables_behind_the_metrics() -> None:
    text = problems(autoscaling={"target_cpu_utilization": 0, "target_memory_utilization": 0})
    assert "exchange_router_autoscaling.target_cpu_utilization: invalid value 0" in text
    assert "exchange_router_autoscaling.target_memory_utilization: invalid value 0" in text
    text = problems(autoscaling={"behavior": {"scaleDown": {"selectPolicy": "Least"}}})
    assert "exchange_router_autoscaling.behavior.scaleDown.selectPolicy: unsupported value" in text
