# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container ResourceRequirements as the API server checks them (k8s.io/kubernetes
pkg/apis/core/validation): resource names, quantities, requests against limits, extended
resources and huge pages. The public entry is plugins/plugin_utils/validation.py.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field

from ansible_collections.exchange.platform.plugins.plugin_utils.names import (
    SUBDOMAIN_MAX_LENGTH,
    is_dns1123_subdomain,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.problems import (
    Problems,
    check_unknown_fields,
    child,
    parse,
    quantity_text,
    show,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.quantity import (
    Quantity,
    QuantityError,
    parse_quantity,
)

_RESOURCE_REQUIREMENTS_FIELDS = ("requests", "limits", "claims")


@dataclass
class Resources:
    result: dict[str, object] = field(default_factory=dict)
    requests: dict[str, Quantity] = field(default_factory=dict)
    limits: dict[str, Quantity] = field(default_factory=dict)
    # resource names with an invalid request or limit, or None if nothing is usable
    broken: set[str] | None = field(default_factory=set)


def check_resources(data: object, path: str, problems: Problems) -> Resources:
    parsed = Resources()
    if data is None:
        return parsed
    if not isinstance(data, dict):
        problems.add(path, f"must be a mapping (ResourceRequirements), got {show(data)}")
        parsed.broken = None
        return parsed
    check_unknown_fields(data, _RESOURCE_REQUIREMENTS_FIELDS, path, problems)
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
                child(child(path, "requests"), name),
                f"request {quantity_text(data['requests'][name], request)} is above "
                f"{child('limits', name)} {quantity_text(data['limits'][name], limit)}",
            )
    return parsed


def _check_resource_list(
    data: object, section: str, path: str, parsed: Resources, problems: Problems
) -> dict[str, str] | None:
    section_path = child(path, section)
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.add(
            section_path,
            f"must be a mapping of resource name to quantity, got {show(data)}",
        )
        parsed.broken = None
        return None
    quantities = parsed.requests if section == "requests" else parsed.limits
    result: dict[str, str] = {}
    for name, raw in data.items():
        item_path = child(section_path, name)
        if not isinstance(name, str) or not name:
            problems.add(item_path, f"resource name must be a non-empty string, got {name!r}")
            continue
        name_problem = _resource_name_problem(name)
        if name_problem is not None:
            problems.add(item_path, name_problem)
            if parsed.broken is not None:
                parsed.broken.add(name)
        quantity = parse(raw, item_path, problems)
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
    data: dict[object, object], parsed: Resources, path: str, problems: Problems
) -> None:
    """Extended resources and huge pages: whole numbers, request equal to limit."""
    hugepages = False
    for section, quantities in (("requests", parsed.requests), ("limits", parsed.limits)):
        for name, quantity in quantities.items():
            raw = data[section][name]  # type: ignore[index]
            item_path = child(child(path, section), name)
            if _is_extended(name) and quantity.value.denominator != 1:
                problems.add(
                    item_path,
                    f"invalid value {quantity_text(raw, quantity)}: an extended resource must "
                    "be a whole number",
                )
            if name.startswith(_HUGEPAGES_PREFIX):
                hugepages = True
                _check_hugepages(name, raw, quantity, item_path, problems)
    for name, request in parsed.requests.items():
        if not _needs_equal_limit(name):
            continue
        limit = parsed.limits.get(name)
        limit_path = child(child(path, "limits"), name)
        if limit is None and (parsed.broken is None or name not in parsed.broken):
            problems.add(
                limit_path,
                f"required value: {name} cannot be overcommitted, so a "
                "request needs a limit (equal to it)",
            )
        elif limit is not None and request != limit:
            problems.add(
                child(child(path, "requests"), name),
                f"request {quantity_text(data['requests'][name], request)} must be equal to "  # type: ignore[index]
                f"{child('limits', name)} {limit.api_string}: {name} cannot be overcommitted",
            )
    if hugepages and not any(
        name in ("cpu", "memory") for name in (*parsed.requests, *parsed.limits)
    ):
        problems.add(path, "forbidden: huge pages require a cpu or memory request or limit")


def _check_hugepages(
    name: str, raw: object, quantity: Quantity, path: str, problems: Problems
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
            f"invalid value {quantity_text(raw, quantity)}: not a whole number "
            f"of {page.api_string} pages",
        )
