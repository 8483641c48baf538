# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one catalogue of object kinds: nothing else in the collection lists kinds.

A release's own kinds (those with a template) are listed in apply order, as Helm's kind_sorter
orders its kinds: what the pods need, the pods, then what leads to them. For each: its API group,
version and plural; the role template that renders it; when the release has one; its name; the
role variable behind each of its fields (so a rejection by the API server's dry-run names the
variable to change); whether it holds secret values; how a deploy waits on it; whether it carries
traffic that must wait for the revision's certificates. The kinds the engine only reads (pods,
events, the deploy lock, cert-manager's requests) follow, with their API only.

Adding a kind to the release is one entry here, its template in roles/exchange_router/templates/,
and its variables (defaults/main.yml and meta/argument_specs.yml); playbooks/rbac.yml grants it
from here (rbac_rules, through the release_rbac_rules filter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.variables import P, filled

Variables = dict[str, Any]

# How a deploy waits on a kind once it is applied (plugins/plugin_utils/upgrade.py).
ROLLOUT = "rollout"  # the Deployment's rollout (rollout.py)
UNSEALED = "unsealed"  # the Sealed Secrets controller made its Secret (sealed_secret_sync.py)
CERTIFICATE = "certificate"  # cert-manager issued the Certificate (edge_readiness.py)
ACCEPTED = "accepted"  # every parent Gateway accepted the route (edge_readiness.py)


@dataclass(frozen=True)
class Kind:
    kind: str
    api_version: str  # "v1" for the core group
    plural: str
    template: str = ""  # roles/exchange_router/templates/<file>; '' for a kind only read
    # the template context's `__exchange_router_<context>_name` ('' : the template names it)
    context: str = ""
    name: Callable[[Variables], str] = lambda v: ""  # the object's name, from the role variables
    enabled: Callable[[Variables], bool] = lambda v: True  # whether the release has one
    # field path prefix -> the role variable (without exchange_router_) behind it; '' is any field
    fields: dict[str, str] = field(default_factory=dict)
    # the same for the entries of a list that more than one variable fills, by index: from the
    # release's values, in the order its template renders them
    entries: Callable[[Variables], dict[str, str]] = lambda v: {}
    secret_values: bool = False  # its data are secret values: masked in diffs, kept in history
    wait: str = ""  # ROLLOUT, UNSEALED, CERTIFICATE, ACCEPTED or '' (applied is done)
    # It writes other members' fields (an HPA, the Deployment's replicas): when a revision drops
    # it, it goes before the apply, never after, so it cannot undo what the apply sets.
    removed_before_apply: bool = False
    # playbooks/rbac.yml grants it by name only, in rules of its own (the deployer may not touch
    # other ServiceAccounts or Secrets); every other kind is granted by rbac_rules().
    rbac_by_name: bool = False
    # It points clients at the revision's certificates (an Ingress's TLS secret): applied only
    # after the revision's certificates are Ready (revision.put), so a certificate that cannot be
    # issued fails the deploy before any client is sent to it.
    after_certificates: bool = False

    @property
    def api_prefix(self) -> str:
        """/api/v1 for the core group, /apis/<group>/<version> for the others."""
        return ("/apis/" if "/" in self.api_version else "/api/") + self.api_version


def _suffixed(suffix: str) -> Callable[[Variables], str]:
    return lambda v: f"{v[P + 'name']}{suffix}"


# The canary's Deployment and Service (`<name>-canary`), and its pods' `app` label.
CANARY_NAME = _suffixed("-canary")


def by_context(context: str) -> Kind:
    """The release kind whose template names it `__exchange_router_<context>_name`."""
    return next(k for k in RELEASE_KINDS if k.context == context)


def name_of(context: str, release: str) -> str:
    """The name of the release's object of that context, for a kind named after the release."""
    return by_context(context).name({P + "name": release})


def _secret_name(v: Variables) -> str:
    return v[P + "secret_name"]


def tls_secret_name(v: Variables) -> str:
    """The Ingress's TLS secret: the name given, else `<name>-tls`; also the name of the
    Certificate that issues it (cert-manager's ingress-shim names it so too)."""
    return filled(v, "ingress")["tls_secret_name"] or f"{v[P + 'name']}-tls"


def _issued(v: Variables) -> bool:
    """An Ingress whose certificate a cert-manager issuer or cluster_issuer issues."""
    ingress = filled(v, "ingress")
    return bool(ingress.get("enabled") and (ingress["issuer"] or ingress["cluster_issuer"]))


def _service_account_name(v: Variables) -> str:
    """The ServiceAccount the release creates: the name given, else the release's."""
    account = v[P + "service_account"] or {}
    return account.get("name") or v[P + "name"]


def _secret_mode(mode: str) -> Callable[[Variables], bool]:
    return lambda v: v[P + "secret_mode"] == mode


def _given(variable: str) -> Callable[[Variables], bool]:
    """On when the variable is set (not empty)."""
    return lambda v: bool(v.get(P + variable))


def _switched(variable: str) -> Callable[[Variables], bool]:
    """On when the mapping variable's `enabled` (or `create`) key is true."""
    key = "create" if variable == "service_account" else "enabled"
    return lambda v: bool(filled(v, variable).get(key))


_POD = "spec.template.spec"
_CONTAINER = f"{_POD}.containers[0]"
# Fields every kind has, and the variable behind them.
COMMON_FIELDS = {
    "metadata.name": "name",
    "metadata.labels": "labels",
    "metadata.annotations": "annotations",
}

# The Deployment's fields and the variable behind each.
DEPLOYMENT_FIELDS = {
    "spec.replicas": "replicas",
    "spec.progressDeadlineSeconds": "progress_deadline_seconds",
    "spec.template.metadata.labels": "pod_labels",
    "spec.template.metadata.annotations": "pod_annotations",
    f"{_POD}.securityContext": "pod_security_context",
    f"{_POD}.terminationGracePeriodSeconds": "termination_grace_period_seconds",
    f"{_POD}.imagePullSecrets": "image_pull_secrets",
    f"{_POD}.nodeSelector": "node_selector",
    f"{_POD}.tolerations": "tolerations",
    f"{_POD}.affinity": "affinity",
    f"{_POD}.topologySpreadConstraints": "topology_spread_constraints",
    f"{_POD}.serviceAccountName": "service_account",
    f"{_POD}.volumes": "volumes",
    f"{_CONTAINER}.envFrom": "env_from",
    f"{_CONTAINER}.volumeMounts": "volume_mounts",
    f"{_CONTAINER}.startupProbe": "startup_probe",
    f"{_CONTAINER}.imagePullPolicy": "image_pull_policy",
    f"{_CONTAINER}.image": "image",
    f"{_CONTAINER}.ports": "container_port",
    f"{_CONTAINER}.resources": "resources",
    f"{_CONTAINER}.env": "secret_env",  # the list as a whole (each entry: _env_entries)
    f"{_CONTAINER}.readinessProbe": "readiness_probe",
    f"{_CONTAINER}.livenessProbe": "liveness_probe",
    f"{_CONTAINER}.lifecycle": "lifecycle",
    f"{_CONTAINER}.securityContext": "container_security_context",
}


def _env_entries(v: Variables) -> dict[str, str]:
    """The container's env: exchange_router_secret_env's entries, then exchange_router_env's."""
    owners = ["secret_env"] * len(v[P + "secret_env"] or {}) + ["env"] * len(v[P + "env"] or [])
    return {f"{_CONTAINER}.env[{i}]": owner for i, owner in enumerate(owners)}


# One row per kind (a table, so kept as one: ruff's formatter would give each argument a line).
# fmt: off
KINDS: tuple[Kind, ...] = (
    Kind("ServiceAccount", "v1", "serviceaccounts", "serviceaccount.yaml.j2",
         name=_service_account_name, enabled=_switched("service_account"),
         fields={"": "service_account", "metadata.annotations": "service_account"},
         rbac_by_name=True),
    Kind("Secret", "v1", "secrets", "secret.yaml.j2", name=_secret_name,
         enabled=_secret_mode("plain"), fields={"": "secret_data"}, secret_values=True,
         rbac_by_name=True),
    Kind("SealedSecret", "bitnami.com/v1alpha1", "sealedsecrets", "sealedsecret.yaml.j2",
         name=_secret_name, enabled=_secret_mode("sealed"),
         fields={"": "sealed_secret_encrypted_data"}, wait=UNSEALED),
    Kind("ConfigMap", "v1", "configmaps", "configmap.yaml.j2", "config", _suffixed("-config"),
         _given("config_files"), {"data": "config_files"}),
    Kind("Service", "v1", "services", "service.yaml.j2", "service", _suffixed("-service"),
         fields={"spec.ports": "service_port", "spec.ports[0].nodePort": "service_node_port",
                 "spec.type": "service_type", "metadata.annotations": "service_annotations"}),
    # The canary's Service (the route's second backendRef), with the canary on.
    Kind("Service", "v1", "services", "canary-service.yaml.j2", "canary_service",
         _suffixed("-canary"), _switched("canary"), {"spec.ports": "service_port"}),
    Kind("Deployment", "apps/v1", "deployments", "deployment.yaml.j2", "deployment",
         _suffixed("-deployment"), fields=DEPLOYMENT_FIELDS, entries=_env_entries,
         wait=ROLLOUT),
    # The canary's Deployment: the stable's pod template, 0 replicas but while a canary runs.
    Kind("Deployment", "apps/v1", "deployments", "canary-deployment.yaml.j2", "canary_deployment",
         CANARY_NAME, _switched("canary"), wait=ROLLOUT),
    Kind("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers", "hpa.yaml.j2",
         "hpa", _suffixed("-hpa"), _switched("autoscaling"), {"spec": "autoscaling"},
         removed_before_apply=True),
    Kind("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets", "pdb.yaml.j2", "pdb",
         _suffixed("-pdb"), _switched("pdb"), {"": "pdb"}),
    Kind("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", "networkpolicy.yaml.j2",
         "network_policy", _suffixed("-network-policy"), _switched("network_policy"),
         {"": "network_policy"}),
    Kind("Certificate", "cert-manager.io/v1", "certificates", "certificate.yaml.j2",
         "certificate", tls_secret_name, _issued, {"": "ingress"}, wait=CERTIFICATE),
    Kind("Ingress", "networking.k8s.io/v1", "ingresses", "ingress.yaml.j2", "ingress",
         _suffixed("-ingress"), _switched("ingress"), {"": "ingress"}, after_certificates=True),
    Kind("HTTPRoute", "gateway.networking.k8s.io/v1", "httproutes", "httproute.yaml.j2",
         "route", _suffixed("-route"), _switched("httproute"), {"": "httproute"}, wait=ACCEPTED),
    # Read, never templated: what a rollout, the lock and the edge look at.
    Kind("ReplicaSet", "apps/v1", "replicasets"),
    Kind("Pod", "v1", "pods"),
    Kind("Event", "v1", "events"),
    Kind("Lease", "coordination.k8s.io/v1", "leases"),
    Kind("CertificateRequest", "cert-manager.io/v1", "certificaterequests"),
)
# fmt: on
# A kind's first entry (the canary's Service and Deployment come after the stable ones, with the
# same API and waits).
BY_KIND: dict[str, Kind] = {}
for _k in KINDS:
    BY_KIND.setdefault(_k.kind, _k)
# The release's own kinds, in apply order.
RELEASE_KINDS = tuple(k for k in KINDS if k.template)
ORDER = list(dict.fromkeys(k.kind for k in RELEASE_KINDS))


def entry(kind: str) -> Kind:
    return BY_KIND[kind]


def api_path(kind: str, namespace: str, name: str = "", sub: str = "") -> str:
    """The REST path of a namespaced object, or of the collection when `name` is '' (of every
    namespace when `namespace` is '' too)."""
    k = BY_KIND[kind]
    where = f"/namespaces/{namespace}" if namespace else ""
    out = f"{k.api_prefix}{where}/{k.plural}"
    return out + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")


def apply_order(obj: dict[str, Any]) -> int:
    kind = obj["kind"]
    return ORDER.index(kind) if kind in ORDER else len(ORDER)


def holds_secret_values(kind: str) -> bool:
    return kind in BY_KIND and BY_KIND[kind].secret_values


def field_sources(v: Variables) -> dict[str, str]:
    """ "Kind:path prefix" ("*" is any kind) -> the role variable behind that field, in the
    release whose variables are `v`."""
    sources = {"namespace": P + "namespace"}
    sources |= {f"*:{path}": P + var for path, var in COMMON_FIELDS.items()}
    for k in RELEASE_KINDS:
        sources |= {f"{k.kind}:{path}": P + var for path, var in (k.fields | k.entries(v)).items()}
    return sources


def templates(v: Variables) -> list[str]:
    """The templates of the objects this release has, in apply order; the Secret's comes apart
    (its values are the spec's secret, never one of its objects)."""
    return [k.template for k in RELEASE_KINDS if not k.secret_values and k.enabled(v)]


def object_names(v: Variables) -> dict[str, str]:
    """The template context's names: `<context>_name` -> the object's name."""
    return {f"{k.context}_name": k.name(v) for k in RELEASE_KINDS if k.context}


def refs(v: Variables) -> list[dict[str, Any]]:
    """Every object the release can make, by name only (never a value): what removal without a
    history looks for (it deletes only those carrying the release's labels)."""
    return [
        {"apiVersion": k.api_version, "kind": k.kind, "metadata": {"name": k.name(v)}}
        for k in RELEASE_KINDS
    ]


def rbac_rules(verbs: list[str]) -> list[dict[str, Any]]:
    """The Role rules that let a deployer use `verbs` on every release kind not granted by name:
    one rule per API group ("" the core group), in apply order."""
    groups: dict[str, list[str]] = {}
    for k in RELEASE_KINDS:
        if not k.rbac_by_name:
            plurals = groups.setdefault(k.api_version.rpartition("/")[0], [])
            plurals += [k.plural] if k.plural not in plurals else []
    return [
        {"apiGroups": [group], "resources": plurals, "verbs": list(verbs)}
        for group, plurals in groups.items()
    ]
