# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A canary step's check: what the canary's clients saw in the window (a `Sample`: requests,
non-5xx responses, p99 latency), judged against the thresholds of exchange_router_canary into a
`Decision`: advance to the next step, hold at this weight (wait for data, or check again after a
failed check below the threshold), or abort.

No data is never a silent pass: fewer requests than min_requests (or no latency measured) is
decided by the no-data policy, and the reason says which and with what counts. Every reason holds
the measured values, as the step's record and the play's failure show them.

Pure Python: the samples come from canary_metrics (Traefik's metrics through Prometheus)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ADVANCE, HOLD, ABORT = "advance", "hold", "abort"


@dataclass(frozen=True)
class Sample:
    """One backend's requests in a check's window: how many, how many were not answered with a
    5xx, and their p99 latency in seconds (None: not measured; inf: above the largest bucket)."""

    requests: int
    successes: int
    p99_seconds: float | None

    @property
    def success_rate(self) -> float | None:
        """Percent of the requests not answered with a 5xx; None without requests."""
        return 100 * self.successes / self.requests if self.requests else None


@dataclass(frozen=True)
class Thresholds:
    success_rate_min: float  # percent
    latency_p99_max_ms: float
    min_requests: int


@dataclass(frozen=True)
class Policy:
    no_data: str  # fail | wait | pass
    no_data_wait_max: int  # checks a step waits for data (no_data wait)
    threshold: int = 1  # failed checks that abort


@dataclass(frozen=True)
class Decision:
    """What a check decided and why. `failed`: the check counts as failed (the caller adds it to
    the canary's failures); `waiting`: it waits for data (the caller adds it to the step's
    waits)."""

    action: str
    reason: str
    failed: bool = False
    waiting: bool = False


def criteria(canary: dict[str, Any]) -> tuple[Thresholds, Policy]:
    """The thresholds and policy of exchange_router_canary (checked by canary_rules)."""
    return (
        Thresholds(
            canary["success_rate_min"], canary["latency_p99_max_ms"], canary["min_requests"]
        ),
        Policy(canary["no_data"], canary["no_data_wait_max"], canary["threshold"]),
    )


def judge(
    sample: Sample, thresholds: Thresholds, policy: Policy, waited: int = 0, failures: int = 0
) -> Decision:
    """The decision of one check of the canary's `sample`, after `waited` waits for data in this
    step and `failures` failed checks in this canary."""
    requests, least = sample.requests, max(thresholds.min_requests, 1)
    if requests < least:
        shortage = f"no data ({requests} < {least} requests)"
        return _no_data(shortage, policy, waited, failures)
    if sample.p99_seconds is None:
        shortage = f"no latency data (p99 unknown over {requests} requests)"
        return _no_data(shortage, policy, waited, failures)
    rate, bound = 100 * sample.successes / requests, thresholds.success_rate_min
    p99_ms, most = sample.p99_seconds * 1000, thresholds.latency_p99_max_ms
    rate_ok, latency_ok = sample.successes * 100 >= bound * requests, p99_ms <= most
    # shown with the decimals that keep its comparison, and 100% only when nothing failed
    shown_rate = _shown(rate, lambda r: (r >= bound) == rate_ok and (r < 100 or rate == 100), 1)
    shown_p99 = (
        "above the largest histogram bucket (+Inf)"
        if math.isinf(p99_ms)
        else _shown(p99_ms, lambda ms: (ms <= most) == latency_ok, 0) + " ms"
    )
    over = f" over {requests} requests"
    if rate_ok and latency_ok:
        return Decision(
            ADVANCE,
            f"success rate {shown_rate}% >= {_number(bound)}% and p99 latency {shown_p99} <= "
            f"{_number(most)} ms{over}",
        )
    broken = []
    if not rate_ok:
        errors = requests - sample.successes
        broken.append(f"success rate {shown_rate}% < {_number(bound)}%{over} ({errors} 5xx)")
    if not latency_ok:
        broken.append(f"p99 latency {shown_p99} > {_number(most)} ms{over}")
    return _failed("; ".join(broken), policy, failures)


def _no_data(shortage: str, policy: Policy, waited: int, failures: int) -> Decision:
    if policy.no_data == "pass":
        return Decision(ADVANCE, f"{shortage}, passed by no_data: pass")
    if policy.no_data == "wait":
        if waited < policy.no_data_wait_max:
            return Decision(
                HOLD,
                f"{shortage}, waiting an interval more ({waited + 1} of "
                f"{policy.no_data_wait_max}, no_data: wait)",
                waiting=True,
            )
        reason = f"{shortage} after {waited} waits, failed by no_data: wait"
        return _failed(reason, policy, failures)
    return _failed(f"{shortage}, failed by no_data: fail", policy, failures)


def _failed(reason: str, policy: Policy, failures: int) -> Decision:
    count = failures + 1
    if policy.threshold == 1:
        return Decision(ABORT, reason, failed=True)
    tally = f"failed check {count} of {policy.threshold}"
    if count >= policy.threshold:
        return Decision(ABORT, f"{reason} ({tally})", failed=True)
    return Decision(HOLD, f"{reason} ({tally}, checking again)", failed=True)


def _number(value: float) -> str:
    """A threshold as given: 99, 99.5, 500."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _shown(value: float, keeps: Callable[[float], bool], digits: int) -> str:
    """`value` with the fewest decimals from `digits` that keep its comparison with the threshold
    (`keeps`): 98.996% shows as 98.996, never as 99, beside a minimum of 99."""
    for places in range(digits, 7):
        if keeps(round(value, places)):
            return _number(round(value, places))
    return repr(value)  # closer to the threshold than a millionth: every digit
