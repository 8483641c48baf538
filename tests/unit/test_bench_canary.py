"""bench/canary.py, the benchmark's canary row: its fake Prometheus answers as the engine reads
(the engine's own parser, canary_metrics, and its batch's query, canary_query.Checks: one query
per step for a fleet), its fake Gateway controller writes the status the engine waits on
(edge_readiness.route_state), and the timeline of route weights gives the row's figures."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.canary_analysis import (
    ABORT,
    ADVANCE,
    Policy,
    Sample,
    Thresholds,
    judge,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_metrics import (
    Backend,
    MetricsError,
    fetch,
    fleet_query,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_plan import (
    CANARY,
    STABLE,
    backend_refs,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_query import (
    Checks,
    http_get,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.edge_readiness import route_state

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import canary  # noqa: E402  (bench/ is a directory of scripts, not a package)
import report  # noqa: E402

NAMES = [f"xr-bench-abc123-c-{k:02d}" for k in range(1, canary.RELEASES + 1)]
THRESHOLDS = Thresholds(canary.SUCCESS_RATE_MIN, 500, 10)
POLICY = Policy("fail", 0, 1)


def backends(index: int = CANARY) -> dict[str, Backend]:
    """What the engine asks for: each release's canary backend (canary.py's _check)."""
    return {ns: Backend(ns, canary.ROUTE, canary.SERVICES[index], 80, index) for ns in NAMES}


def direct(fake: canary.FakePrometheus) -> Any:
    """An HTTP GET that hands the URL's query to the fake without a socket."""

    def get(url: str) -> dict[str, Any]:
        return fake.answer(parse_qs(urlsplit(url).query)["query"][0])

    return get


def test_the_engines_parser_reads_the_fakes_answers_healthy_then_failing() -> None:
    fake = canary.FakePrometheus(NAMES)
    healthy = fetch(direct(fake), "http://127.0.0.1:9", backends(), 10)
    assert healthy == {ns: Sample(200, 200, canary.P99_SECONDS) for ns in NAMES}
    assert {judge(s, THRESHOLDS, POLICY).action for s in healthy.values()} == {ADVANCE}
    crossed = fake.switch(True)
    failing = fetch(direct(fake), "http://127.0.0.1:9", backends(), 10)
    assert failing == {ns: Sample(200, 180, canary.P99_SECONDS) for ns in NAMES}
    decisions = [judge(s, THRESHOLDS, POLICY) for s in failing.values()]
    assert {d.action for d in decisions} == {ABORT}
    assert "success rate 90% < 99%" in decisions[0].reason
    assert [q["failing"] for q in fake.queries] == [False, True]
    assert [q["backends"] for q in fake.queries] == [canary.RELEASES] * 2
    assert fake.queries[1]["at"] >= crossed == fake.switched_at


def test_the_stable_backends_stay_healthy_and_unnamed_backends_have_no_data() -> None:
    fake = canary.FakePrometheus(NAMES[:3])
    fake.switch(True)
    stable = fetch(direct(fake), "http://127.0.0.1:9", backends(STABLE), 10)
    assert [stable[ns] for ns in NAMES[:3]] == [Sample(200, 200, canary.P99_SECONDS)] * 3
    assert [stable[ns] for ns in NAMES[3:]] == [Sample(0, 0, None)] * (canary.RELEASES - 3)
    assert fake.queries[-1]["backends"] == 3


def test_a_query_that_is_not_the_fleets_is_an_error_the_engine_reports() -> None:
    fake = canary.FakePrometheus(NAMES)
    with pytest.raises(MetricsError, match="bad_data: not the fleet's query"):
        fetch(lambda url: fake.answer("up"), "http://127.0.0.1:9", backends(), 10)
    assert fake.queries == []


def test_over_http_with_the_engines_own_get() -> None:
    fake = canary.FakePrometheus(NAMES)
    url = fake.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        samples = fetch(http_get, url, backends(), 10)
        assert samples[NAMES[0]] == Sample(200, 200, canary.P99_SECONDS)
        # errors in Prometheus's JSON, as the engine reads them from an HTTP error
        assert http_get(url + "/api/v1/query_range?query=up")["errorType"] == "not_found"
        assert http_get(url + "/api/v1/query?query=up")["errorType"] == "bad_data"
    finally:
        fake.stop()
    assert len(fake.queries) == 1


def test_one_query_per_step_for_the_whole_fleet_through_the_engines_batch() -> None:
    fake = canary.FakePrometheus(NAMES)
    checks = Checks(direct(fake), len(NAMES))
    results: dict[str, list[Sample]] = {}

    def release(ns: str) -> None:
        member = checks.member()
        mine = {"canary": Backend(ns, canary.ROUTE, canary.SERVICES[1], 80, CANARY)}
        results[ns] = [member.measure("http://127.0.0.1:9", mine, 10)["canary"] for _s in "ab"]
        member.leave()

    threads = [threading.Thread(target=release, args=(ns,)) for ns in NAMES]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert checks.queries == len(fake.queries) == 2  # two steps, one query each
    assert results == {ns: [Sample(200, 200, canary.P99_SECONDS)] * 2 for ns in NAMES}


def test_the_fakes_selector_is_the_one_the_engine_writes() -> None:
    query = fleet_query(backends().values(), 10)
    fake = canary.FakePrometheus(NAMES)
    answer = fake.answer(query)
    labels = {s["metric"]["service"] for s in answer["data"]["result"]}
    assert labels == {canary.service_label(ns, canary.SERVICES[1], CANARY) for ns in NAMES}


