# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters k8s_quantity, k8s_quantity_canonical, validate_resources, validate_scaling and
validate_edge.

Thin wrappers over plugins/plugin_utils (pure Python): each turns the ValueError the
rules raise into an AnsibleFilterError with the same message. Documentation lives in
the sidecar files named after each filter (k8s_quantity.yml, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    edge_rules,
    quantity,
    validation,
)


def k8s_quantity(value: Any) -> str:
    """The string the API server stores for a quantity: '2000m' -> '2', '1.500' -> '1.500'."""
    try:
        return quantity.api_string(value)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def k8s_quantity_canonical(value: Any) -> str:
    """The fully canonical form of a quantity: '2000m' -> '2', '1.500' -> '1500m'."""
    try:
        return quantity.canonical(value)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def validate_resources(requirements: Any, path: str = "resources") -> dict[str, Any]:
    """ResourceRequirements with the quantities the API server stores, or every problem."""
    try:
        return validation.validate_resources(requirements, path=path)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def validate_scaling(
    spec: Any,
    resources: Any = None,
    replicas: Any = None,
    path: str = "spec",
    resources_path: str = "resources",
) -> dict[str, Any]:
    """A copy of a HorizontalPodAutoscalerSpec once it passes every rule, or every problem."""
    try:
        return validation.validate_scaling(
            spec, resources=resources, replicas=replicas, path=path, resources_path=resources_path
        )
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def validate_edge(values: Any) -> dict[str, Any]:
    """The exposure, disruption budget, network policy and pod identity values, unchanged, once
    they pass every rule; else one error listing every problem."""
    if not isinstance(values, dict):
        raise AnsibleFilterError(f"validate_edge expects a mapping, got {type(values).__name__}")
    found = edge_rules.problems(values)
    if found:
        raise AnsibleFilterError(
            "Invalid exchange.platform.exchange_router values:\n" + "\n".join(found)
        )
    return values


class FilterModule:
    """exchange.platform quantity and validation filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "k8s_quantity": k8s_quantity,
            "k8s_quantity_canonical": k8s_quantity_canonical,
            "validate_resources": validate_resources,
            "validate_scaling": validate_scaling,
            "validate_edge": validate_edge,
        }
