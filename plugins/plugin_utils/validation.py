# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
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
import itertools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypeGuard, cast

from ansible_collections.exchange.platform.plugins.plugin_utils.names import (
    SUBDOMAIN_MAX_LENGTH,
    is_dns1123_label,
    is_dns1123_subdomain,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.quantity import (
    Quantity,
    QuantityError,
    parse_quantity,
)

__all__ = ["ValidationError", "validate_resources", "validate_scaling"]

_INT32_MAX = 2**31 - 1
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
# --horizontal-pod-autoscaler-tolerance of kube-controller-manager
_DEFAULT_TOLERANCE = Fraction(1, 10)


@dataclass(frozen=True)
class _Tolerance:
    ratio: Fraction
    label: str  # names where it comes from, in messages


class ValidationError(ValueError):
    """One or more validation problems; ``problems`` holds one line per problem."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


def validate_resources(requirements: object, path: str = "resources") -> dict[str, object]:
    """Validate a ResourceRequirements mapping; return a copy with the stored quantities.

    Checks: only ``requests``, ``limits`` and ``claims`` (passed through untouched);
    mappings of a container resource name the API server accepts to a valid,
    non-negative quantity; no request above its limit; extended resources and huge
    pages as the API server wants them. ``None`` is an empty mapping. Quantities are
    returned as the API server stores them (``2000m`` -> ``2``, ``1.500`` kept).
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
    needs a request, and the utilization a pod can reach below its limit must leave
    the HPA controller's tolerance, ``behavior.scaleUp.tolerance`` or 10%, or the
    HPA never scales up) and the current ``replicas``
    (within ``[minReplicas, maxReplicas]``). Messages name the resources' fields
    under ``resources_path``.
    """
    problems = _Problems()
    data = _plain(spec)
    bounds: tuple[int | None, int | None] = (None, None)
    targets: list[_UtilizationTarget] = []
    tolerance = _Tolerance(_DEFAULT_TOLERANCE, "the HPA controller's default 10% tolerance")
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
        tolerance = _scale_up_tolerance(data.get("behavior"), path, problems)
    else:
        problems.add(path, f"must be a mapping (HorizontalPodAutoscalerSpec), got {_show(data)}")
    if resources is not None:
        parsed = _check_resources(_plain(resources), resources_path, problems)
        for target in targets:
            _check_utilization_reachable(target, parsed, tolerance, resources_path, problems)
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
    return text if text == quantity.api_string else f"{text} (= {quantity.api_string})"


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
    _check_special_resources(data, parsed, path, problems)
    for name, request in parsed.requests.items():
        limit = parsed.limits.get(name)
        if limit is not None and request > limit and not _needs_equal_limit(name):
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
        name_problem = _resource_name_problem(name)
        if name_problem is not None:
            problems.add(item_path, name_problem)
            if parsed.broken is not None:
                parsed.broken.add(name)
        quantity = _parse(raw, item_path, problems)
        if quantity is not None and quantity.sign < 0:
            problems.add(item_path, f"invalid value {raw!r}: must be greater than or equal to 0")
            quantity = None
        if quantity is None:
            if parsed.broken is not None:
                parsed.broken.add(name)
            continue
        quantities[name] = quantity
        result[name] = quantity.api_string
    return result


# --- resource names (k8s.io/kubernetes pkg/apis/core/validation, helper) -------------

_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_HUGEPAGES_PREFIX = "hugepages-"
_NATIVE_NAMESPACE = "kubernetes.io/"
_QUALIFIED_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_NAME_SUGGESTIONS = (*_STANDARD_CONTAINER_RESOURCES, "hugepages-2Mi", "hugepages-1Gi")
_NAMES_ACCEPTED = (
    "the API server accepts cpu, memory, ephemeral-storage, hugepages-<page size> and "
    "extended resources qualified by a domain (example.com/gpu)"
)


def _qualified_name_problem(name: str) -> str | None:
    """``IsQualifiedName``: an optional DNS-1123 subdomain prefix, '/', a name of <= 63."""
    prefix, slash, local = name.rpartition("/")
    if slash and "/" in prefix:
        return "a qualified name has at most one '/'"
    if slash and not prefix:
        return "the prefix before '/' must be non-empty"
    if slash and not is_dns1123_subdomain(prefix):
        return (
            f"the prefix {prefix!r} must be a DNS-1123 subdomain (lowercase, at most "
            f"{SUBDOMAIN_MAX_LENGTH})"
        )
    if not local:
        return "the name part must be non-empty"
    if len(local) > 63:
        return "the name part must be no more than 63 characters"
    if not _QUALIFIED_NAME_PART.fullmatch(local):
        return (
            "the name part must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character"
        )
    return None


def _is_extended(name: str) -> bool:
    """``IsExtendedResourceName``: qualified by a domain outside *kubernetes.io/."""
    return "/" in name and _NATIVE_NAMESPACE not in name and not name.startswith("requests.")


def _needs_equal_limit(name: str) -> bool:
    """Not ``IsOvercommitAllowed``: extended resources and huge pages."""
    return _is_extended(name) or name.startswith(_HUGEPAGES_PREFIX)


def _resource_name_problem(name: str) -> str | None:
    """``validateContainerResourceName``, with a suggestion for an unknown standard name."""
    problem = _qualified_name_problem(name)
    if problem is not None:
        return f"invalid resource name {name!r}: {problem}"
    if "/" not in name:
        if name in _STANDARD_CONTAINER_RESOURCES or name.startswith(_HUGEPAGES_PREFIX):
            return None
        close = difflib.get_close_matches(name.lower(), _NAME_SUGGESTIONS, n=1, cutoff=0.75)
        hint = f": did you mean {close[0]!r}?" if close else ""
        return f"unknown resource name {name!r}{hint} ({_NAMES_ACCEPTED})"
    if _NATIVE_NAMESPACE in name:
        return None  # *kubernetes.io/ names need only be qualified
    if name.startswith("requests."):
        return (
            f"invalid resource name {name!r}: an extended resource may not start with 'requests.'"
        )
    problem = _qualified_name_problem(f"requests.{name}")
    if problem is not None:  # the quota name requests.<name> must be qualified too
        return f"invalid resource name {name!r}: as requests.{name} (its quota name), {problem}"
    return None


def _check_special_resources(
    data: dict[object, object], parsed: _Resources, path: str, problems: _Problems
) -> None:
    """Extended resources and huge pages: whole numbers, request equal to limit."""
    hugepages = False
    for section, quantities in (("requests", parsed.requests), ("limits", parsed.limits)):
        for name, quantity in quantities.items():
            raw = data[section][name]  # type: ignore[index]
            item_path = _child(_child(path, section), name)
            if _is_extended(name) and quantity.value.denominator != 1:
                problems.add(
                    item_path,
                    f"invalid value {_quantity_text(raw, quantity)}: an extended resource must "
                    "be a whole number",
                )
            if name.startswith(_HUGEPAGES_PREFIX):
                hugepages = True
                _check_hugepages(name, raw, quantity, item_path, problems)
    for name, request in parsed.requests.items():
        if not _needs_equal_limit(name):
            continue
        limit = parsed.limits.get(name)
        limit_path = _child(_child(path, "limits"), name)
        if limit is None and (parsed.broken is None or name not in parsed.broken):
            problems.add(
                limit_path,
                f"required value: {name} cannot be overcommitted, so a "
                "request needs a limit (equal to it)",
            )
        elif limit is not None and request != limit:
            problems.add(
                _child(_child(path, "requests"), name),
                f"request {_quantity_text(data['requests'][name], request)} must be equal to "  # type: ignore[index]
                f"{_child('limits', name)} {limit.api_string}: {name} cannot be overcommitted",
            )
    if hugepages and not any(
        name in ("cpu", "memory") for name in (*parsed.requests, *parsed.limits)
    ):
        problems.add(path, "forbidden: huge pages require a cpu or memory request or limit")


def _check_hugepages(
    name: str, raw: object, quantity: Quantity, path: str, problems: _Problems
) -> None:
    """``IsHugePageResourceValueDivisible``: a whole number of pages."""
    try:
        page = parse_quantity(name.removeprefix(_HUGEPAGES_PREFIX))
    except QuantityError:
        page = None
    if page is None or page.sign <= 0 or page.value.denominator != 1:
        problems.add(
            path,
            f"invalid resource name {name!r}: the page size must be a positive "
            "whole quantity (hugepages-2Mi, hugepages-1Gi)",
        )
    elif math.ceil(quantity.value) % page.value != 0:
        problems.add(
            path,
            f"invalid value {_quantity_text(raw, quantity)}: not a whole number "
            f"of {page.api_string} pages",
        )


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
    elif not is_dns1123_label(value):
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


def _scale_up_tolerance(behavior: object, path: str, problems: _Problems) -> _Tolerance:
    """``behavior.scaleUp.tolerance`` if set (HPAConfigurableTolerance, beta since 1.35)."""
    default = _Tolerance(_DEFAULT_TOLERANCE, "the HPA controller's default 10% tolerance")
    scale_up = behavior.get("scaleUp") if isinstance(behavior, dict) else None
    raw = scale_up.get("tolerance") if isinstance(scale_up, dict) else None
    if raw is None:
        return default
    field_path = _child(_child(_child(path, "behavior"), "scaleUp"), "tolerance")
    quantity = _parse(raw, field_path, problems)
    if quantity is None:
        return default
    if quantity.sign < 0:
        problems.add(field_path, f"invalid value {raw!r}: must be greater than or equal to 0")
        return default
    return _Tolerance(quantity.value, f"{field_path} {quantity.api_string}")


def _check_utilization_reachable(
    target: _UtilizationTarget,
    resources: _Resources,
    tolerance: _Tolerance,
    path: str,
    problems: _Problems,
) -> None:
    """A Utilization target needs a request, and the HPA must be able to scale up.

    The controller's arithmetic (pkg/controller/podautoscaler): utilization is
    ``100 * usage // request`` in millis, and it scales up only when
    ``utilization / target > 1 + tolerance``. A pod's usage stops at its limit.
    """
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
    request_milli, limit_milli = _milli(request), _milli(limit)
    highest = 100 * limit_milli // request_milli
    if _scales_up(highest, target.utilization, tolerance.ratio):
        return
    ratio = 1 + tolerance.ratio
    # Start next to the boundary (exact arithmetic), then let the float64 test decide.
    start = min(target.utilization - 1, math.floor(highest / ratio) + 1)
    lowest_target = next(
        (t for t in range(start, 0, -1) if _scales_up(highest, t, tolerance.ratio)), None
    )
    needed = next(
        u
        for u in itertools.count(max(highest + 1, math.floor(target.utilization * ratio) - 1))
        if _scales_up(u, target.utilization, tolerance.ratio)
    )
    least_limit = Quantity.from_value(Fraction(-(-needed * request_milli // 100), 1000))
    fix = f"raise {limit_path} to at least {least_limit.api_string}"
    if lowest_target is not None:
        fix += f" or lower the target to {lowest_target}%"
    problems.add(
        target.path,
        f"{target.label} targets {target.utilization}% utilization of {request_path} "
        f"{request.api_string}, but a pod's usage stops at {limit_path} {limit.api_string}: at "
        f"most {highest}% (100 * limit // request, in millis), and {highest}/"
        f"{target.utilization} = {highest / target.utilization:.3f} is within "
        f"{tolerance.label} (the controller scales up only above "
        f"{1 + float(tolerance.ratio):g}), so the HPA can never scale up: {fix}",
    )


def _milli(quantity: Quantity) -> int:
    """``Quantity.MilliValue()``: rounded up."""
    return math.ceil(quantity.value * 1000)


def _scales_up(utilization: int, target: int, tolerance: Fraction) -> bool:
    """``Tolerances.isWithin`` (float64, as in Go) is false above the target."""
    return float(utilization) / float(target) > 1.0 + float(tolerance)


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
