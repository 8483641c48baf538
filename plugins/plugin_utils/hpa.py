# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An autoscaling/v2 HorizontalPodAutoscalerSpec as the API server checks it (replica bounds,
scaleTargetRef, metrics and their targets, behavior's scaling rules), with the target types the
HPA controller honours.
The checks against the pods' resources and replicas are in plugins/plugin_utils/validation.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.exchange.platform.plugins.plugin_utils.names import is_dns1123_label
from ansible_collections.exchange.platform.plugins.plugin_utils.problems import (
    INT32_MAX,
    Problems,
    check_unknown_fields,
    child,
    is_int,
    parse,
    show,
)

_HPA_SPEC_FIELDS = ("scaleTargetRef", "minReplicas", "maxReplicas", "metrics", "behavior")
_CROSS_VERSION_REF_FIELDS = ("apiVersion", "kind", "name")
_METRIC_SPEC_FIELDS = ("type", "object", "pods", "resource", "containerResource", "external")
_SOURCE_BY_TYPE = {
    "ContainerResource": "containerResource",
    "External": "external",
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
}
_TYPE_BY_SOURCE = {source: name for name, source in _SOURCE_BY_TYPE.items()}
_SOURCE_FIELDS = {
    "resource": ("name", "target"),
    "containerResource": ("name", "container", "target"),
    "pods": ("metric", "target"),
    "object": ("describedObject", "metric", "target"),
    "external": ("metric", "target"),
}
_METRIC_IDENTIFIER_FIELDS = ("name", "selector")
_TARGET_FIELDS = ("type", "value", "averageValue", "averageUtilization")
# The target field each MetricTarget type uses.
_FIELD_BY_TARGET_TYPE = {
    "Utilization": "averageUtilization",
    "Value": "value",
    "AverageValue": "averageValue",
}
# Target types the HPA controller honours for each source (API reference); the API
# server itself accepts any of the three and the controller then ignores `type`.
_TARGET_TYPES_BY_SOURCE = {
    "resource": ("Utilization", "AverageValue"),
    "containerResource": ("Utilization", "AverageValue"),
    "pods": ("AverageValue",),
    "object": ("Value", "AverageValue"),
    "external": ("Value", "AverageValue"),
}
_RESOURCE_SOURCES = ("resource", "containerResource")
_BEHAVIOR_FIELDS = ("scaleUp", "scaleDown")
_RULES_FIELDS = ("stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance")
_POLICY_FIELDS = ("type", "value", "periodSeconds")
_SELECT_POLICIES = ("Max", "Min", "Disabled")
_POLICY_TYPES = ("Pods", "Percent")
_MAX_WINDOW_SECONDS = 3600  # MaxStabilizationWindowSeconds
_MAX_PERIOD_SECONDS = 1800  # MaxPeriodSeconds
# autoscaling/v2 defaulting: no metrics means 80% average CPU utilization.
_DEFAULT_CPU_UTILIZATION = 80
_DEFAULT_MIN_REPLICAS = 1


@dataclass(frozen=True)
class UtilizationTarget:
    """A Utilization target on a resource, for the checks against ``resources``."""

    path: str  # of averageUtilization
    label: str  # names the metric in messages
    resource: str
    utilization: int


def check_replica_bounds(
    data: dict[object, object], path: str, problems: Problems
) -> tuple[int | None, int | None]:
    """Check min/maxReplicas; return them (minReplicas defaulted), None where invalid."""
    check_unknown_fields(data, _HPA_SPEC_FIELDS, path, problems)
    min_replicas = _check_replicas_field(data, "minReplicas", path, problems, required=False)
    max_replicas = _check_replicas_field(data, "maxReplicas", path, problems, required=True)
    if min_replicas is not None and max_replicas is not None and max_replicas < min_replicas:
        problems.add(
            child(path, "maxReplicas"),
            f"invalid value {max_replicas}: must be greater than or equal to "
            f"minReplicas ({min_replicas})",
        )
    return min_replicas, max_replicas


