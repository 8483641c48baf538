# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules on one host's role variables that no type in meta/argument_specs.yml can express:
names, ports, timeouts, secret keys, the pods' files (pod_files.py) and the pod's and Service's
chart values (pod_rules.py); the edge (edge_rules.py); the canary (canary_rules.py); autoscaling
and resources (validation.py).
Pure Python over the variables (defaults filled in by Ansible, each already templated, ints,
floats and bools typed by variables.typed). Every message names the variable and its value."""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    canary_rules,
    edge_rules,
    names,
    pod_files,
    pod_rules,
    validation,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import (
    INVALID,
    P,
    filled,
    needed_keys,
)

EDGE = ("ingress", "httproute", "pdb", "network_policy")


def edge_enabled(v: dict[str, Any]) -> bool:
    on = any((v.get(P + name) or {}).get("enabled") for name in EDGE)
    return on or bool((v.get(P + "service_account") or {}).get("name"))


def _basic_problems(v: dict[str, Any]) -> list[str]:
    name, namespace, secret = v[P + "name"], v[P + "namespace"], v[P + "secret_name"]
    found = []
    if not names.is_dns1035_label(name) or len(name) > 55:
        found.append(
            f"{P}name: {json.dumps(name)} is not a DNS-1123 label starting with a letter of at "
            'most 55 characters (lowercase letters, digits and "-"; "<name>-service" must fit 63)'
        )
    if not names.is_dns1123_label(namespace):
        found.append(f"{P}namespace: {json.dumps(namespace)} is not a DNS-1123 label")
    if not names.is_dns1123_subdomain(secret):
        found.append(f"{P}secret_name: {json.dumps(secret)} is not a DNS-1123 subdomain")
    for port in ("container_port", "service_port"):
        if not 1 <= v[P + port] <= 65535:
            found.append(f"{P}{port}: {v[P + port]} is not a port number (1-65535)")
    if v[P + "replicas"] < 0:
        found.append(f"{P}replicas: {v[P + 'replicas']} must be 0 or more")
    timeout, deadline = v[P + "rollout_timeout"], v[P + "progress_deadline_seconds"]
    if timeout < 0 or 0 < timeout < deadline:
        found.append(
            f"{P}rollout_timeout: {v[P + 'rollout_timeout']} is below {P}progress_deadline_seconds"
            f" ({v[P + 'progress_deadline_seconds']}): the deadline decides whether a rollout "
            "failed; use 0 (the deadline plus 30 s) or a value at least that long"
        )
    deadline_value = v[P + "progress_deadline_seconds"]
    if deadline < 1:
        found.append(f"{P}progress_deadline_seconds: {deadline_value} must be at least 1")
    mode = v[P + "secret_mode"]
    if mode != "existing":
        variable = "secret_data" if mode == "plain" else "sealed_secret_encrypted_data"
        missing = [k for k in needed_keys(v) if k not in (v[P + variable] or {})]
        if missing:
            found.append(
                f"{P}{variable}: missing the keys {', '.join(missing)} that {P}secret_env needs "
                f"(secret mode {mode})"
            )
    return found + pod_files.problems(v) + pod_rules.problems(v)


# The role variable (under exchange_router_autoscaling) behind each metric's target, in order.
TARGETS = (("cpu", "target_cpu_utilization"), ("memory", "target_memory_utilization"))


def _utilization(resource: str, target: Any) -> dict[str, Any]:
    target = {"type": "Utilization", "averageUtilization": target}
    return {"type": "Resource", "resource": {"name": resource, "target": target}}


def hpa_spec(v: dict[str, Any]) -> dict[str, Any]:
    """The HPA spec the scaling rules validate and the HPA template renders: CPU, then memory
    when its target is set; behavior when given."""
    scaling = filled(v, "autoscaling")
    spec = {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"{v[P + 'name']}-deployment",
        },
        "minReplicas": scaling["min_replicas"],
        "maxReplicas": scaling["max_replicas"],
        "metrics": [
            _utilization(resource, scaling[key])
            for resource, key in TARGETS
            if scaling[key] is not None
        ],
    }
    if scaling["behavior"]:
        spec["behavior"] = scaling["behavior"]
    return spec


def _scaling_message(text: str, scaling: dict[str, Any]) -> str:
    """validate_scaling's field paths of the metrics' targets as the variables that set them."""
    present = [key for _resource, key in TARGETS if scaling[key] is not None]
    for index, key in enumerate(present):
        metric = f"{P}autoscaling.metrics[{index}].resource.target.averageUtilization"
        text = text.replace(metric, f"{P}autoscaling.{key}")
    return text


def _canary_problems(v: dict[str, Any]) -> list[str]:
    canary = filled(v, "canary")
    if not canary["enabled"]:
        return []
    return canary_rules.problems(canary, filled(v, "httproute"))


def check(v: dict[str, Any]) -> dict[str, Any]:
    """Every rule a type cannot express, in the role's order: names, ports and secret keys; the
    edge; the canary; autoscaling; resources. Returns the canonical resources and HPA spec;
    raises ValueError with the first group's problems."""
    found = _basic_problems(v)
    if found:
        raise ValueError(INVALID + "\n".join(found))
    scaling = filled(v, "autoscaling")
    if edge_enabled(v):
        edge = {name: filled(v, name) for name in (*EDGE, "service_account", "autoscaling")}
        found = edge_rules.problems(dict(edge, replicas=v[P + "replicas"]))
        if found:
            raise ValueError(INVALID + "\n".join(found))
    found = _canary_problems(v)
    if found:
        raise ValueError(INVALID + "\n".join(found))
    hpa = {}
    if scaling["enabled"]:
        try:
            hpa = validation.validate_scaling(
                hpa_spec(v),
                resources=v[P + "resources"],
                path=P + "autoscaling",
                resources_path=P + "resources",
            )
        except ValueError as error:
            raise ValueError(_scaling_message(str(error), scaling)) from None
    resources = validation.validate_resources(v[P + "resources"], path=P + "resources")
    return {"__exchange_router_resources": resources, "__exchange_router_hpa": hpa}
