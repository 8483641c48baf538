# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the validation rules (plugins/plugin_utils/validation.py) share: the problems they
collect, one line each as ``<field path>: <problem, naming the offending value>``, raised as one
:class:`ValidationError`; plain copies of Ansible's lazy and tagged containers; field paths and
values as messages show them; quantities parsed with their problem recorded.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from typing import TypeGuard

from ansible_collections.exchange.platform.plugins.plugin_utils.quantity import (
    Quantity,
    QuantityError,
    parse_quantity,
)

INT32_MAX = 2**31 - 1
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class ValidationError(ValueError):
    """One or more validation problems; ``problems`` holds one line per problem."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError(self.items)


def plain(value: object) -> object:
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
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def child(path: str, key: object) -> str:
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def as_json(value: object) -> str:
    """A value for a message as the user wrote it: JSON, strings quoted."""
    return json.dumps(value, default=str)


def show(value: object) -> str:
    """A value for a message: repr for data, the type name for containers."""
    if isinstance(value, dict | list):
        return f"a {type(value).__name__}"
    return repr(value)


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_unknown_fields(
    data: dict[object, object], allowed: tuple[str, ...], path: str, problems: Problems
) -> None:
    for key in data:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
        problems.add(child(path, key), f"unknown field {key!r} ({hint})")


def quantity_text(raw: object, quantity: Quantity) -> str:
    """The value as written, with its canonical form when that differs."""
    text = raw if isinstance(raw, str) else str(raw)
    return text if text == quantity.api_string else f"{text} (= {quantity.api_string})"


def parse(raw: object, path: str, problems: Problems) -> Quantity | None:
    try:
        return parse_quantity(raw)  # type: ignore[arg-type]  # rejected below if not a quantity
    except QuantityError as exc:
        problems.add(path, str(exc))
        return None