def _check_replicas_field(
    data: dict[object, object],
    name: str,
    path: str,
    problems: Problems,
    *,
    required: bool,
) -> int | None:
    field_path = child(path, name)
    value = data.get(name)
    if value is None:
        if required:
            problems.add(field_path, "required value: must be greater than 0")
            return None
        return _DEFAULT_MIN_REPLICAS  # autoscaling/v2 defaulting
    return _positive_int32(value, field_path, problems, "an integer", "greater than or equal to 1")


def check_object_reference(data: object, path: str, problems: Problems) -> None:
    """``ValidateCrossVersionObjectReference``: kind and name required, path segments."""
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping, got {show(data)}")
        return
    check_unknown_fields(data, _CROSS_VERSION_REF_FIELDS, path, problems)
    for key in ("kind", "name"):
        _check_name(data.get(key), child(path, key), problems)


def _check_name(value: object, path: str, problems: Problems) -> None:
    """A required path-segment name (``IsValidPathSegmentName``)."""
    if value is None or value == "":
        problems.add(path, "required value")
    elif not isinstance(value, str):
        problems.add(path, f"invalid value {show(value)}: must be a string")
    elif value in (".", ".."):
        problems.add(path, f"invalid value {value!r}: may not be '.' or '..'")
    elif "/" in value or "%" in value:
        problems.add(path, f"invalid value {value!r}: may not contain '/' or '%'")


def check_metrics(data: object, path: str, problems: Problems) -> list[UtilizationTarget]:
    if data is None or data == []:
        return [
            UtilizationTarget(
                path=path,
                label=f"the default metric (cpu at {_DEFAULT_CPU_UTILIZATION}%, used when "
                "metrics is empty)",
                resource="cpu",
                utilization=_DEFAULT_CPU_UTILIZATION,
            )
        ]
    if not isinstance(data, list):
        problems.add(path, f"must be a list of metrics, got {show(data)}")
        return []
    targets = []
    for index, metric in enumerate(data):
        target = _check_metric(metric, f"{path}[{index}]", problems)
        if target is not None:
            targets.append(target)
    return targets


def _check_metric(data: object, path: str, problems: Problems) -> UtilizationTarget | None:
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping (MetricSpec), got {show(data)}")
        return None
    check_unknown_fields(data, _METRIC_SPEC_FIELDS, path, problems)
    metric_type = data.get("type")
    expected = None
    if metric_type is None or metric_type == "":
        problems.add(child(path, "type"), "required value: must specify a metric source type")
    elif metric_type not in _SOURCE_BY_TYPE:
        supported = ", ".join(repr(name) for name in sorted(_SOURCE_BY_TYPE))
        problems.add(
            child(path, "type"),
            f"unsupported value {show(metric_type)}: supported values: {supported}",
        )
    else:
        expected = _SOURCE_BY_TYPE[metric_type]
        if data.get(expected) is None:
            problems.add(
                child(path, expected),
                f"required value: must populate information for the given metric source "
                f"(type {metric_type})",
            )
    present = [key for key in _SOURCE_FIELDS if data.get(key) is not None]
    for key in present:
        if expected is not None and key != expected:
            problems.add(
                child(path, key),
                f"forbidden: must populate the given metric source only (type {metric_type})",
            )
    source = expected if expected in present else (present[0] if len(present) == 1 else None)
    if source is None:
        return None
    return _check_source(data[source], source, child(path, source), problems)


def _check_source(
    data: object, source: str, path: str, problems: Problems
) -> UtilizationTarget | None:
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping, got {show(data)}")
        return None
    check_unknown_fields(data, _SOURCE_FIELDS[source], path, problems)
    name: object = None
    if source in _RESOURCE_SOURCES:
        name = data.get("name")
        if name is None or name == "":
            problems.add(child(path, "name"), "required value: must specify a resource name")
            name = None
        elif not isinstance(name, str):
            problems.add(child(path, "name"), f"invalid value {show(name)}: must be a string")
            name = None
    if source == "containerResource":
        _check_container_name(data.get("container"), child(path, "container"), problems)
    if source in ("pods", "object", "external"):
        _check_metric_identifier(data.get("metric"), child(path, "metric"), problems)
    if source == "object":
        described = data.get("describedObject")
        if described is None:
            problems.add(child(path, "describedObject"), "required value")
        else:
            check_object_reference(described, child(path, "describedObject"), problems)
    utilization = _check_target(data.get("target"), source, child(path, "target"), problems)
    if isinstance(name, str) and utilization is not None:
        label = f"{_TYPE_BY_SOURCE[source]} metric {name}"
        return UtilizationTarget(
            path=child(child(path, "target"), "averageUtilization"),
            label=label,
            resource=name,
            utilization=utilization,
        )
    return None


