# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading one host's role variables: the prefix, the role's defaults (a mapping variable a user
sets only in part takes the keys it leaves out from there: Ansible replaces a mapping variable
whole), and the ints, floats, bools and mappings the argument spec types, converted once
(`typed`)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from ansible.module_utils.common.validation import (
    check_type_bool,
    check_type_dict,
    check_type_float,
    check_type_int,
)

# libyaml's safe loader where PyYAML has it (the pure-Python one takes 20 ms for the defaults)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
P = "exchange_router_"
RENDER_DIR_NEEDED = "Set exchange_router_render_dir (for example -e exchange_router_render_dir=out)"
# Variables read only when the release is deployed: removal, rollback and history never template
# them (so a vaulted exchange_router_secret_data needs no vault password there).
DEPLOY_ONLY = (f"{P}secret_data",)
ROLE = Path(__file__).resolve().parents[2] / "roles/exchange_router"
ROLE_DEFAULTS = ROLE / "defaults/main.yml"
INVALID = "Invalid exchange.platform.exchange_router values:\n"
# An argument spec type -> Ansible's own converter (the one the role's argument spec checks
# with) and what a value that does not convert is not.
CONVERTERS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "int": (check_type_int, "an integer"),
    "bool": (check_type_bool, "a boolean (true/false, yes/no, on/off, 1/0)"),
    "float": (check_type_float, "a number"),
}
MAPPING = "a mapping (YAML, JSON or key=value pairs)"


@functools.cache
def role_defaults() -> dict[str, Any]:
    return yaml.load(ROLE_DEFAULTS.read_text(), LOADER)


@functools.cache
def role_options() -> dict[str, Any]:
    """The role's options as meta/argument_specs.yml types them (entry point main has them all)."""
    specs = yaml.load((ROLE / "meta/argument_specs.yml").read_text(), LOADER)
    return specs["argument_specs"]["main"]["options"]


def typed(v: dict[str, Any]) -> dict[str, Any]:
    """The role variables with every int, float and bool of the argument spec (a mapping's
    options and the options of a list's mappings included) converted: `-e key=value` and quoted
    YAML give strings, which the role's argument spec checks but hands on unconverted. A mapping
    with options given as a string (`-e 'exchange_router_pdb={"enabled": true}'`) is read as
    the argument spec reads it (JSON or key=value pairs), then converted. Raises ValueError naming
    each value that does not convert."""
    problems: list[str] = []
    out = _converted(v, role_options(), "", problems)
    if problems:
        raise ValueError(INVALID + "\n".join(problems))
    return out


def _shown(value: Any, option: dict[str, Any]) -> str:
    return "(hidden)" if option.get("no_log") else json.dumps(value, default=str)


def _converted(
    values: dict[str, Any], options: dict[str, Any], parent: str, problems: list[str]
) -> dict[str, Any]:
    out = dict(values)
    for name, value in values.items():
        option = options.get(name) or {}
        kind = option.get("type")
        if value is None:  # unset: an option without a default
            continue
        if kind in CONVERTERS:
            convert, wanted = CONVERTERS[kind]
            try:
                out[name] = convert(value)
            except TypeError:
                problems.append(f"{parent}{name}: {_shown(value, option)} is not {wanted}")
        elif "options" in option and kind == "dict":
            out[name] = _mapping(value, option, f"{parent}{name}", problems)
        elif "options" in option and kind == "list" and isinstance(value, list):
            out[name] = [
                _mapping(item, option, f"{parent}{name}[{index}]", problems)
                if isinstance(item, dict)
                else item  # not a mapping: the rules on the list name it
                for index, item in enumerate(value)
            ]
    return out


def _mapping(value: Any, option: dict[str, Any], where: str, problems: list[str]) -> Any:
    """A mapping with options, converted; given as a string, read first as the argument spec
    reads it. An empty string stays (the argument spec rejects it when the role starts)."""
    if value == "":
        return value
    if not isinstance(value, dict):
        try:
            value = check_type_dict(value)
        except TypeError:
            problems.append(f"{where}: {_shown(value, option)} is not {MAPPING}")
            return value
    return _converted(value, option["options"], f"{where}.", problems)


def filled(v: dict[str, Any], name: str) -> dict[str, Any]:
    """A mapping variable with every key it leaves out taken from its default."""
    return {**role_defaults()[P + name], **(v.get(P + name) or {})}


def needed_keys(v: dict[str, Any]) -> list[str]:
    """The Secret keys the container's environment reads (exchange_router_secret_env)."""
    return sorted(set(v[P + "secret_env"].values()))
