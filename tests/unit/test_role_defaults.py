"""One source for the role's defaults: defaults/main.yml sets them, meta/argument_specs.yml types
and documents the same variables with the same defaults (it is what ansible-doc and docs/ show,
and Ansible reads the two files separately, so nothing else keeps them together)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.exchange.platform.plugins.plugin_utils.connection_options import (
    CONNECTION_OPTIONS,
)

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles/exchange_router"
DEFAULTS_TEXT = (ROLE / "defaults/main.yml").read_text()
DEFAULTS: dict[str, Any] = yaml.safe_load(DEFAULTS_TEXT)
SPECS: dict[str, Any] = yaml.safe_load((ROLE / "meta/argument_specs.yml").read_text())[
    "argument_specs"
]
P = "exchange_router_"

# Options deliberately without a default in defaults/main.yml: (entry point, variable).
# remove's state must be given (V(absent)); the main entry point's default would deploy.
WITHOUT_DEFAULT = {("remove", "exchange_router_state"), ("canary", "exchange_router_state")}

# The Python type of a value of each argument-spec type (raw takes anything).
TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "path": str,
    "int": int,
    "float": (int, float),  # YAML writes a whole float default as an int (99)
    "bool": bool,
    "dict": dict,
    "list": list,
}


def canonical(value: Any) -> str:
    """Equal only for the same values of the same types (True is not 1, '1' is not 1)."""
    return json.dumps(value, sort_keys=True)


def entry_options() -> list[Any]:
    """(entry point, variable, its argument spec) of every option, named entry:variable."""
    return [
        pytest.param(entry, name, option, id=f"{entry}:{name}")
        for entry, spec in SPECS.items()
        for name, option in spec["options"].items()
    ]


def sub_options(path: str, option: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """An option and every option below it, each with its dotted path."""
    yield path, option
    for key, sub in (option.get("options") or {}).items():
        yield from sub_options(f"{path}.{key}", sub)


def shape_problems(path: str, value: Any, option: dict[str, Any]) -> list[str]:
    """Why `value` is not a value of `option`'s type: elements, and for a dict with options the
    same keys with each sub-option's default."""
    if value is None or option.get("type", "str") == "raw":
        return []
    kind = option.get("type", "str")
    if not isinstance(value, TYPES[kind]) or (kind == "int" and isinstance(value, bool)):
        return [f"{path}: {value!r} is not a {kind}"]
    problems = []
    if kind == "list" and "elements" in option:
        element = {"type": option["elements"]}
        for index, item in enumerate(value):
            problems += shape_problems(f"{path}[{index}]", item, element)
    if kind == "dict" and "options" in option:
        keys, options = set(value), set(option["options"])
        if keys != options:
            problems.append(
                f"{path}: defaults/main.yml has keys {sorted(keys - options)} that the argument "
                f"spec's options lack, which has {sorted(options - keys)} that the defaults lack"
            )
        for key in sorted(keys & options):
            sub = option["options"][key]
            if canonical(sub.get("default")) != canonical(value[key]):
                problems.append(
                    f"{path}.{key}: argument spec default {sub.get('default')!r}, "
                    f"defaults/main.yml {value[key]!r}"
                )
            problems += shape_problems(f"{path}.{key}", value[key], sub)
    return problems


def test_every_default_is_a_documented_option_and_every_option_has_a_default() -> None:
    main = set(SPECS["main"]["options"])
    assert sorted(set(DEFAULTS) - main) == [], "variables in defaults/main.yml without a spec"
    assert sorted(main - set(DEFAULTS)) == [], "options in argument_specs.yml without a default"
    for entry, spec in SPECS.items():
        missing = {n for n in spec["options"] if n not in DEFAULTS} - {
            name for e, name in WITHOUT_DEFAULT if e == entry
        }
        assert not missing, f"{entry}: options neither in defaults/main.yml nor WITHOUT_DEFAULT"


@pytest.mark.parametrize(("entry", "name", "option"), entry_options())
def test_the_argument_spec_states_the_default_of_defaults_main_yml(
    entry: str, name: str, option: dict[str, Any]
) -> None:
    if (entry, name) in WITHOUT_DEFAULT:
        assert "default" not in option and option.get("required") is True
        return
    # Ansible reads an argument spec without `default` as a null default.
    assert canonical(option.get("default")) == canonical(DEFAULTS[name]), (
        f"{entry}:{name}: argument_specs.yml says {option.get('default')!r}, "
        f"defaults/main.yml {DEFAULTS[name]!r}"
    )
    assert shape_problems(name, DEFAULTS[name], option) == []


@pytest.mark.parametrize(("entry", "name", "option"), entry_options())
def test_every_option_and_sub_option_has_a_description_and_a_type(
    entry: str, name: str, option: dict[str, Any]
) -> None:
    for path, each in sub_options(name, option):
        assert each.get("description"), f"{entry}:{path} has no description"
        assert each.get("type") in {*TYPES, "raw"}, f"{entry}:{path} has no known type"


def comment_above(name: str) -> bool:
    """The variable's line is in a paragraph of defaults/main.yml (lines up to a blank one) that
    starts with a comment: one comment may describe the few variables right below it."""
    lines = DEFAULTS_TEXT.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
    while index > 0 and lines[index - 1].strip():
        index -= 1
        if lines[index].startswith("#"):
            return True
    return False


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_every_default_has_a_comment(name: str) -> None:
    assert re.search(rf"^{name}:", DEFAULTS_TEXT, re.M), f"{name} is not a top-level line"
    assert comment_above(name), f"defaults/main.yml: {name} has no comment above it"


def test_every_connection_option_is_a_variable_of_both_entry_points_alike() -> None:
    """remove.yml reaches the cluster exactly as a deploy does."""
    for option in CONNECTION_OPTIONS:
        assert P + option in DEFAULTS
        specs = [spec["options"].get(P + option) for spec in SPECS.values()]
        assert all(specs), f"{P + option} is missing from an entry point"
        assert all(spec == specs[0] for spec in specs), f"{P + option} differs between them"


def test_the_shape_check_finds_what_it_looks_for() -> None:
    option = {
        "type": "dict",
        "options": {
            "enabled": {"type": "bool", "default": False},
            "hosts": {"type": "list", "elements": "str", "default": []},
            "limit": {"type": "int"},
        },
    }
    assert shape_problems("x", {"enabled": False, "hosts": [], "limit": None}, option) == []
    assert shape_problems("x", {"enabled": 0, "hosts": [1], "other": 2}, option) == [
        "x: defaults/main.yml has keys ['other'] that the argument spec's options lack, "
        "which has ['limit'] that the defaults lack",
        "x.enabled: argument spec default False, defaults/main.yml 0",
        "x.enabled: 0 is not a bool",
        "x.hosts: argument spec default [], defaults/main.yml [1]",
        "x.hosts[0]: 1 is not a str",
    ]
    assert shape_problems("n", True, {"type": "int"}) == ["n: True is not a int"]
    assert shape_problems("r", {"any": 1}, {"type": "raw"}) == []
    assert comment_above("exchange_router_context")  # below exchange_router_kubeconfig's comment
