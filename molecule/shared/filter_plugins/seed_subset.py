"""Test-only filter: which fields of the seed's objects an object lacks or has otherwise.

Used by molecule's verify (on live objects) and by tests/render (on rendered ones).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.quantity import parse_quantity

QUANTITY_PARENTS = ("resources.requests", "resources.limits")


def _same_quantity(expected: Any, actual: Any) -> bool:
    try:
        return parse_quantity(expected).value == parse_quantity(actual).value
    except ValueError:
        return False


def seed_differences(
    expected: Any, actual: Any, path: str = "", skip: tuple[str, ...] = ()
) -> list[str]:
    """Every field of `expected` missing from `actual` or with another value, as 'path: ...'."""
    if path in skip:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected a mapping, found {actual!r}"]
        found: list[str] = []
        for key, value in expected.items():
            where = f"{path}.{key}" if path else key
            if key not in actual:
                if where not in skip:
                    found.append(f"{where}: missing (seed has {value!r})")
                continue
            found += seed_differences(value, actual[key], where, skip)
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) < len(expected):
            return [f"{path}: expected {len(expected)} items, found {actual!r}"]
        found = []
        for index, value in enumerate(expected):
            found += seed_differences(value, actual[index], f"{path}[{index}]", skip)
        return found
    parent = path.rpartition(".")[0]
    if parent.endswith(QUANTITY_PARENTS):
        same = _same_quantity(expected, actual)
    else:
        same = expected == actual
    return [] if same else [f"{path}: seed has {expected!r}, found {actual!r}"]


def seed_differences_pair(
    pair: tuple[Any, list[Any]], skip: list[str] | tuple[str, ...] = ()
) -> list[str]:
    """(seed object, k8s_info resources) -> the differences, or that the object is missing.

    `skip` names paths not compared (e.g. a stand-in image), in every object.
    """
    expected, found = pair
    where = f"{expected['kind']}/{expected['metadata']['name']}"
    if not found:
        return [f"{where}: not found"]
    return [f"{where} {line}" for line in seed_differences(expected, found[0], skip=tuple(skip))]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "seed_differences": seed_differences,
            "seed_differences_pair": seed_differences_pair,
        }
