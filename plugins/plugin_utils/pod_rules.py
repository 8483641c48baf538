# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pod's and the Service's values a Helm chart user expects, beyond the seed's: the image pull
policy, free-form security contexts merged over the level's presets, pod labels, the container's
lifecycle and the grace period, the Service's annotations and node port, the ServiceAccount's
annotations. Pure Python over the role's variables: `problems` returns one message per problem,
each naming the variable and its value; `security_contexts` and `pod_labels` are what the
Deployment's template renders."""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.names import (
    is_dns1123_subdomain,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.problems import as_json, is_int
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import P, filled

PULL_POLICIES = ("Always", "IfNotPresent", "Never")
NODE_PORTS = range(30000, 32768)  # the API server's default --service-node-port-range
DEFAULT_GRACE_SECONDS = 30  # core/v1 PodSpec.terminationGracePeriodSeconds
POD_SECURITY_FIELDS = (
    "appArmorProfile", "fsGroup", "fsGroupChangePolicy", "runAsGroup", "runAsNonRoot",
    "runAsUser", "seLinuxChangePolicy", "seLinuxOptions", "seccompProfile", "supplementalGroups",
    "supplementalGroupsPolicy", "sysctls", "windowsOptions",
)  # fmt: skip
CONTAINER_SECURITY_FIELDS = (
    "allowPrivilegeEscalation", "appArmorProfile", "capabilities", "privileged", "procMount",
    "readOnlyRootFilesystem", "runAsGroup", "runAsNonRoot", "runAsUser", "seLinuxOptions",
    "seccompProfile", "windowsOptions",
)  # fmt: skip
_IDS = ("runAsUser", "runAsGroup", "fsGroup")
LIFECYCLE_FIELDS = ("postStart", "preStop", "stopSignal")
HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")
# The labels the release sets on every pod: pod labels may not replace them.
RELEASE_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/managed-by",
)
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def presets(v: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each level's pod and container securityContext: what the role sets without the free-form
    variables."""
    seccomp = {"type": "RuntimeDefault"}
    restricted = {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "runAsUser": v[P + "run_as_user"],
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": seccomp,
    }
    return {
        "baseline": {
            "pod": {},
            "container": {"allowPrivilegeEscalation": False, "seccompProfile": seccomp},
        },
        "restricted": {
            "pod": {"runAsNonRoot": True, "seccompProfile": seccomp},
            "container": restricted,
        },
    }


def _merged(preset: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Key by key: a key given replaces the preset's whole; null removes it."""
    out = {**preset, **given}
    return {key: value for key, value in out.items() if value is not None}


def security_contexts(v: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pod's and the container's securityContext: the level's preset, then the user's keys."""
    preset = presets(v)[v[P + "pod_security_level"]]
    return {
        "pod": _merged(preset["pod"], v[P + "pod_security_context"] or {}),
        "container": _merged(preset["container"], v[P + "container_security_context"] or {}),
    }


def pod_labels(
    v: dict[str, Any], labels: dict[str, Any], selector: dict[str, Any]
) -> dict[str, Any]:
    """The pods' labels: the release's, the pod labels, the selector last."""
    return {**labels, **(v[P + "pod_labels"] or {}), **selector}


def _mapping_problems(name: str, value: Any, allowed: tuple[str, ...] = ()) -> list[str]:
    if not isinstance(value, dict):
        return [f"{P}{name}: {as_json(value)} is not a mapping"]
    unknown = [key for key in value if allowed and key not in allowed]
    return [
        f"{P}{name}: unknown field {as_json(key)} (expected one of {', '.join(allowed)})"
        for key in unknown
    ]


def _string_values(name: str, value: Any) -> list[str]:
    if not isinstance(value, dict):
        return [f"{P}{name}: {as_json(value)} is not a mapping"]
    return [
        f"{P}{name}[{as_json(key)}]: {as_json(item)} is not a string (quote it)"
        for key, item in value.items()
        if not isinstance(item, str)
    ]


def _security_problems(v: dict[str, Any]) -> list[str]:
    found = []
    for name, allowed in (
        ("pod_security_context", POD_SECURITY_FIELDS),
        ("container_security_context", CONTAINER_SECURITY_FIELDS),
    ):
        given = v[P + name] or {}
        found += _mapping_problems(name, given, allowed)
        if not isinstance(given, dict):
            continue
        for key in _IDS:
            value = given.get(key)
            if value is not None and not (is_int(value) and 0 <= value <= 2**31 - 1):
                found.append(f"{P}{name}.{key}: {as_json(value)} is not an ID (0 to 2147483647)")
    if found:
        return found
    merged = security_contexts(v)
    pod, container = merged["pod"], merged["container"]
    non_root = container.get("runAsNonRoot", pod.get("runAsNonRoot"))
    user = container.get("runAsUser", pod.get("runAsUser"))
    if non_root is True and user == 0:
        found.append(
            f"{P}container_security_context / {P}pod_security_context: runAsUser 0 (root) with "
            f"runAsNonRoot true (the {v[P + 'pod_security_level']} preset of "
            f"{P}pod_security_level, or yours): the kubelet would refuse to start the container; "
            "give a non-zero runAsUser, or runAsNonRoot: null in each context that sets it"
        )
    # containerd starts no process with a group but no user ("user group is specified without
    # user"): the pod's sandbox takes the pod's context alone, the container the two merged.
    if "runAsGroup" in pod and "runAsUser" not in pod:
        found.append(
            _group_without_user("pod_security_context", pod["runAsGroup"], "pod's sandbox")
        )
    elif "runAsGroup" in container and user is None:
        found.append(
            _group_without_user("container_security_context", container["runAsGroup"], "container")
        )
    return found


def _group_without_user(name: str, group: Any, what: str) -> str:
    return (
        f"{P}{name}.runAsGroup: {group} without a runAsUser for the {what}: containerd refuses "
        'to start it ("user group is specified without user"); give runAsUser beside it'
    )


def _label_problems(v: dict[str, Any]) -> list[str]:
    given = v[P + "pod_labels"] or {}
    found = _mapping_problems("pod_labels", given)
    if found:
        return found
    reserved = ("app", *RELEASE_LABELS)
    for key, value in given.items():
        where = f"{P}pod_labels[{as_json(key)}]"
        if key in reserved:
            found.append(
                f"{where}: {as_json(value)} would replace the release's own label {key} (the "
                "selector app and the app.kubernetes.io labels are the release's); use another key"
            )
            continue
        prefix, _slash, label = str(key).rpartition("/")
        if (prefix and not is_dns1123_subdomain(prefix)) or not _is_label_name(label):
            found.append(f"{where}: the key is not a label key ([prefix/]name, name at most 63)")
        if not isinstance(value, str) or (value and not _is_label_name(value)):
            found.append(f"{where}: {as_json(value)} is not a label value (a string of at most 63)")
    return found


def _is_label_name(text: str) -> bool:
    return len(text) <= 63 and bool(_LABEL_NAME.fullmatch(text))


def _service_problems(v: dict[str, Any]) -> list[str]:
    found = _string_values("service_annotations", v[P + "service_annotations"] or {})
    found += _string_values(
        "service_account.annotations", filled(v, "service_account")["annotations"] or {}
    )
    port, kind = v[P + "service_node_port"], v[P + "service_type"]  # typed (variables.typed)
    if not port:
        return found
    if port not in NODE_PORTS:
        found.append(
            f"{P}service_node_port: {as_json(port)} is not a node port (30000-32767), or 0"
        )
    elif kind not in ("NodePort", "LoadBalancer"):
        found.append(
            f"{P}service_node_port: {port} needs {P}service_type NodePort or LoadBalancer "
            f"(it is {as_json(kind)})"
        )
    return found


def grace_seconds(v: dict[str, Any]) -> int | None:
    """exchange_router_termination_grace_period_seconds (typed by variables.typed), or None."""
    return v[P + "termination_grace_period_seconds"]


def _lifecycle_problems(v: dict[str, Any]) -> list[str]:
    found = []
    grace = grace_seconds(v)
    if grace is not None and grace < 0:
        found.append(
            f"{P}termination_grace_period_seconds: {grace} is not a number of seconds (0 or more)"
        )
        grace = None
    lifecycle = v[P + "lifecycle"] or {}
    problems = _mapping_problems("lifecycle", lifecycle, LIFECYCLE_FIELDS)
    if problems:
        return found + problems
    for hook in ("postStart", "preStop"):
        if hook in lifecycle:
            found += _handler_problems(f"{P}lifecycle.{hook}", lifecycle[hook])
    pre_stop = lifecycle.get("preStop")
    if not found and isinstance(pre_stop, dict) and "sleep" in pre_stop:
        seconds = pre_stop["sleep"]["seconds"]  # a whole number: _handler_problems checked it
        limit = DEFAULT_GRACE_SECONDS if grace is None else grace
        if seconds >= limit:
            found.append(
                f"{P}lifecycle.preStop.sleep.seconds: {seconds} is not below "
                f"{P}termination_grace_period_seconds ({limit}"
                f"{' by default' if grace is None else ''}): the container would be killed "
                "before it stops by itself; raise the grace period"
            )
    return found


def _handler_problems(where: str, handler: Any) -> list[str]:
    if not isinstance(handler, dict):
        return [f"{where}: {as_json(handler)} is not a mapping (a core/v1 LifecycleHandler)"]
    given = [key for key in handler if key in HANDLERS]
    unknown = [key for key in handler if key not in HANDLERS]
    if unknown or len(given) != 1:
        return [f"{where}: {as_json(handler)} must hold exactly one of {', '.join(HANDLERS)}"]
    sleep = handler.get("sleep")
    if "sleep" in handler:
        seconds = sleep.get("seconds") if isinstance(sleep, dict) else None
        if not (is_int(seconds) and seconds >= 0):
            return [
                f"{where}.sleep.seconds: {as_json(seconds)} is not a number of seconds (0 or more)"
            ]
    return []


def problems(v: dict[str, Any]) -> list[str]:
    """Every problem of these values, each naming the variable and its value."""
    found = []
    policy = v[P + "image_pull_policy"]
    if policy not in ("", None, *PULL_POLICIES):
        found.append(
            f"{P}image_pull_policy: {as_json(policy)} is not one of "
            f"{', '.join(PULL_POLICIES)} (or empty)"
        )
    return (
        found
        + _security_problems(v)
        + _label_problems(v)
        + _service_problems(v)
        + _lifecycle_problems(v)
    )
