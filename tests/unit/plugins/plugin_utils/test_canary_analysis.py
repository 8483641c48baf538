"""plugins/plugin_utils/canary_analysis.py: every decision of a check, each with a reason that
holds the measured values; no data is never a silent pass; the threshold of failed checks."""

from __future__ import annotations

import math

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.canary_analysis import (
    ABORT,
    ADVANCE,
    HOLD,
    Decision,
    Policy,
    Sample,
    Thresholds,
    criteria,
    judge,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import (
    P,
    role_defaults,
)

FLAGGER = Thresholds(success_rate_min=99, latency_p99_max_ms=500, min_requests=20)
FAIL = Policy(no_data="fail", no_data_wait_max=2)
GOOD = Sample(requests=412, successes=412, p99_seconds=0.12)


def test_the_defaults_are_flaggers_checks_and_fail_on_no_data() -> None:
    thresholds, policy = criteria(role_defaults()[P + "canary"])
    assert thresholds == FLAGGER
    assert policy == Policy(no_data="fail", no_data_wait_max=2, threshold=1)


def test_a_good_sample_advances_with_its_values() -> None:
    assert judge(GOOD, FLAGGER, FAIL) == Decision(
        ADVANCE,
        "success rate 100% >= 99% and p99 latency 120 ms <= 500 ms over 412 requests",
    )


def test_the_thresholds_themselves_pass() -> None:
    edge = Sample(requests=100, successes=99, p99_seconds=0.5)
    decision = judge(edge, FLAGGER, FAIL)
    assert decision.action == ADVANCE
    assert decision.reason == (
        "success rate 99% >= 99% and p99 latency 500 ms <= 500 ms over 100 requests"
    )


def test_errors_abort_with_the_rate_the_count_and_the_5xx() -> None:
    bad = Sample(requests=412, successes=391, p99_seconds=0.12)
    assert judge(bad, FLAGGER, FAIL) == Decision(
        ABORT, "success rate 94.9% < 99% over 412 requests (21 5xx)", failed=True
    )


def test_latency_aborts_with_the_p99() -> None:
    slow = Sample(requests=412, successes=412, p99_seconds=0.7342)
    assert judge(slow, FLAGGER, FAIL).reason == "p99 latency 734 ms > 500 ms over 412 requests"


def test_both_broken_are_both_named() -> None:
    both = Sample(requests=50, successes=40, p99_seconds=2.0)
    assert judge(both, FLAGGER, FAIL).reason == (
        "success rate 80% < 99% over 50 requests (10 5xx); "
        "p99 latency 2000 ms > 500 ms over 50 requests"
    )


def test_a_value_is_never_rounded_onto_its_threshold() -> None:
    # 98.996% is below 99%, 500.4 ms above 500 ms: shown with the decimals that say so
    near = Sample(requests=25000, successes=24749, p99_seconds=0.5004)
    assert judge(near, FLAGGER, FAIL).reason == (
        "success rate 98.996% < 99% over 25000 requests (251 5xx); "
        "p99 latency 500.4 ms > 500 ms over 25000 requests"
    )
    # a pass may round onto its threshold (it still reads as one); a rate is 100% only when
    # nothing failed
    fine = Thresholds(success_rate_min=99.95, latency_p99_max_ms=500, min_requests=1)
    just = Sample(requests=20000, successes=19991, p99_seconds=0.49996)
    assert judge(just, fine, FAIL).reason == (
        "success rate 99.95% >= 99.95% and p99 latency 500 ms <= 500 ms over 20000 requests"
    )
    one_error = Sample(requests=20000, successes=19999, p99_seconds=0.1)
    assert judge(one_error, FLAGGER, FAIL).reason.startswith("success rate 99.995% >= 99%")
    hair = Sample(requests=10**9, successes=989_999_999, p99_seconds=0.1)
    assert judge(hair, FLAGGER, FAIL).reason.startswith("success rate 98.9999999% < 99% over")


def test_a_p99_above_the_largest_bucket() -> None:
    lost = Sample(requests=30, successes=30, p99_seconds=math.inf)
    assert judge(lost, FLAGGER, FAIL).reason == (
        "p99 latency above the largest histogram bucket (+Inf) > 500 ms over 30 requests"
    )


def test_no_data_fails_by_default_naming_the_counts() -> None:
    few = Sample(requests=3, successes=3, p99_seconds=0.1)
    assert judge(few, FLAGGER, FAIL) == Decision(
        ABORT, "no data (3 < 20 requests), failed by no_data: fail", failed=True
    )


def test_no_data_passes_only_by_policy_and_says_so() -> None:
    few = Sample(requests=3, successes=0, p99_seconds=9.0)  # the 3 requests are not judged
    decision = judge(few, FLAGGER, Policy(no_data="pass", no_data_wait_max=2))
    assert decision == Decision(ADVANCE, "no data (3 < 20 requests), passed by no_data: pass")


def test_no_data_waits_then_fails() -> None:
    wait = Policy(no_data="wait", no_data_wait_max=2)
    none = Sample(requests=0, successes=0, p99_seconds=None)
    assert judge(none, FLAGGER, wait, waited=0) == Decision(
        HOLD,
        "no data (0 < 20 requests), waiting an interval more (1 of 2, no_data: wait)",
        waiting=True,
    )
    assert judge(none, FLAGGER, wait, waited=1).reason.endswith("(2 of 2, no_data: wait)")
    assert judge(none, FLAGGER, wait, waited=2) == Decision(
        ABORT, "no data (0 < 20 requests) after 2 waits, failed by no_data: wait", failed=True
    )
    never = Policy(no_data="wait", no_data_wait_max=0)
    assert judge(none, FLAGGER, never).action == ABORT


def test_requests_without_a_latency_are_no_data_too() -> None:
    blind = Sample(requests=412, successes=412, p99_seconds=None)
    assert judge(blind, FLAGGER, FAIL).reason == (
        "no latency data (p99 unknown over 412 requests), failed by no_data: fail"
    )


def test_zero_requests_are_no_data_whatever_the_minimum() -> None:
    """min_requests below 1 is refused by the rules; judged anyway, 0 requests pass nothing."""
    none = Sample(requests=0, successes=0, p99_seconds=None)
    lax = Thresholds(success_rate_min=99, latency_p99_max_ms=500, min_requests=0)
    assert judge(none, lax, FAIL).reason == "no data (0 < 1 requests), failed by no_data: fail"


def test_failed_checks_below_the_threshold_hold_then_abort() -> None:
    three = Policy(no_data="fail", no_data_wait_max=2, threshold=3)
    bad = Sample(requests=100, successes=90, p99_seconds=0.1)
    first = judge(bad, FLAGGER, three, failures=0)
    assert first == Decision(
        HOLD,
        "success rate 90% < 99% over 100 requests (10 5xx) (failed check 1 of 3, checking again)",
        failed=True,
    )
    assert judge(bad, FLAGGER, three, failures=1).action == HOLD
    last = judge(bad, FLAGGER, three, failures=2)
    assert last.action == ABORT
    assert last.reason.endswith("(10 5xx) (failed check 3 of 3)")
    assert judge(GOOD, FLAGGER, three, failures=2).action == ADVANCE


def test_the_success_rate_of_a_sample() -> None:
    assert Sample(requests=8, successes=6, p99_seconds=None).success_rate == 75
    assert Sample(requests=0, successes=0, p99_seconds=None).success_rate is None


@pytest.mark.parametrize("policy", ["fail", "wait", "pass"])
def test_enough_data_is_judged_the_same_under_every_policy(policy: str) -> None:
    assert judge(GOOD, FLAGGER, Policy(no_data=policy, no_data_wait_max=2)).action == ADVANCE
