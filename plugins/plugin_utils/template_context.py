# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The values the role's templates use beyond the variables themselves
(`__exchange_router_*`): the objects' names and which templates render (both from the
catalogue), labels, selector, the edge's derived values, the security contexts (pod_rules.py)
and the annotations merged per object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from ansible.template import trust_as_template

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    canary_plan,
    catalogue,
    pod_rules,
    rules,
    variables,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec, from_variables
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import (
    LOADER,
    P,
    filled,
)


def context(v: dict[str, Any], checked: dict[str, Any]) -> dict[str, Any]:
    """The variables the templates use beyond the role's own (`__exchange_router_*`)."""
    name = v[P + "name"]
    ingress, policy = filled(v, "ingress"), filled(v, "network_policy")
    account = v[P + "service_account"] or {}
    issued = ingress["issuer"] or ingress["cluster_issuer"]
    # The release's own Certificate (catalogue.py) issues the TLS secret: no issuer annotation,
    # else cert-manager's ingress-shim would make a Certificate of its own that competes.
    issuer = {
        "name": issued,
        "kind": "Issuer" if ingress["issuer"] else "ClusterIssuer",
        "group": "cert-manager.io",
    }
    annotations = {**v[P + "annotations"], **ingress["annotations"]}
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
    selector = {"app": name}
    canary = filled(v, "canary")
    # The canary's pods: the stable's labels but their own `app`, so neither Deployment's
    # selector, nor either Service's, takes the other's pods.
    canary_selector = {"app": catalogue.CANARY_NAME(v)}
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
        "tls_secret_name": catalogue.tls_secret_name(v) if issued else ingress["tls_secret_name"],
        "certificate_issuer": issuer,
        "ingress_annotations": annotations,
        "network_peers": peers,
        "labels": labels,
        "selector": selector,
        "pod_labels": pod_rules.pod_labels(v, labels, selector),
        "canary": canary,
        "canary_selector": canary_selector,
        "canary_pod_labels": pod_rules.pod_labels(v, labels, canary_selector),
        # the route's backendRefs with the canary on: everything to stable while none runs
        "route_backends": canary_plan.backend_refs(
            catalogue.entry("Service").name(v), catalogue.CANARY_NAME(v), v[P + "service_port"], 0
        ),
        "security_contexts": pod_rules.security_contexts(v),
        "termination_grace_period_seconds": pod_rules.grace_seconds(v),
        "service_annotations": {**v[P + "annotations"], **(v[P + "service_annotations"] or {})},
        "service_account_annotations": {
            **v[P + "annotations"],
            **(filled(v, "service_account")["annotations"] or {}),
        },
    }
    return {f"__exchange_router_{key}": value for key, value in out.items()} | checked


def spec_of(host: str, v: dict[str, Any], render: Callable[[str, dict[str, Any]], str]) -> Spec:
    """One host's Spec from its templated role variables: typed (variables.typed: the one place
    an int or bool given as a string is converted) and checked (rules.py), each raising
    ValueError with every problem, then its templates rendered by `render(template, context)`
    (Ansible's templar in the release action; the unit tests render the same files). Removal,
    rollback and history render nothing: they get every object the release can make, by name."""
    v = variables.typed(v)
    if v[P + "state"] != "present":
        return from_variables(host, v, catalogue.refs(v), None)
    template_vars = dict(v, **context(v, rules.check(v)))
    objects = [o for o in yaml.load_all(render("objects.yaml.j2", template_vars), LOADER) if o]
    secret = None
    if v[P + "secret_mode"] == "plain":
        secret = yaml.load(render(catalogue.entry("Secret").template, template_vars), LOADER)
    return from_variables(host, v, objects, secret)


def renderer(templar: Any, folder: str) -> Callable[[str, dict[str, Any]], str]:
    """`render(template, context)` with Ansible's templar over the templates in `folder`, as
    ansible.builtin.template renders them. Through the environment's loader, which compiles each
    file once (a template given as text is compiled again on every call); a plain str for the C
    YAML loader."""
    templates = templar.copy_with_new_env(searchpath=[folder])

    def render(name: str, context: dict[str, Any]) -> str:
        templates.available_variables = context
        include = trust_as_template("{% include '" + name + "' %}")
        return str(templates.template(include, escape_backslashes=False))

    return render
