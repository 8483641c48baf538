# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation rules for container resources and HorizontalPodAutoscaler specs.

Pure functions, standard library only (no Ansible imports). Each public function
collects every problem it finds and raises one :class:`ValidationError` listing
them, one per line, as ``<field path>: <problem, naming the offending value>``.

Inputs may be any ``Mapping``/``Sequence`` (including Ansible's lazy and tagged
containers, which subclass ``dict``/``list``/``str``); returned values are plain
``dict``/``list``/``str``/``int``/``float``/``bool``/``None``.

Rule by rule: resources.py (ResourceRequirements), hpa.py (the HorizontalPodAutoscalerSpec)
and problems.py (what they share), beside this file. This module holds the public functions and
the checks that join the two: a Utilization target that the pods' requests and limits let the
HPA reach, and the current replicas within the bounds.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

from ansible_collections.exchange.platform.plugins.plugin_utils.hpa import (
    UtilizationTarget,
    check_behavior,
    check_metrics,
    check_object_reference,
    check_replica_bounds,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.problems import (
    Problems,
    ValidationError,
    child,
    is_int,
    parse,
    plain,
    show,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.quantity import Quantity
from ansible_collections.exchange.platform.plugins.plugin_utils.resources import (
    Resources,
    check_resources,
)

__all__ = ["ValidationError", "validate_resources", "validate_scaling"]

# --horizontal-pod-autoscaler-tolerance of kube-controller-manager
_DEFAULT_TOLERANCE = Fraction(1, 10)


@dataclass(frozen=True)
class _Tolerance:
    ratio: Fraction
    label: str  # names where it comes from, in messages


def validate_resources(requirements: object, path: str = "resources") -> dict[str, object]:
    """Validate a ResourceRequirements mapping; return a copy with the stored quantities.

    Checks: only ``requests``, ``limits`` and ``claims`` (passed through untouched);
    mappings of a container resource name the API server accepts to a valid,
    non-negative quantity; no request above its limit; extended resources and huge
    pages as the API server wants them. ``None`` is an empty mapping. Quantities are
    returned as the API server stores them (``2000m`` -> ``2``, ``1.500`` kept).
    """
    problems = Problems()
    result = check_resources(plain(requirements), path, problems).result
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
    ``scaleTargetRef``, ``metrics``, ``behavior``'s scaling rules), stricter
    target-type rules the HPA controller relies on, and, when given, checks against
    the pods' ``resources`` (a ResourceRequirements mapping: a Utilization target
    needs a request, and the utilization a pod can reach below its limit must leave
    the HPA controller's tolerance, ``behavior.scaleUp.tolerance`` or 10%, or the
    HPA never scales up) and the current ``replicas``
    (within ``[minReplicas, maxReplicas]``). Messages name the resources' fields
    under ``resources_path``.
    """
    problems = Problems()
    data = plain(spec)
    bounds: tuple[int | None, int | None] = (None, None)
    targets: list[UtilizationTarget] = []
    tolerance = _Tolerance(_DEFAULT_TOLERANCE, "the HPA controller's default 10% tolerance")
    if isinstance(data, dict):
        bounds = check_replica_bounds(data, path, problems)
        if data.get("scaleTargetRef") is not None:
            check_object_reference(data["scaleTargetRef"], child(path, "scaleTargetRef"), problems)
        if data.get("behavior") is not None:
            check_behavior(data["behavior"], child(path, "behavior"), problems)
        targets = check_metrics(data.get("metrics"), child(path, "metrics"), problems)
        tolerance = _scale_up_tolerance(data.get("behavior"), path, problems)
    else:
        problems.add(path, f"must be a mapping (HorizontalPodAutoscalerSpec), got {show(data)}")
    if resources is not None:
        parsed = check_resources(plain(resources), resources_path, problems)
        for target in targets:
            _check_utilization_reachable(target, parsed, tolerance, resources_path, problems)
    if replicas is not None:
        _check_current_replicas(plain(replicas), *bounds, path, problems)
    problems.raise_if_any()
    return cast("dict[str, object]", data)


def _scale_up_tolerance(behavior: object, path: str, problems: Problems) -> _Tolerance:
    """``behavior.scaleUp.tolerance`` if set (HPAConfigurableTolerance, beta since 1.35)."""
    default = _Tolerance(_DEFAULT_TOLERANCE, "the HPA controller's default 10% tolerance")
    scale_up = behavior.get("scaleUp") if isinstance(behavior, dict) else None
    raw = scale_up.get("tolerance") if isinstance(scale_up, dict) else None
    if raw is None:
        return default
    field_path = child(child(child(path, "behavior"), "scaleUp"), "tolerance")
    quantity = parse(raw, field_path, problems)
    if quantity is None:
        return default
    if quantity.sign < 0:
        problems.add(field_path, f"invalid value {raw!r}: must be greater than or equal to 0")
        return default
    return _Tolerance(quantity.value, f"{field_path} {quantity.api_string}")


def _check_utilization_reachable(
    target: UtilizationTarget,
    resources: Resources,
    tolerance: _Tolerance,
    path: str,
    problems: Problems,
) -> None:
    """A Utilization target needs a request, and the HPA must be able to scale up.

    The controller's arithmetic (pkg/controller/podautoscaler): utilization is
    ``100 * usage // request`` in millis, and it scales up only when
    ``utilization / target > 1 + tolerance``. A pod's usage stops at its limit.
    """
    name = target.resource
    if resources.broken is None or name in resources.broken:
        return  # already reported as a problem of `resources`
    request_path = child(child(path, "requests"), name)
    limit_path = child(child(path, "limits"), name)
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
    problems: Problems,
) -> None:
    """The replica count must lie within the bounds that are valid themselves."""
    if not is_int(replicas):
        problems.add("replicas", f"invalid value {show(replicas)}: must be an integer")
        return
    if min_replicas is not None and replicas < min_replicas:
        problem = f"{replicas} is below {child(path, 'minReplicas')} {min_replicas}"
    elif max_replicas is not None and replicas > max_replicas:
        problem = f"{replicas} is above {child(path, 'maxReplicas')} {max_replicas}"
    else:
        return
    if min_replicas is not None and max_replicas is not None and min_replicas <= max_replicas:
        problem += f" (must lie within [{min_replicas}, {max_replicas}])"
    problems.add("replicas", problem)