def route(weight: int | None, status: dict[str, Any] | None = None) -> dict[str, Any]:
    refs = (
        backend_refs(*canary.SERVICES, 80, weight)
        if weight is not None
        else [{"name": canary.SERVICES[0], "port": 80}]
    )
    obj: dict[str, Any] = {
        "kind": "HTTPRoute",
        "metadata": {"name": canary.ROUTE, "namespace": NAMES[0], "generation": 3},
        "spec": {
            "parentRefs": [{"name": canary.GATEWAY, "namespace": NAMES[0]}],
            "rules": [{"backendRefs": refs}],
        },
    }
    if status:
        obj["status"] = status
    return obj


@pytest.mark.parametrize(("weight", "expected"), [(0, 0), (20, 20), (50, 50), (None, None)])
def test_canary_weight(weight: int | None, expected: int | None) -> None:
    assert canary.canary_weight(route(weight)) == expected


def test_the_fake_controllers_status_is_what_the_engine_waits_for() -> None:
    class Kube:
        def __init__(self, obj: dict[str, Any]) -> None:
            self.obj = obj

        def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
            return self.obj

    ref = Ref("HTTPRoute", NAMES[0], canary.ROUTE)
    bare = route(0)
    assert route_state(Kube(bare), ref)[0] == "waiting"  # type: ignore[arg-type]
    patch = canary.accepted_status(bare)
    assert patch is not None
    accepted = route(0, patch["status"])
    assert route_state(Kube(accepted), ref) == ("ready", f"{ref} is accepted")  # type: ignore[arg-type]
    assert canary.accepted_status(accepted) is None  # written once
    assert canary.accepted_status(dict(bare, spec={"rules": []})) is None  # no parent


def test_all_stable_at_and_steps_taken() -> None:
    a, b = NAMES[:2]
    timeline = [
        (1.0, a, 0),
        (1.1, b, 0),
        (2.0, a, 20),
        (2.1, b, 20),
        (3.0, a, 50),
        (3.1, b, 50),
        (3.2, "elsewhere", 7),
        (4.0, a, 0),
        (4.5, b, 0),
        (5.0, b, 0),
    ]
    assert canary.all_stable_at(timeline, [a, b], 0.0) == 1.1
    assert canary.all_stable_at(timeline, [a, b], 3.05) == 4.5
    assert canary.all_stable_at(timeline, [a, b], 6.0) is None
    assert canary.all_stable_at(timeline[7:], [a, b], 3.5, {a: 50, b: 50}) == 4.5
    assert canary.all_stable_at(timeline[7:8], [a, b], 3.5, {a: 50, b: 50}) is None
    assert canary.steps_taken(timeline, 1.5) == 2
    assert canary.steps_taken(timeline, 3.5) == 0


def test_the_fleets_inventory_and_gateways() -> None:
    inv = canary.values(NAMES, "http://127.0.0.1:9")["all"]
    assert sorted(inv["hosts"]) == NAMES
    assert inv["vars"]["exchange_router_canary"]["steps"] == canary.STEPS
    assert inv["vars"]["exchange_router_canary"]["prometheus_url"] == "http://127.0.0.1:9"
    host = inv["hosts"][NAMES[0]]["exchange_router_httproute"]
    assert host["parent_refs"] == [{"name": canary.GATEWAY, "namespace": NAMES[0]}]
    objs = canary.gateways(NAMES)
    assert [o["kind"] for o in objs] == ["GatewayClass"] + ["Gateway"] * canary.RELEASES


RESULT = {
    "releases": 10,
    "forks": 10,
    "steps": canary.STEPS,
    "healthy": canary.HEALTHY,
    "failing": canary.FAILING,
    "first_deploy_seconds": 13.0,
    "seconds": 70.0,
    "loadavg_1m_at_start": 2.5,
    "abort": {
        "ok": True,
        "aborted_releases": 10,
        "queries": 2,
        "steps": 2,
        "queries_per_step": 1.0,
        "crossing_to_stable_seconds": 6.5,
        "failing_check_to_stable_seconds": 0.5,
        "deploy_seconds": 20.0,
    },
    "promote": {
        "ok": True,
        "promoted_releases": 10,
        "queries": 2,
        "steps": 2,
        "queries_per_step": 1.0,
        "last_check_to_stable_seconds": 2.25,
        "deploy_seconds": 25.0,
    },
}


def test_the_report_has_the_canary_row() -> None:
    md = "\n".join(report.canary_md(RESULT))
    assert "### Canary: a fleet of 10 releases canaried side by side" in md
    assert "| abort: at a recorded instant, every route at 50%" in md
    assert "6.50 s (from the failing check's query: 0.50 s) | 2 / 2 = 1.00 |" in md
    assert "| 2.25 s | 2 / 2 = 1.00 | 25.0 s, 10 of 10 promoted |" in md
    assert "FAILED" not in md
    failed = dict(RESULT, promote=dict(RESULT["promote"], ok=False, queries_per_step=None))
    assert "10 of 10 promoted **FAILED** |" in "\n".join(report.canary_md(failed))
    assert "= n/a |" in "\n".join(report.canary_md(failed))
    assert report.canary_md(None) == report.canary_md({"releases": 10}) == []
