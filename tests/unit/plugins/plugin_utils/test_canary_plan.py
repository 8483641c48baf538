"""plugins/plugin_utils/canary_plan.py: the steps of exchange_router_canary (given, or generated
from step_weight and max_weight as Flagger's users expect, never above max_weight), and the route
weights of a step, an abort and a promote."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import canary_plan
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_plan import (
    CANARY,
    STABLE,
    Step,
    backend_refs,
    least_seconds,
    schedule,
    split,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import (
    P,
    role_defaults,
)

DEFAULTS: dict[str, Any] = role_defaults()[P + "canary"]


def canary(**changes: Any) -> dict[str, Any]:
    return {**DEFAULTS, **changes}


def test_the_defaults_step_20_40_60_for_30_seconds_each() -> None:
    steps = schedule(canary())
    assert steps == [Step(20, 30), Step(40, 30), Step(60, 30)]
    assert least_seconds(steps) == 90
    assert not any(step.gated for step in steps)


@pytest.mark.parametrize(
    ("rise", "top", "weights"),
    [
        (10, 50, [10, 20, 30, 40, 50]),
        (20, 50, [20, 40, 50]),  # Flagger would go on to 60: never above max_weight here
        (30, 30, [30]),
        (1, 3, [1, 2, 3]),
        (33, 99, [33, 66, 99]),
    ],
)
def test_generated_weights_rise_by_the_step_up_to_the_max(
    rise: int, top: int, weights: list[int]
) -> None:
    steps = schedule(canary(step_weight=rise, max_weight=top, interval=45))
    assert [step.weight for step in steps] == weights
    assert {step.pause for step in steps} == {45}


def test_given_steps_win_and_a_step_without_a_pause_takes_the_interval() -> None:
    given = [{"weight": 5, "pause": 120}, {"weight": 25}, {"weight": 50, "pause": None}]
    steps = schedule(canary(steps=given, interval=40, step_weight=1, max_weight=99))
    assert steps == [Step(5, 120), Step(25, 40), Step(50, 40)]


def test_a_pause_of_0_is_a_manual_gate_and_takes_no_time() -> None:
    steps = schedule(canary(steps=[{"weight": 10, "pause": 60}, {"weight": 50, "pause": 0}]))
    assert [step.gated for step in steps] == [False, True]
    assert least_seconds(steps) == 60


@pytest.mark.parametrize(("weight", "weights"), [(0, (100, 0)), (10, (90, 10)), (100, (0, 100))])
def test_the_split_of_a_weight_between_stable_and_canary(
    weight: int, weights: tuple[int, int]
) -> None:
    assert split(weight) == weights


@pytest.mark.parametrize("bad", [-1, 101, 10.5, "10", True, None])
def test_a_weight_out_of_0_to_100_or_not_whole_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"a canary weight is a whole percent 0-100, not"):
        split(bad)


def test_backend_refs_keep_stable_first_and_the_canary_second_at_every_weight() -> None:
    assert (STABLE, CANARY) == (0, 1)
    step = backend_refs("xr-service", "xr-canary", 80, 20)
    assert step == [
        {"name": "xr-service", "port": 80, "weight": 80},
        {"name": "xr-canary", "port": 80, "weight": 20},
    ]
    aborted = backend_refs("xr-service", "xr-canary", 80, 0)  # one write, every request stable
    assert [ref["weight"] for ref in aborted] == [100, 0]
    assert [ref["name"] for ref in aborted] == ["xr-service", "xr-canary"]


def test_step_weights_are_1_to_99() -> None:
    weights = canary_plan.STEP_WEIGHTS
    assert (1 in weights, 99 in weights, 0 in weights, 100 in weights) == (True, True, False, False)
