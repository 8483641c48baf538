# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A canary's plan: its steps (weight, pause) from exchange_router_canary, and the weights of the
release's HTTPRoute rule that send a step's share of requests to the canary.

The vocabulary is Argo Rollouts' (`setWeight`, `pause`) and Flagger's (`stepWeight`,
`maxWeight`, `interval`). Weights are percents of the release's requests: a step's weight is
1-99, the weights rise step by step, and 100 is never a step: the promote after the last step
sends every request to the stable Deployment, which then runs the new version. An abort sends
every request to the stable Deployment in one write (weight 0), never back through the steps.

Pure Python over the variables as `canary_rules` checked them (typed, filled with defaults)."""

from __future__ import annotations

from typing import Any, NamedTuple

# A step's weights, in percent: 100 is the promote, 0 the abort (or no canary).
STEP_WEIGHTS = range(1, 100)
# The backendRefs of the release's rule, in order: Traefik names each backend's metrics by its
# position in the rule (canary_analysis.Backend.index), so the two never swap places.
STABLE, CANARY = 0, 1


class Step(NamedTuple):
    """One step: `weight` percent of requests to the canary for `pause` seconds, then a check;
    a pause of 0 holds the step (checks go on every interval) until playbooks/promote.yml."""

    weight: int
    pause: int

    @property
    def gated(self) -> bool:
        return self.pause == 0


def schedule(canary: dict[str, Any]) -> list[Step]:
    """The steps of exchange_router_canary: its steps as given (a step without a pause takes the
    interval), else step_weight, 2 x step_weight, ... up to max_weight and never above it
    (max_weight last when it is no multiple), each for the interval."""
    interval = canary["interval"]
    if canary["steps"]:
        return [
            Step(step["weight"], interval if step.get("pause") is None else step["pause"])
            for step in canary["steps"]
        ]
    rise, top = canary["step_weight"], canary["max_weight"]
    weights = list(range(rise, top + 1, rise))
    if weights[-1] != top:
        weights.append(top)
    return [Step(weight, interval) for weight in weights]


def least_seconds(steps: list[Step]) -> int:
    """The shortest time the steps take: their pauses (a gate waits for a person, not counted)."""
    return sum(step.pause for step in steps)


def split(weight: int) -> tuple[int, int]:
    """(stable, canary) weights of the release's rule for the canary's `weight` in percent: the
    step's weight, 0 to abort or after the promote."""
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
        raise ValueError(f"a canary weight is a whole percent 0-100, not {weight!r}")
    return 100 - weight, weight


def backend_refs(stable: str, canary: str, port: int, weight: int) -> list[dict[str, Any]]:
    """The backendRefs of the release's rule (Gateway API HTTPBackendRef) for the canary's weight:
    the stable Service first, then the canary's, both always present (a weight of 0 sends it
    nothing), so each keeps its position and with it the name of its metrics."""
    stable_weight, canary_weight = split(weight)
    return [  # in the order of STABLE and CANARY
        {"name": stable, "port": port, "weight": stable_weight},
        {"name": canary, "port": port, "weight": canary_weight},
    ]
