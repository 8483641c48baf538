"""variables.typed: the ints and bools of meta/argument_specs.yml given as strings (`-e key=value`,
quoted YAML) are converted once, by Ansible's converters, where the role variables are read; a
value that does not convert names the variable and the value, never a Python error."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import variables
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import (
    INVALID,
    P,
    role_defaults,
    role_options,
    typed,
)
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import spec
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.test_actions import (
    World,
)


def _as_strings(values: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The values with every int, float and bool of the spec (options of a mapping too) as its
    string, as `-e key=value` and quoted YAML give them."""
    out = dict(values)
    for name, value in values.items():
        option = options.get(name, {})
        if option.get("type") in ("int", "float", "bool") and value is not None:
            out[name] = str(value).lower()
        elif isinstance(value, dict) and "options" in option:
            out[name] = _as_strings(value, option["options"])
    return out


def test_every_int_and_bool_of_the_spec_given_as_a_string_comes_back_typed() -> None:
    defaults = copy.deepcopy(role_defaults())
    given = _as_strings(defaults, role_options())
    assert given[P + "history_max"] == "10"
    assert given[P + "autoscaling"]["enabled"] == "true"
    assert given[P + "autoscaling"]["max_replicas"] == "2"
    assert given[P + "wait"] == "true"
    converted = typed(given)
    assert converted == defaults
    assert isinstance(converted[P + "history_max"], int)
    assert not isinstance(converted[P + "history_max"], bool)
    assert converted[P + "autoscaling"]["enabled"] is True
    assert converted[P + "ingress"]["enabled"] is False


# An option of each kind typed converts, as meta/argument_specs.yml writes them.
OPTIONS = {
    "share": {"type": "float"},
    "steps": {
        "type": "list",
        "elements": "dict",
        "options": {"weight": {"type": "int"}, "gate": {"type": "bool"}},
    },
}


def test_floats_and_each_mapping_of_a_list_with_options_are_typed() -> None:
    problems: list[str] = []
    given = {"share": "99.5", "steps": [{"weight": "10", "gate": "no"}, {"weight": 20}, "30"]}
    assert variables._converted(given, OPTIONS, "x.", problems) == {
        "share": 99.5,
        "steps": [{"weight": 10, "gate": False}, {"weight": 20}, "30"],  # "30": the rules'
    }
    assert variables._converted({"share": 99, "steps": "10,20"}, OPTIONS, "", problems) == {
        "share": 99.0,
        "steps": "10,20",  # no list: the rules name it
    }
    variables._converted({"share": "most", "steps": [{"weight": "x"}]}, OPTIONS, "x.", problems)
    assert problems == [
        'x.share: "most" is not a number',
        'x.steps[0].weight: "x" is not an integer',
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"enabled": "false", "max_replicas": "4"}', {"enabled": False, "max_replicas": 4}),
        ("enabled=false max_replicas=4", {"enabled": False, "max_replicas": 4}),
    ],
)
def test_a_mapping_given_as_a_string_is_read_as_the_argument_spec_reads_it(
    text: str, value: dict[str, Any]
) -> None:
    """`-e 'exchange_router_autoscaling={"enabled": false}'` gives the role a string: it once
    failed the release with a Python TypeError ("object is not a mapping") where the rules read
    it."""
    assert typed({P + "autoscaling": text}) == {P + "autoscaling": value}


@pytest.mark.parametrize(
    ("text", "value"),
    [("false", False), ("no", False), ("off", False), ("0", False), ("yes", True), ("1", True)],
)
def test_booleans_as_ansible_reads_them(text: str, value: bool) -> None:
    assert typed({P + "wait": text, P + "pdb": {"enabled": text}}) == {
        P + "wait": value,
        P + "pdb": {"enabled": value},
    }


def test_typed_values_unset_ones_and_the_rest_are_left_as_they_are() -> None:
    given = {
        P + "replicas": 3,  # from -e '{"exchange_router_replicas": 3}': typed already
        P + "wait": False,
        P + "persist_config": None,  # unset (no default)
        P + "image": "router:1",  # a str option
        P + "resources": {"requests": {"cpu": "300"}},  # a mapping without options
        P + "autoscaling": "",  # a mapping option given as something else: the spec's to reject
        P + "unknown": "1",  # not an option of the role
        P + "pdb": {"max_unavailable": "1"},  # a raw option
    }
    assert typed(given) == given
    deadline = P + "progress_deadline_seconds"
    assert typed({deadline: "600.0"}) == {deadline: 600}  # as the argument spec reads it


def test_values_that_do_not_convert_are_each_named_with_their_value() -> None:
    with pytest.raises(ValueError) as error:
        typed(
            {
                P + "replicas": "two",
                P + "wait": "maybe",
                P + "autoscaling": {"max_replicas": "4.5", "enabled": "sometimes"},
                P + "history_max": ["3"],
            }
        )
    assert str(error.value) == INVALID + "\n".join(
        [
            'exchange_router_replicas: "two" is not an integer',
            'exchange_router_wait: "maybe" is not a boolean (true/false, yes/no, on/off, 1/0)',
            'exchange_router_autoscaling.max_replicas: "4.5" is not an integer',
            'exchange_router_autoscaling.enabled: "sometimes" is not a boolean (true/false, '
            "yes/no, on/off, 1/0)",
            'exchange_router_history_max: ["3"] is not an integer',
        ]
    )
    with pytest.raises(ValueError) as error:
        typed({P + "pdb": "enabled", P + "ingress": ["enabled"]})
    assert str(error.value) == INVALID + "\n".join(
        [
            'exchange_router_pdb: "enabled" is not a mapping (YAML, JSON or key=value pairs)',
            'exchange_router_ingress: ["enabled"] is not a mapping (YAML, JSON or key=value pairs)',
        ]
    )


def test_a_no_log_value_that_does_not_convert_is_never_shown() -> None:
    problems: list[str] = []
    options = {"pin": {"type": "int", "no_log": True}}
    assert variables._converted({"pin": "s3cret"}, options, "x.", problems) == {"pin": "s3cret"}
    assert problems == ["x.pin: (hidden) is not an integer"]


def test_the_release_reads_strings_as_the_types_they_stand_for() -> None:
    """What the release action hands on: before, history_max "3" failed the deploy with a
    Python TypeError and autoscaling.enabled "false" still made an HPA ("false" is true)."""
    s = spec(
        history_max="3",
        rollback_revision="1",
        wait="false",
        replicas="2",
        autoscaling={"enabled": "false"},
    )
    assert (s.history_max, s.revision, s.wait, s.autoscaling) == (3, 1, False, False)
    kinds = {o["kind"]: o for o in s.objects}
    assert "HorizontalPodAutoscaler" not in kinds
    assert kinds["Deployment"]["spec"]["replicas"] == 2
    with pytest.raises(ValueError, match='exchange_router_replicas: "two" is not an integer'):
        spec(replicas="two")


def test_a_rollback_to_a_revision_given_as_a_string() -> None:
    """`rollback.yml -e exchange_router_rollback_revision=1` once failed: "no revision 1"."""
    world = World()
    world.existing()
    for tag in ("v1", "v2"):
        assert not world.run(image=f"router:{tag}").failed
    rel = world.run(state="rollback", rollback_revision="1")
    assert not rel.failed, rel.msg
    assert rel.rolled_back_to == 1 and world.image() == "router:v1"
