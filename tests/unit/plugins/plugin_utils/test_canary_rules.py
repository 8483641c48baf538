"""plugins/plugin_utils/canary_rules.py and its place in rules.check: every problem of an enabled
canary named with its variable and value, strings from `-e` typed first (variables.typed), the
defaults (canary off) untouched, and an enabled canary with good values stopped until the engine
runs canaries: never a rolling update in its place."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import rules, variables
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_rules import problems
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import (
    INVALID,
    P,
    role_defaults,
)
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import spec

DEFAULTS: dict[str, Any] = role_defaults()[P + "canary"]
URL = "http://prometheus.monitoring:9090"
ROUTE = {**role_defaults()[P + "httproute"], "enabled": True, "parent_refs": [{"name": "edge"}]}
NO_ROUTE = role_defaults()[P + "httproute"]


def canary(**changes: Any) -> dict[str, Any]:
    return {**DEFAULTS, "enabled": True, "prometheus_url": URL, **changes}


@pytest.mark.parametrize(
    "good",
    [
        canary(),
        canary(steps=[{"weight": 1}, {"weight": 10, "pause": 0}, {"weight": 99, "pause": 600}]),
        canary(step_weight=99, max_weight=99),
        canary(step_weight=1, max_weight=1),
        canary(success_rate_min=100, latency_p99_max_ms=1, min_requests=1),
        canary(success_rate_min=0.01),
        canary(no_data="wait", no_data_wait_max=0, threshold=5),
        canary(no_data="pass"),
        canary(prometheus_url="https://user:secret@prometheus.example.com/prom/"),
        canary(step_weight=0, max_weight=200, steps=[{"weight": 50}]),  # unused without steps
    ],
)
def test_values_that_break_no_rule_give_no_problem(good: dict[str, Any]) -> None:
    assert problems(good, ROUTE) == []


STEPS = "exchange_router_canary.steps"
PROMOTE = "is not a weight of 1-99 (the promote after the last step sends 100%)"
BAD = {
    "no route": (
        canary(),
        NO_ROUTE,
        "exchange_router_canary.enabled: true without exchange_router_httproute.enabled: the "
        "canary sends its share of requests by the weights of an HTTPRoute's backendRefs; enable "
        "exchange_router_httproute (an Ingress, exchange_router_ingress, has no standard weight: "
        "each controller has its own annotations or objects for it)",
    ),
    "falling weights": (
        canary(steps=[{"weight": 20}, {"weight": 10}]),
        ROUTE,
        f"{STEPS}[1].weight: 10 does not rise above the step before (20): the weights rise step "
        "by step toward 100",
    ),
    "a weight twice": (
        canary(steps=[{"weight": 20}, {"weight": 20}]),
        ROUTE,
        f"{STEPS}[1].weight: 20 does not rise above the step before (20)",
    ),
    "a step of 100": (canary(steps=[{"weight": 100}]), ROUTE, f"{STEPS}[0].weight: 100 {PROMOTE}"),
    "a step of 0": (canary(steps=[{"weight": 0}]), ROUTE, f"{STEPS}[0].weight: 0 {PROMOTE}"),
    "a step without a weight": (
        canary(steps=[{"pause": 30}]),
        ROUTE,
        f"{STEPS}[0].weight: null {PROMOTE}",
    ),
    "a weight as text": (
        canary(steps=[{"weight": "ten"}]),
        ROUTE,
        f'{STEPS}[0].weight: "ten" {PROMOTE}',
    ),
    "argo's names": (
        canary(steps=[{"setWeight": 20, "weight": 20}]),
        ROUTE,
        f'{STEPS}[0]: unknown field "setWeight" (expected weight and pause)',
    ),
    "a step that is no mapping": (
        canary(steps=[20]),
        ROUTE,
        f"{STEPS}[0]: 20 is not a mapping of weight and pause",
    ),
    "steps that are no list": (
        canary(steps="20,40"),
        ROUTE,
        f'{STEPS}: "20,40" is not a list of steps ({{weight, pause}})',
    ),
    "a negative pause": (
        canary(steps=[{"weight": 20, "pause": -5}]),
        ROUTE,
        f"{STEPS}[0].pause: -5 is not a number of seconds (0 or more; 0 holds the step until "
        "playbooks/promote.yml)",
    ),
    "a step weight of 100": (
        canary(step_weight=100, max_weight=60),
        ROUTE,
        f"exchange_router_canary.step_weight: 100 {PROMOTE}",
    ),
    "a max weight of 0": (
        canary(max_weight=0),
        ROUTE,
        f"exchange_router_canary.max_weight: 0 {PROMOTE}",
    ),
    "a max below the step": (
        canary(step_weight=30, max_weight=20),
        ROUTE,
        "exchange_router_canary.max_weight: 20 is below exchange_router_canary.step_weight (30)",
    ),
    "no prometheus": (
        canary(prometheus_url=""),
        ROUTE,
        "exchange_router_canary.prometheus_url: \"\" is empty: the canary's checks read Traefik's "
        "request metrics through a Prometheus HTTP API (kube-prometheus-stack's, e.g. "
        "http://kube-prometheus-stack-prometheus.monitoring.svc:9090), reachable from where "
        "Ansible runs",
    ),
    "no scheme": (
        canary(prometheus_url="prometheus:9090"),
        ROUTE,
        'exchange_router_canary.prometheus_url: "prometheus:9090" is not an http:// or https:// '
        "URL",
    ),
    "no host": (
        canary(prometheus_url="http://"),
        ROUTE,
        'exchange_router_canary.prometheus_url: "http://" is not an http:// or https:// URL',
    ),
    "a url that is no string": (
        canary(prometheus_url=9090),
        ROUTE,
        "exchange_router_canary.prometheus_url: 9090 is not an http:// or https:// URL",
    ),
    "the api path": (
        canary(prometheus_url="http://prometheus:9090/api/v1/query"),
        ROUTE,
        'exchange_router_canary.prometheus_url: "http://prometheus:9090/api/v1/query" names the '
        "API's path: give the base URL (the checks add /api/v1/query)",
    ),
    "a password is never shown": (
        canary(prometheus_url="ftp://reader:s3cret@prometheus:9090"),
        ROUTE,
        'exchange_router_canary.prometheus_url: "ftp://********@prometheus:9090" is not '
        "an http:// or https:// URL",
    ),
    "a success rate of 0": (
        canary(success_rate_min=0),
        ROUTE,
        "exchange_router_canary.success_rate_min: 0 is not a percentage above 0 and at most 100",
    ),
    "a success rate above 100": (
        canary(success_rate_min=100.5),
        ROUTE,
        "exchange_router_canary.success_rate_min: 100.5 is not a percentage above 0 and at most "
        "100",
    ),
    "a success rate of true": (
        canary(success_rate_min=True),
        ROUTE,
        "exchange_router_canary.success_rate_min: true is not a percentage",
    ),
    "a latency of 0": (
        canary(latency_p99_max_ms=0),
        ROUTE,
        "exchange_router_canary.latency_p99_max_ms: 0 is not a number of milliseconds (1 or more)",
    ),
    "an interval of 0": (
        canary(interval=0),
        ROUTE,
        "exchange_router_canary.interval: 0 is not a number of seconds (1 or more)",
    ),
    "a window of 0": (
        canary(window=0),
        ROUTE,
        "exchange_router_canary.window: 0 is not a number of seconds (1 or more)",
    ),
    "negative waits": (
        canary(no_data_wait_max=-1),
        ROUTE,
        "exchange_router_canary.no_data_wait_max: -1 is not a number of intervals (0 or more)",
    ),
    "a threshold of 0": (
        canary(threshold=0),
        ROUTE,
        "exchange_router_canary.threshold: 0 is not a number of failed checks (1 or more)",
    ),
    "no request needed": (
        canary(min_requests=0),
        ROUTE,
        "exchange_router_canary.min_requests: 0 is not 1 or more: a check judges at least one "
        "request (fewer are no data, which exchange_router_canary.no_data decides)",
    ),
    "an unknown no-data policy": (
        canary(no_data="skip"),
        ROUTE,
        'exchange_router_canary.no_data: "skip" is not one of fail, wait, pass',
    ),
}


@pytest.mark.parametrize(("given", "route", "message"), BAD.values(), ids=BAD.keys())
def test_each_problem_names_the_variable_and_its_value(
    given: dict[str, Any], route: dict[str, Any], message: str
) -> None:
    found = problems(given, route)
    assert len(found) == 1, found
    assert found[0].startswith(message)


def test_every_problem_is_listed_at_once_in_the_order_of_the_variables() -> None:
    found = problems(
        canary(steps=[{"weight": 50}, {"weight": 40}], prometheus_url="", min_requests=0),
        NO_ROUTE,
    )
    assert [line.split(":")[0] for line in found] == [
        "exchange_router_canary.enabled",
        "exchange_router_canary.steps[1].weight",
        "exchange_router_canary.prometheus_url",
        "exchange_router_canary.min_requests",
    ]


def v(**given: Any) -> dict[str, Any]:
    return {**role_defaults(), **{P + key: value for key, value in given.items()}}


def check_fails(**given: Any) -> str:
    with pytest.raises(ValueError, match=r"exchange_router_") as error:
        rules.check(variables.typed(v(**given)))
    assert str(error.value).startswith(INVALID)
    return str(error.value)


def test_the_canary_is_off_by_default_and_its_values_then_unchecked() -> None:
    assert DEFAULTS["enabled"] is False
    rules.check(v())
    rules.check(v(canary={**DEFAULTS, "min_requests": 0, "no_data": "skip"}))


def test_an_enabled_canary_with_good_values_passes() -> None:
    rules.check(v(canary=canary(), httproute=ROUTE))


def test_the_canary_rules_run_after_the_edge_rules() -> None:
    text = check_fails(canary=canary(min_requests=0), httproute={**ROUTE, "parent_refs": []})
    assert "exchange_router_httproute.parent_refs: empty" in text
    assert "min_requests" not in text
    text = check_fails(canary=canary(min_requests=0), httproute=ROUTE)
    assert "exchange_router_canary.min_requests: 0 is not 1 or more" in text


def test_the_success_rate_is_a_float_of_the_argument_spec() -> None:
    assert variables.role_options()[P + "canary"]["options"]["success_rate_min"]["type"] == "float"
    typed = variables.typed(v(canary={**DEFAULTS, "success_rate_min": "99"}))[P + "canary"]
    assert typed["success_rate_min"] == 99.0
    assert isinstance(typed["success_rate_min"], float)


def test_values_given_as_strings_are_typed_then_checked() -> None:
    """As `-e` and quoted YAML give them: the mapping's and each step's numbers and booleans."""
    given = {
        "enabled": "yes",
        "prometheus_url": URL,
        "steps": [{"weight": "30", "pause": "0"}, {"weight": "20"}],
        "success_rate_min": "99.5",
        "min_requests": "0",
        "threshold": "2",
    }
    typed = variables.typed(v(canary=given))[P + "canary"]
    assert typed["enabled"] is True
    assert typed["steps"] == [{"weight": 30, "pause": 0}, {"weight": 20}]
    assert typed["success_rate_min"] == 99.5
    assert (typed["min_requests"], typed["threshold"]) == (0, 2)
    text = check_fails(canary=given, httproute=ROUTE)
    assert text == INVALID + "\n".join(
        [
            f"{STEPS}[1].weight: 20 does not rise above the step before (30): the weights rise "
            "step by step toward 100",
            "exchange_router_canary.min_requests: 0 is not 1 or more: a check judges at least one "
            "request (fewer are no data, which exchange_router_canary.no_data decides)",
        ]
    )


@pytest.mark.parametrize(
    "given",
    [
        json.dumps({"enabled": "true", "prometheus_url": URL, "min_requests": "0"}),
        f"enabled=true prometheus_url={URL} min_requests=0",
    ],
    ids=["json", "key=value"],
)
def test_the_whole_mapping_given_as_one_string(given: str) -> None:
    """`-e 'exchange_router_canary={"enabled": true, ...}'` hands the role a string."""
    text = check_fails(canary=given, httproute=ROUTE)
    assert "exchange_router_canary.min_requests: 0 is not 1 or more" in text


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"success_rate_min": "high"},
            'exchange_router_canary.success_rate_min: "high" is not a number',
        ),
        (
            {"steps": [{"weight": "ten"}]},
            'exchange_router_canary.steps[0].weight: "ten" is not an integer',
        ),
        ({"enabled": "maybe"}, 'exchange_router_canary.enabled: "maybe" is not a boolean'),
        ("enabled", 'exchange_router_canary: "enabled" is not a mapping (YAML, JSON or key=value'),
        (["enabled"], 'exchange_router_canary: ["enabled"] is not a mapping'),
    ],
)
def test_strings_that_do_not_convert_name_the_variable_and_the_value(
    given: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=r"exchange_router_canary") as error:
        variables.typed(v(canary=given))
    assert str(error.value).startswith(INVALID)
    assert message in str(error.value)


def test_a_step_that_is_no_mapping_is_left_to_the_rules_by_the_typing() -> None:
    typed = variables.typed(v(canary={"steps": ["20", {"weight": "40"}]}))
    assert typed[P + "canary"]["steps"] == ["20", {"weight": 40}]


def test_the_release_is_refused_before_anything_is_rendered() -> None:
    """What the release action does (spec_of): typed, checked, and no object rendered."""
    with pytest.raises(ValueError, match=r"canary sends its share of requests by the weights"):
        spec(canary={"enabled": "true", "prometheus_url": URL})
    rendered = spec(canary='{"enabled": true, "prometheus_url": "' + URL + '"}', httproute=ROUTE)
    assert rendered.canary["enabled"] is True