def _check_container_name(value: object, path: str, problems: Problems) -> None:
    if value is None or value == "":
        problems.add(path, "required value: must specify a container")
    elif not is_dns1123_label(value):
        problems.add(
            path,
            f"invalid value {show(value)}: must be a DNS-1123 label (lowercase alphanumerics "
            "and '-', starting and ending alphanumeric, at most 63 characters)",
        )


def _check_metric_identifier(data: object, path: str, problems: Problems) -> None:
    if data is None:
        problems.add(path, "required value: must specify a metric")
        return
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping (MetricIdentifier), got {show(data)}")
        return
    check_unknown_fields(data, _METRIC_IDENTIFIER_FIELDS, path, problems)
    if data.get("name") in (None, ""):
        problems.add(child(path, "name"), "required value: must specify a metric name")
    else:
        _check_name(data.get("name"), child(path, "name"), problems)


def _check_target(data: object, source: str, path: str, problems: Problems) -> int | None:
    """Validate a MetricTarget; return a valid averageUtilization, if any."""
    if data is None:
        problems.add(path, "required value: must specify a metric target")
        return None
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping (MetricTarget), got {show(data)}")
        return None
    check_unknown_fields(data, _TARGET_FIELDS, path, problems)
    target_type = data.get("type")
    if target_type is None or target_type == "":
        problems.add(child(path, "type"), "required value: must specify a metric target type")
        target_type = None
    elif target_type not in _FIELD_BY_TARGET_TYPE:
        problems.add(
            child(path, "type"),
            f"invalid value {show(target_type)}: must be either Utilization, Value, "
            "or AverageValue",
        )
        target_type = None
    for key in ("value", "averageValue"):
        if data.get(key) is not None:
            _check_positive_quantity(data[key], child(path, key), problems)
    utilization = _check_utilization(data.get("averageUtilization"), path, problems)

    is_set = {key: data.get(key) is not None for key in _FIELD_BY_TARGET_TYPE.values()}
    # The API server's per-source rules.
    if source in _RESOURCE_SOURCES:
        if not is_set["averageUtilization"] and not is_set["averageValue"]:
            problems.add(
                child(path, "averageUtilization"),
                "required value: must set either a target raw value or a target utilization",
            )
        elif is_set["averageUtilization"] and is_set["averageValue"]:
            problems.add(
                child(path, "averageValue"),
                "forbidden: may not set both a target raw value and a target utilization",
            )
    elif source == "pods" and not is_set["averageValue"]:
        problems.add(
            child(path, "averageValue"),
            "required value: must specify a positive target averageValue",
        )
    elif source in ("object", "external") and not is_set["value"] and not is_set["averageValue"]:
        problems.add(
            child(path, "averageValue"),
            "required value: must set either a target value or averageValue",
        )
    elif source == "external" and is_set["value"] and is_set["averageValue"]:
        problems.add(
            child(path, "value"),
            "forbidden: may not set both a target value for metric and a per-pod target",
        )
    _check_target_type_fits(target_type, source, is_set, path, problems)
    return utilization


def _check_target_type_fits(
    target_type: object,
    source: str,
    is_set: dict[str, bool],
    path: str,
    problems: Problems,
) -> None:
    """Rules the API server leaves to the HPA controller (which ignores ``type``)."""
    allowed = _TARGET_TYPES_BY_SOURCE[source]
    if isinstance(target_type, str) and target_type in _FIELD_BY_TARGET_TYPE:
        if target_type not in allowed:
            problems.add(
                child(path, "type"),
                f"unsupported value {target_type!r} for a {_TYPE_BY_SOURCE[source]} metric: "
                "supported values: "
                f"{', '.join(repr(name) for name in allowed)}",
            )
        elif not is_set[_FIELD_BY_TARGET_TYPE[target_type]] and any(is_set.values()):
            problems.add(
                child(path, _FIELD_BY_TARGET_TYPE[target_type]),
                f"required value: target type {target_type!r} needs "
                f"{_FIELD_BY_TARGET_TYPE[target_type]}",
            )
    for key, used_by in (("value", "Value"), ("averageUtilization", "Utilization")):
        if is_set[key] and used_by not in allowed:
            problems.add(
                child(path, key),
                f"forbidden: not used by {_TYPE_BY_SOURCE[source]} metrics "
                f"(target type {used_by} is not supported there)",
            )


