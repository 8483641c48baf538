"""Validation rules for container resources and HorizontalPodAutoscaler specs.

Pure functions, standard library only (no Ansible imports). Each public function
collects every problem it finds and raises one :class:`ValidationError` listing
them, one per line, as ``<field path>: <problem, naming the offending value>``.

Inputs may be any ``Mapping``/``Sequence`` (including Ansible's lazy and tagged
containers, which subclass ``dict``/``list``/``str``); returned values are plain
``dict``/``list``/``str``/``int``/``float``/``bool``/``None``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypeGuard, cast

from ansible_collections.exchange.platform.plugins.plugin_utils.quantity import (
    Quantity,
    QuantityError,
    parse_quantity,
)

__all__ = ["ValidationError", "validate_resources", "validate_scaling"]

_INT32_MAX = 2**31 - 1
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

_RESOURCE_REQUIREMENTS_FIELDS = ("requests", "limits", "claims")
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
# autoscaling/v2 defaulting: no metrics means 80% average CPU utilization.
_DEFAULT_CPU_UTILIZATION = 80
_DEFAULT_MIN_REPLICAS = 1


class ValidationError(ValueError):
    """One or more validation problems; ``problems`` holds one line per problem."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


def validate_resources(requirements: object, path: str = "resources") -> dict[str, object]:
    """Validate a ResourceRequirements mapping; return a copy with canonical quantities.

    Checks: only ``requests``, ``limits`` and ``claims`` (passed through untouched);
    mappings of resource name to a valid, non-negative quantity; no request above
    its limit. ``None`` is an empty mapping.
    """
    problems = _Problems()
    result = _check_resources(_plain(requirements), path, problems).result
    problems.raise_if_any()
    return result


def validate_scaling(
    spec: object,
    resources: object = None,
    replicas: object = None,
    path: str = "spec",
    resources_path: str = "resources",
) -> dict[str, object]:
    """Validate an autoscaling/v2 HorizontalPodAutoscalerSpec; return a plain copy.

    Applies the API server's rules for the spec (``minReplicas``, ``maxReplicas``,
    ``scaleTargetRef``, ``metrics``; ``behavior`` is passed through), stricter
    target-type rules the HPA controller relies on, and, when given, checks against
    the pods' ``resources`` (a ResourceRequirements mapping: a Utilization target
    needs a request and must stay below the limit) and the current ``replicas``
    (within ``[minReplicas, maxReplicas]``). Messages name the resources' fields
    under ``resources_path``.
    """
    problems = _Problems()
    data = _plain(spec)
    bounds: tuple[int | None, int | None] = (None, None)
    targets: list[_UtilizationTarget] = []
    if isinstance(data, dict):
        bounds = _check_replica_bounds(data, path, problems)
        if data.get("scaleTargetRef") is not None:
            _check_object_reference(
                data["scaleTargetRef"], _child(path, "scaleTargetRef"), problems
            )
        if data.get("behavior") is not None and not isinstance(data["behavior"], dict):
            problems.add(
                _child(path, "behavior"),
                f"must be a mapping, got {_show(data['behavior'])}",
            )
        targets = _check_metrics(data.get("metrics"), _child(path, "metrics"), problems)
    else:
        problems.add(path, f"must be a mapping (HorizontalPodAutoscalerSpec), got {_show(data)}")
    if resources is not None:
        parsed = _check_resources(_plain(resources), resources_path, problems)
        for target in targets:
            _check_utilization_reachable(target, parsed, resources_path, problems)
    if replicas is not None:
        _check_current_replicas(_plain(replicas), *bounds, path, problems)
    problems.raise_if_any()
    return cast("dict[str, object]", data)


# --- shared helpers -----------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError(self.items)


