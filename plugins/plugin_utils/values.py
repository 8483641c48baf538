# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one host's role variables mean: the rules a type cannot express, the values the
templates use beyond the variables themselves, and the release the engine gets (a Spec's keys).

Pure Python over the role's variables (defaults filled in by Ansible, each already templated).
The action plugin (plugins/action/release.py) calls `check`, then renders the role's templates
over `context`, then builds the Spec from `release`. Every message names the variable and its
value, word for word as the role's checks always said them.
"""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    catalogue,
    edge_rules,
    names,
    validation,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.catalogue import FIELD_SOURCES
from ansible_collections.exchange.platform.plugins.plugin_utils.connection_options import (
    CONNECTION_OPTIONS,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import (
    P,
    filled,
    to_int,
)

INVALID = "Invalid exchange.platform.exchange_router values:\n"
RENDER_DIR_NEEDED = "Set exchange_router_render_dir (for example -e exchange_router_render_dir=out)"
FIELD_MANAGER = "exchange.platform"
LOCK_SECONDS = 30  # the deploy lock expires this long after its holder stopped renewing
# Variables read only when the release is deployed: removal, rollback and history never template
# them (so a vaulted exchange_router_secret_data needs no vault password there).
DEPLOY_ONLY = (f"{P}secret_data",)

EDGE = ("ingress", "httproute", "pdb", "network_policy")


def edge_enabled(v: dict[str, Any]) -> bool:
    on = any((v.get(P + name) or {}).get("enabled") for name in EDGE)
    return on or bool((v.get(P + "service_account") or {}).get("name"))


def needed_keys(v: dict[str, Any]) -> list[str]:
    return sorted(set(v[P + "secret_env"].values()))


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
        if not 1 <= to_int(v[P + port]) <= 65535:
            found.append(f"{P}{port}: {v[P + port]} is not a port number (1-65535)")
    if to_int(v[P + "replicas"]) < 0:
        found.append(f"{P}replicas: {v[P + 'replicas']} must be 0 or more")
    timeout, deadline = to_int(v[P + "rollout_timeout"]), to_int(v[P + "progress_deadline_seconds"])
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
    return found


def hpa_spec(v: dict[str, Any]) -> dict[str, Any]:
    """The HPA spec the scaling rules validate and the HPA template renders."""
    scaling = filled(v, "autoscaling")
    return {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"{v[P + 'name']}-deployment",
        },
        "minReplicas": scaling["min_replicas"],
        "maxReplicas": scaling["max_replicas"],
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": scaling["target_cpu_utilization"],
                    },
                },
            }
        ],
    }


def check(v: dict[str, Any]) -> dict[str, Any]:
    """Every rule a type cannot express, in the role's order: names, ports and secret keys; the
    edge; autoscaling; resources. Returns the canonical resources and HPA spec; raises
    ValueError with the first group's problems."""
    found = _basic_problems(v)
    if found:
        raise ValueError(INVALID + "\n".join(found))
    scaling = filled(v, "autoscaling")
    if edge_enabled(v):
        edge = {name: filled(v, name) for name in (*EDGE, "service_account", "autoscaling")}
        found = edge_rules.problems(dict(edge, replicas=to_int(v[P + "replicas"])))
        if found:
            raise ValueError(INVALID + "\n".join(found))
    hpa = {}
    if scaling["enabled"]:
        hpa = validation.validate_scaling(
            hpa_spec(v),
            resources=v[P + "resources"],
            path=P + "autoscaling",
            resources_path=P + "resources",
        )
    resources = validation.validate_resources(v[P + "resources"], path=P + "resources")
    return {"__exchange_router_resources": resources, "__exchange_router_hpa": hpa}


def context(v: dict[str, Any], checked: dict[str, Any]) -> dict[str, Any]:
    """The variables the templates use beyond the role's own (`__exchange_router_*`)."""
    name = v[P + "name"]
    ingress, policy = filled(v, "ingress"), filled(v, "network_policy")
    account = v[P + "service_account"] or {}
    issued = ingress["issuer"] or ingress["cluster_issuer"]
    annotations = {**v[P + "annotations"], **ingress["annotations"]}
    if ingress["issuer"]:
        annotations["cert-manager.io/issuer"] = ingress["issuer"]
    if ingress["cluster_issuer"]:
        annotations["cert-manager.io/cluster-issuer"] = ingress["cluster_issuer"]
    peers = policy["from"] or (
        [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": policy["edge_namespace"]}
                }
            }
        ]
        if policy["edge_namespace"]
        else []
    )
    labels = {
        **v[P + "labels"],
        "app.kubernetes.io/name": "exchange-router",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "exchange.platform",
    }
    baseline = {"allowPrivilegeEscalation": False, "seccompProfile": {"type": "RuntimeDefault"}}
    restricted = {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "runAsUser": v[P + "run_as_user"],
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    out = {
        "autoscaling": filled(v, "autoscaling"),
        "service_account": filled(v, "service_account"),
        "ingress": ingress,
        "httproute": filled(v, "httproute"),
        "pdb": filled(v, "pdb"),
        "network_policy": policy,
        **catalogue.object_names(v),
        # the ServiceAccount the pods run as: the release's own, or one made elsewhere
        "service_account_name": catalogue.entry("ServiceAccount").name(v)
        if account.get("create")
        else account.get("name", ""),
        "templates": catalogue.templates(v),
        "tls_secret_name": ingress["tls_secret_name"] or (f"{name}-tls" if issued else ""),
        "ingress_annotations": annotations,
        "network_peers": peers,
        "labels": labels,
        "selector": {"app": name},
        "security_contexts": {"baseline": baseline, "restricted": restricted},
    }
    return {f"__exchange_router_{key}": value for key, value in out.items()} | checked


def release(
    v: dict[str, Any], objects: list[dict[str, Any]], secret: dict[str, Any] | None
) -> dict[str, Any]:
    """The Spec's values (plugins/plugin_utils/spec.py) of one host."""
    timeout = to_int(v[P + "rollout_timeout"])
    return {
        "name": v[P + "name"],
        "namespace": v[P + "namespace"],
        "state": "rendered" if v[P + "render_dir"] else v[P + "state"],
        "render_dir": v[P + "render_dir"],
        "objects": objects,
        "secret": secret,
        "secret_mode": v[P + "secret_mode"],
        "secret_name": v[P + "secret_name"],
        "secret_adopt": v[P + "secret_adopt"],
        "required_keys": needed_keys(v),
        "autoscaling": bool(filled(v, "autoscaling")["enabled"]),
        "wait": v[P + "wait"],
        "timeout": timeout if timeout > 0 else to_int(v[P + "progress_deadline_seconds"]) + 30,
        "edge_timeout": to_int(v[P + "edge_timeout"]),
        "rollback_on_failure": v[P + "rollback_on_failure"],
        "history_max": v[P + "history_max"],
        "lock_seconds": LOCK_SECONDS,
        "revision": v[P + "rollback_revision"],
        "connection": {key: v[P + key] for key in CONNECTION_OPTIONS},
        "field_manager": FIELD_MANAGER,
        "sources": FIELD_SOURCES,
    }