def _check_positive_quantity(raw: object, path: str, problems: Problems) -> None:
    quantity = parse(raw, path, problems)
    if quantity is not None and quantity.sign <= 0:
        problems.add(path, f"invalid value {raw!r}: must be positive")


def _check_utilization(raw: object, path: str, problems: Problems) -> int | None:
    if raw is None:
        return None
    field_path = child(path, "averageUtilization")
    return _positive_int32(raw, field_path, problems, "an integer percentage", "greater than 0")


def _positive_int32(
    value: object, path: str, problems: Problems, kind: str, low: str
) -> int | None:
    """A whole number from 1 to 2^31-1; `kind` and `low` word the messages as the API server
    words them for that field."""
    if not is_int(value):
        problems.add(path, f"invalid value {show(value)}: must be {kind}")
        return None
    if value < 1:
        problems.add(path, f"invalid value {value}: must be {low}")
        return None
    if value > INT32_MAX:
        problems.add(path, f"invalid value {value}: must fit in a 32-bit integer")
        return None
    return value


def check_behavior(data: object, path: str, problems: Problems) -> None:
    """``validateBehavior``: the scaling rules' window, select policy and policies (a scale-up
    tolerance is checked against the pods' resources in validation.py)."""
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping, got {show(data)}")
        return
    check_unknown_fields(data, _BEHAVIOR_FIELDS, path, problems)
    for direction in _BEHAVIOR_FIELDS:
        rules = data.get(direction)
        if rules is not None:
            _check_scaling_rules(rules, child(path, direction), problems)


def _check_scaling_rules(data: object, path: str, problems: Problems) -> None:
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping (HPAScalingRules), got {show(data)}")
        return
    check_unknown_fields(data, _RULES_FIELDS, path, problems)
    window = data.get("stabilizationWindowSeconds")
    if window is not None and not (is_int(window) and 0 <= window <= _MAX_WINDOW_SECONDS):
        problems.add(
            child(path, "stabilizationWindowSeconds"),
            f"invalid value {show(window)}: must be a whole number from 0 to {_MAX_WINDOW_SECONDS}",
        )
    select = data.get("selectPolicy")
    if select is not None and select not in _SELECT_POLICIES:
        problems.add(
            child(path, "selectPolicy"),
            f"unsupported value {show(select)}: supported values: {', '.join(_SELECT_POLICIES)}",
        )
    policies = data.get("policies")
    if policies is None:
        return
    if not isinstance(policies, list):
        problems.add(child(path, "policies"), f"must be a list of policies, got {show(policies)}")
        return
    for index, policy in enumerate(policies):
        _check_policy(policy, f"{child(path, 'policies')}[{index}]", problems)


def _check_policy(data: object, path: str, problems: Problems) -> None:
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping (HPAScalingPolicy), got {show(data)}")
        return
    check_unknown_fields(data, _POLICY_FIELDS, path, problems)
    if data.get("type") not in _POLICY_TYPES:
        problems.add(
            child(path, "type"),
            f"unsupported value {show(data.get('type'))}: supported values: "
            f"{', '.join(_POLICY_TYPES)}",
        )
    _positive_int32(
        data.get("value"), child(path, "value"), problems, "an integer", "greater than 0"
    )
    period = data.get("periodSeconds")
    if not (is_int(period) and 1 <= period <= _MAX_PERIOD_SECONDS):
        problems.add(
            child(path, "periodSeconds"),
            f"invalid value {show(period)}: must be a whole number from 1 to {_MAX_PERIOD_SECONDS}",
        )