def _plain(value: object) -> object:
    """Deep-copy ``value`` into plain builtins (renders Ansible lazy containers)."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _child(path: str, key: object) -> str:
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def _show(value: object) -> str:
    """A value for a message: repr for data, the type name for containers."""
    if isinstance(value, dict | list):
        return f"a {type(value).__name__}"
    return repr(value)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_unknown_fields(
    data: dict[object, object], allowed: tuple[str, ...], path: str, problems: _Problems
) -> None:
    for key in data:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
        problems.add(_child(path, key), f"unknown field {key!r} ({hint})")


def _quantity_text(raw: object, quantity: Quantity) -> str:
    """The value as written, with its canonical form when that differs."""
    text = raw if isinstance(raw, str) else str(raw)
    return text if text == quantity.canonical else f"{text} (= {quantity.canonical})"


def _parse(raw: object, path: str, problems: _Problems) -> Quantity | None:
    try:
        return parse_quantity(raw)  # type: ignore[arg-type]  # rejected below if not a quantity
    except QuantityError as exc:
        problems.add(path, str(exc))
        return None


# --- resources ----------------------------------------------------------------------


@dataclass
class _Resources:
    result: dict[str, object] = field(default_factory=dict)
    requests: dict[str, Quantity] = field(default_factory=dict)
    limits: dict[str, Quantity] = field(default_factory=dict)
    # resource names with an invalid request or limit, or None if nothing is usable
    broken: set[str] | None = field(default_factory=set)


def _check_resources(data: object, path: str, problems: _Problems) -> _Resources:
    parsed = _Resources()
    if data is None:
        return parsed
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping (ResourceRequirements), got {_show(data)}")
        parsed.broken = None
        return parsed
    _check_unknown_fields(data, _RESOURCE_REQUIREMENTS_FIELDS, path, problems)
    for section in ("requests", "limits"):
        if section in data:
            parsed.result[section] = _check_resource_list(
                data[section], section, path, parsed, problems
            )
    if "claims" in data:
        parsed.result["claims"] = data["claims"]
    for name, request in parsed.requests.items():
        limit = parsed.limits.get(name)
        if limit is not None and request > limit:
            problems.add(
                _child(_child(path, "requests"), name),
                f"request {_quantity_text(data['requests'][name], request)} is above "
                f"{_child('limits', name)} {_quantity_text(data['limits'][name], limit)}",
            )
    return parsed


def _check_resource_list(
    data: object, section: str, path: str, parsed: _Resources, problems: _Problems
) -> dict[str, str] | None:
    section_path = _child(path, section)
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.add(
            section_path,
            f"must be a mapping of resource name to quantity, got {_show(data)}",
        )
        parsed.broken = None
        return None
    quantities = parsed.requests if section == "requests" else parsed.limits
    result: dict[str, str] = {}
    for name, raw in data.items():
        item_path = _child(section_path, name)
        if not isinstance(name, str) or not name:
            problems.add(item_path, f"resource name must be a non-empty string, got {name!r}")
            continue
        quantity = _parse(raw, item_path, problems)
        if quantity is not None and quantity.sign < 0:
            problems.add(item_path, f"invalid value {raw!r}: must be greater than or equal to 0")
            quantity = None
        if quantity is None:
            if parsed.broken is not None:
                parsed.broken.add(name)
            continue
        quantities[name] = quantity
        result[name] = quantity.canonical
    return result


# --- HPA spec -----------------------------------------------------------------------


@dataclass(frozen=True)
class _UtilizationTarget:
    """A Utilization target on a resource, for the checks against ``resources``."""

    path: str  # of averageUtilization
    label: str  # names the metric in messages
    resource: str
    utilization: int


def _check_replica_bounds(
    data: dict[object, object], path: str, problems: _Problems
) -> tuple[int | None, int | None]:
    """Check min/maxReplicas; return them (minReplicas defaulted), None where invalid."""
    _check_unknown_fields(data, _HPA_SPEC_FIELDS, path, problems)
    min_replicas = _check_replicas_field(data, "minReplicas", path, problems, required=False)
    max_replicas = _check_replicas_field(data, "maxReplicas", path, problems, required=True)
    if min_replicas is not None and max_replicas is not None and max_replicas < min_replicas:
        problems.add(
            _child(path, "maxReplicas"),
            f"invalid value {max_replicas}: must be greater than or equal to "
            f"minReplicas ({min_replicas})",
        )
    return min_replicas, max_replicas


def _check_replicas_field(
    data: dict[object, object],
    name: str,
    path: str,
    problems: _Problems,
    *,
    required: bool,
) -> int | None:
    field_path = _child(path, name)
    value = data.get(name)
    if value is None:
        if required:
            problems.add(field_path, "required value: must be greater than 0")
            return None
        return _DEFAULT_MIN_REPLICAS  # autoscaling/v2 defaulting
    if not _is_int(value):
        problems.add(field_path, f"invalid value {_show(value)}: must be an integer")
        return None
    if value < 1:
        problems.add(field_path, f"invalid value {value}: must be greater than or equal to 1")
        return None
    if value > _INT32_MAX:
        problems.add(field_path, f"invalid value {value}: must fit in a 32-bit integer")
        return None
    return value


def _check_object_reference(data: object, path: str, problems: _Problems) -> None:
    """``ValidateCrossVersionObjectReference``: kind and name required, path segments."""
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping, got {_show(data)}")
        return
    _check_unknown_fields(data, _CROSS_VERSION_REF_FIELDS, path, problems)
    for key in ("kind", "name"):
        _check_name(data.get(key), _child(path, key), problems)


def _check_name(value: object, path: str, problems: _Problems) -> None:
    """A required path-segment name (``IsValidPathSegmentName``)."""
    if value is None or value == "":
        problems.add(path, "required value")
    elif not isinstance(value, str):
        problems.add(path, f"invalid value {_show(value)}: must be a string")
    elif value in (".", ".."):
        problems.add(path, f"invalid value {value!r}: may not be '.' or '..'")
    elif "/" in value or "%" in value:
        problems.add(path, f"invalid value {value!r}: may not contain '/' or '%'")


def _check_metrics(data: object, path: str, problems: _Problems) -> list[_UtilizationTarget]:
    if data is None or data == []:
        return [
            _UtilizationTarget(
                path=path,
                label=f"the default metric (cpu at {_DEFAULT_CPU_UTILIZATION}%, used when "
                "metrics is empty)",
                resource="cpu",
                utilization=_DEFAULT_CPU_UTILIZATION,
            )
        ]
    if not isinstance(data, list):
        problems.add(path, f"must be a list of metrics, got {_show(data)}")
        return []
    targets = []
    for index, metric in enumerate(data):
        target = _check_metric(metric, f"{path}[{index}]", problems)
        if target is not None:
            targets.append(target)
    return targets


def _check_metric(data: object, path: str, problems: _Problems) -> _UtilizationTarget | None:
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping (MetricSpec), got {_show(data)}")
        return None
    _check_unknown_fields(data, _METRIC_SPEC_FIELDS, path, problems)
    metric_type = data.get("type")
    expected = None
    if metric_type is None or metric_type == "":
        problems.add(_child(path, "type"), "required value: must specify a metric source type")
    elif metric_type not in _SOURCE_BY_TYPE:
        supported = ", ".join(repr(name) for name in sorted(_SOURCE_BY_TYPE))
        problems.add(
            _child(path, "type"),
            f"unsupported value {_show(metric_type)}: supported values: {supported}",
        )
    else:
        expected = _SOURCE_BY_TYPE[metric_type]
        if data.get(expected) is None:
            problems.add(
                _child(path, expected),
                f"required value: must populate information for the given metric source "
                f"(type {metric_type})",
            )
    present = [key for key in _SOURCE_FIELDS if data.get(key) is not None]
    for key in present:
        if expected is not None and key != expected:
            problems.add(
                _child(path, key),
                f"forbidden: must populate the given metric source only (type {metric_type})",
            )
    source = expected if expected in present else (present[0] if len(present) == 1 else None)
    if source is None:
        return None
    return _check_source(data[source], source, _child(path, source), problems)


def _check_source(
    data: object, source: str, path: str, problems: _Problems
) -> _UtilizationTarget | None:
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping, got {_show(data)}")
        return None
    _check_unknown_fields(data, _SOURCE_FIELDS[source], path, problems)
    name: object = None
    if source in _RESOURCE_SOURCES:
        name = data.get("name")
        if name is None or name == "":
            problems.add(_child(path, "name"), "required value: must specify a resource name")
            name = None
        elif not isinstance(name, str):
            problems.add(_child(path, "name"), f"invalid value {_show(name)}: must be a string")
            name = None
    if source == "containerResource":
        _check_container_name(data.get("container"), _child(path, "container"), problems)
    if source in ("pods", "object", "external"):
        _check_metric_identifier(data.get("metric"), _child(path, "metric"), problems)
    if source == "object":
        described = data.get("describedObject")
        if described is None:
            problems.add(_child(path, "describedObject"), "required value")
        else:
            _check_object_reference(described, _child(path, "describedObject"), problems)
    utilization = _check_target(data.get("target"), source, _child(path, "target"), problems)
    if isinstance(name, str) and utilization is not None:
        label = f"{_TYPE_BY_SOURCE[source]} metric {name}"
        return _UtilizationTarget(
            path=_child(_child(path, "target"), "averageUtilization"),
            label=label,
            resource=name,
            utilization=utilization,
        )
    return None


def _check_container_name(value: object, path: str, problems: _Problems) -> None:
    if value is None or value == "":
        problems.add(path, "required value: must specify a container")
    elif not isinstance(value, str) or len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        problems.add(
            path,
            f"invalid value {_show(value)}: must be a DNS-1123 label (lowercase alphanumerics "
            "and '-', starting and ending alphanumeric, at most 63 characters)",
        )


def _check_metric_identifier(data: object, path: str, problems: _Problems) -> None:
    if data is None:
        problems.add(path, "required value: must specify a metric")
        return
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping (MetricIdentifier), got {_show(data)}")
        return
    _check_unknown_fields(data, _METRIC_IDENTIFIER_FIELDS, path, problems)
    if data.get("name") in (None, ""):
        problems.add(_child(path, "name"), "required value: must specify a metric name")
    else:
        _check_name(data.get("name"), _child(path, "name"), problems)


def _check_target(data: object, source: str, path: str, problems: _Problems) -> int | None:
    """Validate a MetricTarget; return a valid averageUtilization, if any."""
    if data is None:
        problems.add(path, "required value: must specify a metric target")
        return None
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping (MetricTarget), got {_show(data)}")
        return None
    _check_unknown_fields(data, _TARGET_FIELDS, path, problems)
    target_type = data.get("type")
    if target_type is None or target_type == "":
        problems.add(_child(path, "type"), "required value: must specify a metric target type")
        target_type = None
    elif target_type not in _FIELD_BY_TARGET_TYPE:
        problems.add(
            _child(path, "type"),
            f"invalid value {_show(target_type)}: must be either Utilization, Value, "
            "or AverageValue",
        )
        target_type = None
    for key in ("value", "averageValue"):
        if data.get(key) is not None:
            _check_positive_quantity(data[key], _child(path, key), problems)
    utilization = _check_utilization(data.get("averageUtilization"), path, problems)

    is_set = {key: data.get(key) is not None for key in _FIELD_BY_TARGET_TYPE.values()}
    # The API server's per-source rules.
    if source in _RESOURCE_SOURCES:
        if not is_set["averageUtilization"] and not is_set["averageValue"]:
            problems.add(
                _child(path, "averageUtilization"),
                "required value: must set either a target raw value or a target utilization",
            )
        elif is_set["averageUtilization"] and is_set["averageValue"]:
            problems.add(
                _child(path, "averageValue"),
                "forbidden: may not set both a target raw value and a target utilization",
            )
    elif source == "pods" and not is_set["averageValue"]:
        problems.add(
            _child(path, "averageValue"),
            "required value: must specify a positive target averageValue",
        )
    elif source in ("object", "external") and not is_set["value"] and not is_set["averageValue"]:
        problems.add(
            _child(path, "averageValue"),
            "required value: must set either a target value or averageValue",
        )
    elif source == "external" and is_set["value"] and is_set["averageValue"]:
        problems.add(
            _child(path, "value"),
            "forbidden: may not set both a target value for metric and a per-pod target",
        )
    _check_target_type_fits(target_type, source, is_set, path, problems)
    return utilization


def _check_target_type_fits(
    target_type: object,
    source: str,
    is_set: dict[str, bool],
    path: str,
    problems: _Problems,
) -> None:
    """Rules the API server leaves to the HPA controller (which ignores ``type``)."""
    allowed = _TARGET_TYPES_BY_SOURCE[source]
    if isinstance(target_type, str) and target_type in _FIELD_BY_TARGET_TYPE:
        if target_type not in allowed:
            problems.add(
                _child(path, "type"),
                f"unsupported value {target_type!r} for a {_TYPE_BY_SOURCE[source]} metric: "
                "supported values: "
                f"{', '.join(repr(name) for name in allowed)}",
            )
        elif not is_set[_FIELD_BY_TARGET_TYPE[target_type]] and any(is_set.values()):
            problems.add(
                _child(path, _FIELD_BY_TARGET_TYPE[target_type]),
                f"required value: target type {target_type!r} needs "
                f"{_FIELD_BY_TARGET_TYPE[target_type]}",
            )
    for key, used_by in (("value", "Value"), ("averageUtilization", "Utilization")):
        if is_set[key] and used_by not in allowed:
            problems.add(
                _child(path, key),
                f"forbidden: not used by {_TYPE_BY_SOURCE[source]} metrics "
                f"(target type {used_by} is not supported there)",
            )


def _check_positive_quantity(raw: object, path: str, problems: _Problems) -> None:
    quantity = _parse(raw, path, problems)
    if quantity is not None and quantity.sign <= 0:
        problems.add(path, f"invalid value {raw!r}: must be positive")


def _check_utilization(raw: object, path: str, problems: _Problems) -> int | None:
    if raw is None:
        return None
    field_path = _child(path, "averageUtilization")
    if not _is_int(raw):
        problems.add(field_path, f"invalid value {_show(raw)}: must be an integer percentage")
        return None
    if raw < 1:
        problems.add(field_path, f"invalid value {raw}: must be greater than 0")
        return None
    if raw > _INT32_MAX:
        problems.add(field_path, f"invalid value {raw}: must fit in a 32-bit integer")
        return None
    return raw


def _check_utilization_reachable(
    target: _UtilizationTarget, resources: _Resources, path: str, problems: _Problems
) -> None:
    """A Utilization target needs a request and must be reachable below the limit."""
    name = target.resource
    if resources.broken is None or name in resources.broken:
        return  # already reported as a problem of `resources`
    request_path = _child(_child(path, "requests"), name)
    limit_path = _child(_child(path, "limits"), name)
    request = resources.requests.get(name)
    limit = resources.limits.get(name)
    if request is None and limit is not None:
        request, request_path = limit, f"{request_path} (defaulted from {limit_path})"
    if request is None:
        problems.add(
            target.path,
            f"{target.label} targets {target.utilization}% utilization, but {request_path} "
            "is not set: the HPA cannot compute utilization without a request",
        )
        return
    if request.sign == 0:
        problems.add(
            target.path,
            f"{target.label} targets {target.utilization}% utilization, but {request_path} "
            "is 0: the HPA cannot compute utilization of a zero request",
        )
        return
    if limit is None:
        return
    threshold = request.value * Fraction(target.utilization, 100)
    if threshold >= limit.value:
        problems.add(
            target.path,
            f"{target.label} targets {target.utilization}% of {request_path} {request} = "
            f"{Quantity.from_value(threshold, request.format)}, which is not below "
            f"{limit_path} {limit}: the target can never be reached",
        )


def _check_current_replicas(
    replicas: object,
    min_replicas: int | None,
    max_replicas: int | None,
    path: str,
    problems: _Problems,
) -> None:
    """The replica count must lie within the bounds that are valid themselves."""
    if not _is_int(replicas):
        problems.add("replicas", f"invalid value {_show(replicas)}: must be an integer")
        return
    if min_replicas is not None and replicas < min_replicas:
        problem = f"{replicas} is below {_child(path, 'minReplicas')} {min_replicas}"
    elif max_replicas is not None and replicas > max_replicas:
        problem = f"{replicas} is above {_child(path, 'maxReplicas')} {max_replicas}"
    else:
        return
    if min_replicas is not None and max_replicas is not None and min_replicas <= max_replicas:
        problem += f" (must lie within [{min_replicas}, {max_replicas}])"
    problems.add("replicas", problem)
