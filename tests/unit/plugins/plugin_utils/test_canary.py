"""The canary's lifecycle (plugins/plugin_utils/canary.py) over the in-memory cluster, a fake
clock and a fake Prometheus HTTP API: promote, abort (one write), no-data policies, the failed
check threshold, no weight move while the HPA scales, the gate, abort.yml and promote.yml, a
killed canary recovered, the route's own fields kept, and one metrics query per step for a
fleet."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    canary_route,
    engine,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_route import GATE, Names
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Result
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Waiter
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import (
    FakeCluster,
    MemoryStore,
    spec,
)
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.test_actions import (
    data,
)
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.test_httproute_lifecycle import (  # noqa: E501
    accepting_gateway,
)

NAME = "exchange-router"
ROUTE = {"enabled": True, "parent_refs": [{"name": "gw", "namespace": "edge"}]}
URL = "http://prometheus.monitoring.svc:9090"
CANARY_MANAGER = "apply:exchange.platform-canary"
Measured = tuple[int, int, float | None]  # requests, 5xx, p99 seconds (None: no latency)


def names(ns: str = "ns") -> Names:
    return Names(
        ns,
        f"{NAME}-route",
        f"{NAME}-service",
        f"{NAME}-canary",
        f"{NAME}-deployment",
        f"{NAME}-canary",
        f"{NAME}-hpa",
    )


def label(ns: str) -> str:
    """Traefik's `service` label of the canary's backend (before v3.7.6: by Service and port)."""
    return f"{ns}-{NAME}-canary-http-80@kubernetesgateway"


class Prometheus:
    """The Prometheus HTTP API: each query answered with what `measure(ns, query number)` says
    the namespace's canary served (None: no series at all)."""

    def __init__(self, measure: Callable[[str, int], Measured | None]) -> None:
        self.measure = measure
        self.urls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, url: str) -> dict[str, Any]:
        with self.lock:
            self.urls.append(url)
            number = len(self.urls)
        result = []
        for ns in ("ns", "a", "b", "c"):
            measured = self.measure(ns, number)
            if measured is None:
                continue
            requests, errors, p99 = measured
            service = label(ns)
            for cls, count in (("2xx", requests - errors), ("5xx", errors)):
                metric = {"service": service, "class": cls, "measure": "requests"}
                result.append({"metric": metric, "value": [0, str(count)]})
            if p99 is not None:
                metric = {"service": service, "measure": "p99"}
                result.append({"metric": metric, "value": [0, str(p99)]})
        return {"status": "success", "data": {"resultType": "vector", "result": result}}


def good(ns: str, number: int) -> Measured:
    return (1000, 0, 0.08)


class Clock:
    """A fake clock: sleeping advances it; `hooks` run at each sleep (a person, the HPA)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.hooks: list[Callable[[float], None]] = []
        self.lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds
            self.slept.append(seconds)
        for hook in list(self.hooks):
            hook(self.now)


class CanaryWorld:
    def __init__(self, namespaces: tuple[str, ...] = ("ns",)) -> None:
        self.kube = FakeCluster(namespaces)
        self.kube.controllers.append(accepting_gateway)
        # no watch: a rollout's wait sleeps on the fake clock, so one that never ends fails at
        # its deadline instead of waiting for a watch event on the real clock
        self.kube.watchable = False
        for ns in namespaces:
            self.kube.put(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "exchange-router-secret", "namespace": ns},
                    "data": data("given"),
                }
            )
        self.stores: dict[str, MemoryStore] = {}
        self.clock = Clock()
        self.waiter = Waiter(clock=lambda: self.clock.now, sleep=self.clock.sleep)
        self.prometheus = Prometheus(good)

    def spec(self, host: str = "localhost", canary: dict[str, Any] | None = None, **given: Any):
        settings = {"enabled": True, "prometheus_url": URL, **(canary or {})}
        return spec(host, httproute=ROUTE, canary=settings, **given)

    def run_all(
        self, specs: list[Spec], apply: Callable[[list[dict[str, Any]]], str] | None = None
    ) -> dict[str, Result]:
        """The specs as one play batch; `apply` stands for kubernetes.core.k8s (the fake's)."""

        def store(client: Any, s: Spec) -> MemoryStore:
            return self.stores.setdefault(s.namespace, MemoryStore())

        return engine.run_on_cluster(
            specs,
            self.kube,
            apply or self.kube.k8s_module,
            False,
            "me",
            self.waiter,
            store,
            self.prometheus,
        )

    def run(self, **given: Any) -> Result:
        s = self.spec(**given)
        return self.run_all([s])[s.host]

    def installed(self, **given: Any) -> None:
        first = self.run(**given)
        assert not first.failed and first.revision == 1, first.msg
        self.prometheus.urls.clear()
        self.kube.calls.clear()

    def route(self, ns: str = "ns") -> dict[str, Any]:
        return self.kube.objects[Ref("HTTPRoute", ns, f"{NAME}-route")]

    def weights(self, ns: str = "ns") -> list[int]:
        return [r["weight"] for r in self.route(ns)["spec"]["rules"][0]["backendRefs"]]

    def deployment(self, name: str, ns: str = "ns") -> dict[str, Any]:
        return self.kube.objects[Ref("Deployment", ns, name)]

    def image(self, name: str = f"{NAME}-deployment", ns: str = "ns") -> str:
        return self.deployment(name, ns)["spec"]["template"]["spec"]["containers"][0]["image"]

    def history(self, ns: str = "ns") -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.stores[ns].records or []]

    def route_writes(self) -> list[str]:
        return [v for v, k, _n in self.kube.calls if k == "HTTPRoute" and v.startswith("apply:")]


@pytest.fixture
def world() -> CanaryWorld:
    return CanaryWorld()


def weights_written(world: CanaryWorld) -> list[list[int]]:
    """The weights after each write of the route, in order (a recording controller)."""
    seen: list[list[int]] = []

    def record(obj: dict[str, Any]) -> None:
        if obj["kind"] == "HTTPRoute":
            refs = obj["spec"]["rules"][0]["backendRefs"]
            seen.append([r.get("weight", 1) for r in refs])

    world.kube.controllers.append(record)
    return seen


# ---------------------------------------------------------------- promote


def test_a_good_canary_walks_its_steps_and_is_promoted_into_one_revision(
    world: CanaryWorld,
) -> None:
    world.installed()
    assert world.weights() == [100, 0]
    assert world.deployment(f"{NAME}-canary")["spec"]["replicas"] == 0
    seen = weights_written(world)
    rel = world.run(image="router:v2")
    assert not rel.failed, rel.msg
    assert rel.changed and rel.revision == 2
    assert world.image() == "router:v2" and world.image(f"{NAME}-canary") == "router:v2"
    # 20, 40, 60 under the canary's manager, then the release's own apply sends all to stable
    assert seen == [[80, 20], [60, 40], [40, 60], [100, 0]]
    assert world.route_writes() == [CANARY_MANAGER] * 3 + ["apply:exchange.platform"]
    assert world.deployment(f"{NAME}-canary")["spec"]["replicas"] == 0
    assert len(world.prometheus.urls) == 3  # one query per step
    assert world.clock.slept[:3] == [30, 30, 30]
    (first, second) = world.history()
    assert first["status"] == "superseded" and second["status"] == "deployed"
    assert second["description"] == "canary promoted after 3 steps"
    assert [(c["step"], c["weight"], c["requests"], c["decision"]) for c in second["canary"]] == [
        (1, 20, 1000, "advance"),
        (2, 40, 1000, "advance"),
        (3, 60, 1000, "advance"),
    ]
    assert second["canary"][0]["success_rate"] == 100 and second["canary"][0]["p99_ms"] == 80
    # the record is the revision as it stands: everything on stable, the canary at 0
    objects = {(o["kind"], o["metadata"]["name"]): o for o in second["objects"]}
    assert objects["Deployment", f"{NAME}-canary"]["spec"]["replicas"] == 0
    route = objects["HTTPRoute", f"{NAME}-route"]
    assert [r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]] == [100, 0]


def test_after_a_promote_an_unchanged_redeploy_writes_nothing(world: CanaryWorld) -> None:
    world.installed()
    assert not world.run(image="router:v2").failed
    world.kube.calls.clear()
    world.prometheus.urls.clear()
    again = world.run(image="router:v2")
    assert not again.changed and not again.failed, again.msg
    writes = [c for c in world.kube.calls if c[0].startswith("apply:") and c[1] != "Lease"]
    assert writes == []
    assert world.prometheus.urls == []


def test_a_first_deploy_and_a_deploy_that_keeps_the_pod_template_are_no_canary(
    world: CanaryWorld,
) -> None:
    world.installed()  # the first: nothing to compare with, no query
    assert world.history()[0]["canary"] == []
    rel = world.run(service_port=8080)
    assert not rel.failed and rel.revision == 2, rel.msg
    assert world.prometheus.urls == [] and world.history()[1]["canary"] == []


def test_a_canary_without_steps_of_its_own_uses_the_given_steps_and_pauses(
    world: CanaryWorld,
) -> None:
    world.installed()
    steps = [{"weight": 10, "pause": 5}, {"weight": 50}]
    rel = world.run(image="router:v2", canary={"steps": steps, "interval": 7})
    assert not rel.failed, rel.msg
    assert world.clock.slept[:2] == [5, 7]
    assert [c["weight"] for c in world.history()[1]["canary"]] == [10, 50]


# ---------------------------------------------------------------- abort


def test_a_bad_canary_is_aborted_in_one_write_recorded_failed_and_rolled_back(
    world: CanaryWorld,
) -> None:
    world.installed()
    world.prometheus.measure = lambda ns, n: (1000, 50, 0.08)  # 5% of requests fail
    seen = weights_written(world)
    rel = world.run(image="router:v2")
    assert rel.failed and rel.changed
    assert "Canary of release exchange-router aborted at weight 20%" in rel.msg
    assert "success rate 95% < 99% over 1000 requests (50 5xx)" in rel.msg
    assert "step 1 weight 20%: 1000 requests, success 95%, p99 80 ms: abort" in rel.msg
    assert "every request is back on stable (one write)" in rel.msg
    assert "Rolled back to revision 1" in rel.msg
    # the step's weight, then ONE write back to stable; the rollback moves no weight
    assert seen[:2] == [[80, 20], [100, 0]]
    assert all(w == [100, 0] for w in seen[1:])
    assert world.route_writes()[:2] == [CANARY_MANAGER, CANARY_MANAGER]
    assert world.image() == "router:v1"
    assert world.deployment(f"{NAME}-canary")["spec"]["replicas"] == 0
    failed = world.history()[1]
    assert failed["status"] == "failed"
    assert failed["description"].startswith("canary aborted: success rate 95% < 99%")
    assert failed["canary"][0]["success_rate"] == 95
    assert world.history()[2]["description"] == "rollback to revision 1"


def test_an_abort_without_rollback_leaves_stable_serving_and_records_the_failure(
    world: CanaryWorld,
) -> None:
    world.installed()
    world.prometheus.measure = lambda ns, n: (1000, 0, 2.0)  # p99 2 s
    rel = world.run(image="router:v2", rollback_on_failure=False)
    assert rel.failed and "p99 latency 2000 ms > 500 ms" in rel.msg
    assert "Not rolled back" in rel.msg
    assert world.weights() == [100, 0] and world.image() == "router:v1"
    assert [r["status"] for r in world.history()] == ["deployed", "failed"]


def test_a_canary_that_does_not_start_is_aborted_before_any_weight_moves(
    world: CanaryWorld,
) -> None:
    world.installed()
    seen = weights_written(world)
    rel = world.run(image="router:crash")
    assert rel.failed and "the canary's rollout failed" in rel.msg
    assert "(no check was made)" in rel.msg
    assert seen == [] or all(w == [100, 0] for w in seen)
    assert world.prometheus.urls == []


def test_a_canary_the_cluster_refuses_is_aborted(world: CanaryWorld) -> None:
    world.installed()

    def refuse(objects: list[dict[str, Any]]) -> str:
        return "kubernetes.core.k8s could not apply the release: quota"

    rel = world.run_all([world.spec(image="router:v2")], refuse)["localhost"]
    assert rel.failed and "the canary could not be applied: kubernetes.core.k8s" in rel.msg


def test_a_stable_rollout_that_fails_at_the_promote_returns_traffic_and_rolls_back(
    world: CanaryWorld,
) -> None:
    world.installed()
    world.kube.behaviour = lambda d: (
        "stuck" if d["metadata"]["name"].endswith("-deployment") and "v2" in str(d) else "ready"
    )
    rel = world.run(image="router:v2")
    assert rel.failed and "Rolled back to revision 1" in rel.msg, rel.msg
    assert world.weights() == [100, 0]
    assert world.deployment(f"{NAME}-canary")["spec"]["replicas"] == 0
    assert world.history()[1]["canary"]  # the failed revision keeps its checks


# ---------------------------------------------------------------- no data, threshold, metrics


@pytest.mark.parametrize(
    ("policy", "failed", "reason"),
    [
        ("fail", True, "no data (3 < 20 requests), failed by no_data: fail"),
        ("pass", False, "no data (3 < 20 requests), passed by no_data: pass"),
        ("wait", True, "no data (3 < 20 requests) after 2 waits, failed by no_data: wait"),
    ],
)
def test_no_data_is_decided_by_the_policy_never_passed_silently(
    world: CanaryWorld, policy: str, failed: bool, reason: str
) -> None:
    world.installed()
    world.prometheus.measure = lambda ns, n: (3, 0, 0.05)
    rel = world.run(image="router:v2", canary={"no_data": policy})
    assert rel.failed is failed, rel.msg
    checks = world.history()[1]["canary"]
    assert reason in checks[-1]["reason"]
    if policy == "wait":
        assert [c["decision"] for c in checks] == ["hold", "hold", "abort"]


def test_no_data_with_wait_advances_once_traffic_arrives(world: CanaryWorld) -> None:
    world.installed()
    world.prometheus.measure = lambda ns, n: None if n == 1 else (500, 0, 0.05)
    rel = world.run(image="router:v2", canary={"no_data": "wait"})
    assert not rel.failed, rel.msg
    checks = world.history()[1]["canary"]
    assert [(c["step"], c["decision"]) for c in checks] == [
        (1, "hold"),
        (1, "advance"),
        (2, "advance"),
        (3, "advance"),
    ]
    assert checks[0]["requests"] == 0 and checks[0]["success_rate"] is None


def test_a_failed_check_below_the_threshold_holds_then_a_second_aborts(
    world: CanaryWorld,
) -> None:
    world.installed()
    world.prometheus.measure = lambda ns, n: (1000, 0, 0.05) if n == 1 else (1000, 100, 0.05)
    rel = world.run(image="router:v2", canary={"threshold": 2})
    assert rel.failed
    decisions = [(c["step"], c["decision"]) for c in world.history()[1]["canary"]]
    assert decisions == [(1, "advance"), (2, "hold"), (2, "abort")]
    assert "failed check 2 of 2" in rel.msg


def test_metrics_that_cannot_be_read_are_a_failed_check(world: CanaryWorld) -> None:
    world.installed()
    answers = iter(
        [{"status": "error", "errorType": "timeout", "error": "query timed out"}]
        + [Prometheus(good)(URL)] * 5
    )
    world.prometheus = lambda url: next(answers)  # type: ignore[assignment]
    rel = world.run(image="router:v2", canary={"threshold": 2})
    assert not rel.failed, rel.msg
    first = world.history()[1]["canary"][0]
    assert first["decision"] == "hold"
    assert "metrics unavailable: the Prometheus HTTP API answered timeout" in first["reason"]
    world.prometheus = lambda url: {"status": "error", "errorType": "bad_data", "error": "x"}  # type: ignore[assignment]
    rel = world.run(image="router:v3")
    assert rel.failed and "metrics unavailable" in rel.msg


# ---------------------------------------------------------------- the HPA, the gate, abort.yml


def test_no_weight_moves_while_the_hpa_scales_either_deployment(world: CanaryWorld) -> None:
    world.installed()
    seen = weights_written(world)
    stable = Ref("Deployment", "ns", f"{NAME}-deployment")
    phases: dict[str, float] = {}

    def hpa(now: float) -> None:
        if "start" not in phases:  # at the first check: the HPA scales stable 1 -> 3
            phases["start"] = now
            world.kube.scale("ns", stable.name, 3)
            world.kube.objects[stable]["status"]["replicas"] = 1
            phases["writes"] = len(seen)
        elif now - phases["start"] >= 90 and "done" not in phases:
            phases["done"] = now
            world.kube.objects[stable]["status"]["replicas"] = 3
            phases["writes_while_scaling"] = len(seen) - phases["writes"]

    world.clock.hooks.append(hpa)
    rel = world.run(image="router:v2", rollout_timeout=120)  # holds up to pause + 120 s
    assert not rel.failed, rel.msg
    assert phases["writes_while_scaling"] == 0
    held = [c for c in world.history()[1]["canary"] if "held" in c["reason"]]
    assert held and "Deployment exchange-router-deployment is scaling (1 -> 3" in held[0]["reason"]
    assert seen[:3] == [[80, 20], [60, 40], [40, 60]]


def test_an_hpa_scaling_when_the_canary_starts_holds_the_first_weight(world: CanaryWorld) -> None:
    world.installed()
    hpa = Ref("HorizontalPodAutoscaler", "ns", f"{NAME}-hpa")
    world.kube.objects[hpa]["status"] = {"currentReplicas": 1, "desiredReplicas": 2}

    def settle(now: float) -> None:
        world.kube.objects[hpa]["status"] = {"currentReplicas": 2, "desiredReplicas": 2}

    world.clock.hooks.append(settle)
    rel = world.run(image="router:v2")
    assert not rel.failed, rel.msg
    assert world.clock.slept[0] == 30  # one interval held before the first weight


def test_an_hpa_that_never_settles_aborts_the_canary(world: CanaryWorld) -> None:
    world.installed()
    hpa = Ref("HorizontalPodAutoscaler", "ns", f"{NAME}-hpa")
    world.kube.objects[hpa]["status"] = {"currentReplicas": 1, "desiredReplicas": 2}
    rel = world.run(image="router:v2")
    assert rel.failed and "still scaling after 5s" in rel.msg
    assert "HorizontalPodAutoscaler exchange-router-hpa is scaling (1 -> 2)" in rel.msg


def test_an_hpa_that_scales_for_ever_during_a_step_aborts_the_canary(world: CanaryWorld) -> None:
    world.installed()
    stable = Ref("Deployment", "ns", f"{NAME}-deployment")

    def hpa(now: float) -> None:  # scaling while the canary has requests
        world.kube.objects[stable]["spec"]["replicas"] = 3
        world.kube.objects[stable]["status"]["replicas"] = 2

    def settled(obj: dict[str, Any]) -> None:  # then done (the rollback waits on a real clock)
        if obj["kind"] == "HTTPRoute" and world.weights() == [100, 0]:
            world.clock.hooks.clear()
            status = world.kube.objects[stable]["status"]
            status.update(replicas=3, updatedReplicas=3, availableReplicas=3, readyReplicas=3)

    world.clock.hooks.append(hpa)
    world.kube.controllers.append(settled)
    seen = weights_written(world)
    rel = world.run(image="router:v2")
    assert rel.failed and "still scaling 5s after step 1's pause" in rel.msg, rel.msg
    assert seen == [[80, 20], [100, 0]] or seen[:2] == [[80, 20], [100, 0]]


def test_a_gated_step_holds_until_promote_yml_then_advances(world: CanaryWorld) -> None:
    world.installed()
    steps = [{"weight": 10, "pause": 0}, {"weight": 50, "pause": 5}]
    promoted: list[Result] = []

    def person(now: float) -> None:
        if now >= 20 and not promoted:
            promoted.append(world.run(state="promote"))

    world.clock.hooks.append(person)
    rel = world.run(image="router:v2", canary={"steps": steps, "interval": 2}, rollout_timeout=60)
    assert not rel.failed, rel.msg
    assert promoted[0].changed and not promoted[0].failed, promoted[0].msg
    checks = world.history()[1]["canary"]
    assert "held: waiting for playbooks/promote.yml (pause 0)" in checks[0]["reason"]
    assert "promoted by playbooks/promote.yml" in checks[-2]["reason"]
    assert GATE not in (world.deployment(f"{NAME}-canary")["metadata"].get("annotations") or {})


def test_a_gate_nobody_opens_aborts_after_the_rollout_timeout(world: CanaryWorld) -> None:
    world.installed()
    rel = world.run(image="router:v2", canary={"steps": [{"weight": 10, "pause": 0}]})
    assert rel.failed
    assert "step 1 (weight 10%) was not promoted by playbooks/promote.yml within 5s" in rel.msg


def test_abort_yml_aborts_the_running_canary_at_its_next_check(world: CanaryWorld) -> None:
    world.installed()
    aborted: list[Result] = []

    def person(now: float) -> None:
        if now >= 30 and not aborted:
            canary_route.send(world.kube, names(), canary_route.ABORT, "exchange.platform")
            aborted.append(Result())

    world.clock.hooks.append(person)
    rel = world.run(image="router:v2")
    assert rel.failed and "aborted by playbooks/abort.yml" in rel.msg
    assert world.weights() == [100, 0]


def test_promote_yml_without_a_running_canary_fails_and_abort_yml_changes_nothing(
    world: CanaryWorld,
) -> None:
    world.installed()
    promote = world.run(state="promote")
    assert promote.failed and "has no canary running" in promote.msg
    abort = world.run(state="abort")
    assert not abort.failed and not abort.changed, abort.msg
    assert "no canary in flight" in abort.msg
    check = engine.run_on_cluster(
        [world.spec(state="abort")], world.kube, world.kube.k8s_module, True, "me", world.waiter
    )["localhost"]
    assert not check.changed and not check.failed


def test_promote_yml_in_check_mode_writes_no_signal(world: CanaryWorld) -> None:
    world.installed()
    canary_route.scale(world.kube, names(), 2, "exchange.platform")
    result = engine.run_on_cluster(
        [world.spec(state="promote")], world.kube, world.kube.k8s_module, True, "me", world.waiter
    )["localhost"]
    assert result.changed and not result.failed
    assert canary_route.signal(world.kube, names()) == ""


# ---------------------------------------------------------------- kill -9


def killed_mid_canary(world: CanaryWorld) -> None:
    """What a run killed at the second step leaves: 40% on a canary of 2 pods, no record."""
    world.installed()
    canary_route.scale(world.kube, names(), 2, "exchange.platform")
    assert canary_route.set_weight(world.kube, names(), 40, "exchange.platform")
    assert world.weights() == [60, 40]


def test_the_next_deploy_finds_a_killed_canary_and_puts_stable_back_first(
    world: CanaryWorld,
) -> None:
    killed_mid_canary(world)
    seen = weights_written(world)
    rel = world.run()  # nothing else changes
    assert not rel.failed, rel.msg
    assert seen[0] == [100, 0]
    assert any("left mid-flight by a run that stopped (weight 40%)" in w for w in rel.warnings)
    assert world.weights() == [100, 0]
    assert world.deployment(f"{NAME}-canary")["spec"]["replicas"] == 0


def test_a_deploy_turning_the_canary_off_still_recovers_a_killed_one(world: CanaryWorld) -> None:
    killed_mid_canary(world)
    rel = world.run(canary={"enabled": False})
    assert not rel.failed, rel.msg
    assert any("left mid-flight" in w for w in rel.warnings)
    assert [r.get("weight") for r in world.route()["spec"]["rules"][0]["backendRefs"]] == [None]


def test_a_release_that_never_had_a_canary_is_not_asked_for_one() -> None:
    plain = CanaryWorld()
    plain.installed(canary={"enabled": False})
    assert not plain.run(canary={"enabled": False}, image="router:v2").failed
    assert ("get", "HTTPRoute", f"{NAME}-route") in plain.kube.calls  # the dry-run's read
    assert ("get", "Deployment", f"{NAME}-canary") not in plain.kube.calls


def test_abort_yml_recovers_a_killed_canary(world: CanaryWorld) -> None:
    killed_mid_canary(world)
    rel = world.run(state="abort")
    assert not rel.failed and rel.changed, rel.msg
    assert world.weights() == [100, 0]
    assert world.deployment(f"{NAME}-canary")["spec"]["replicas"] == 0
    assert canary_route.signal(world.kube, names()) == ""
    in_check = engine.run_on_cluster(
        [world.spec(state="abort")], world.kube, world.kube.k8s_module, True, "me", world.waiter
    )["localhost"]
    assert not in_check.changed


def test_a_canary_that_loses_the_lock_stops_without_recording(world: CanaryWorld) -> None:
    world.installed()
    lease = Ref("Lease", "ns", f"{NAME}-deploy-lock")

    def steal(now: float) -> None:
        live = world.kube.objects.get(lease)
        if live is not None and live["spec"]["holderIdentity"] == "me":
            world.kube.replace(dict(live, spec=dict(live["spec"], holderIdentity="other")))
            world.kube.objects[lease]["metadata"]["resourceVersion"] = "stolen"

    world.clock.hooks.append(steal)
    s = world.spec(image="router:v2")
    s.lock_seconds = 3  # renewed every second by the engine's thread

    def slow(seconds: float) -> None:
        time.sleep(0.6)

    world.clock.hooks.append(slow)
    rel = world.run_all([s])["localhost"]
    assert rel.failed and "lost the deploy lock" in rel.msg, rel.msg
    assert len(world.history()) == 1


# ---------------------------------------------------------------- the route's own fields


def test_a_weight_write_changes_only_the_weights_of_the_release_s_rule(
    world: CanaryWorld,
) -> None:
    world.installed()
    ref = Ref("HTTPRoute", "ns", f"{NAME}-route")
    route = world.kube.objects[ref]
    mine = route["spec"]["rules"][0]
    mine["filters"] = [
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "x"}]}}
    ]
    mine["timeouts"] = {"request": "10s"}
    mine["matches"].append({"headers": [{"name": "beta", "value": "1"}]})
    mine["backendRefs"].append({"name": "mirror", "port": 80, "weight": 0})
    other = {"matches": [{"path": {"value": "/admin"}}], "backendRefs": [{"name": "admin"}]}
    world.kube.put({**route, "spec": {**route["spec"], "rules": [other, mine]}}, "user")
    before = world.kube.objects[ref]["spec"]["rules"]
    assert canary_route.set_weight(world.kube, names(), 30, "exchange.platform")
    assert not canary_route.set_weight(world.kube, names(), 30, "exchange.platform")
    after = world.kube.objects[ref]["spec"]["rules"]
    assert after[0] == before[0]
    assert {k: v for k, v in after[1].items() if k != "backendRefs"} == {
        k: v for k, v in before[1].items() if k != "backendRefs"
    }
    assert [(r["name"], r["weight"]) for r in after[1]["backendRefs"]] == [
        (f"{NAME}-service", 70),
        (f"{NAME}-canary", 30),
        ("mirror", 0),
    ]
    managers = {m["manager"] for m in world.kube.objects[ref]["metadata"]["managedFields"]}
    assert "exchange.platform-canary" in managers


def test_a_route_changed_between_the_read_and_the_write_is_read_again(
    world: CanaryWorld,
) -> None:
    world.installed()
    kube = world.kube
    real_apply = kube.apply
    raced: list[int] = []

    def racing(obj: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        if obj["kind"] == "HTTPRoute" and not raced:
            raced.append(1)
            live = kube.objects[Ref.of(obj)]
            live["metadata"]["annotations"] = {"someone": "else"}
            kube.put(live, "user")  # a newer resourceVersion
        return real_apply(obj, *args, **kwargs)

    kube.apply = racing  # type: ignore[method-assign]
    assert canary_route.set_weight(kube, names(), 10, "exchange.platform")
    assert world.weights() == [90, 10]
    assert world.route()["metadata"]["annotations"] == {"someone": "else"}

    def always(obj: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise KubeError(409, "the object has been modified")

    kube.apply = always  # type: ignore[method-assign]
    with pytest.raises(KubeError):
        canary_route.set_weight(kube, names(), 20, "exchange.platform")


def test_a_weight_the_route_refuses_aborts_the_canary(world: CanaryWorld) -> None:
    world.installed()
    calls = {"n": 0}

    def deny(obj: dict[str, Any], dry_run: bool) -> KubeError | None:
        if obj["kind"] == "HTTPRoute" and not dry_run:
            calls["n"] += 1
            return KubeError(403, "forbidden") if calls["n"] == 2 else None
        return None

    world.kube.denials.append(deny)
    rel = world.run(image="router:v2")
    assert rel.failed and "the canary's weight could not be set to 40%: 403 forbidden" in rel.msg
    assert world.weights() == [100, 0]


def test_a_route_without_the_canary_s_backend_cannot_take_a_weight(world: CanaryWorld) -> None:
    world.installed()
    ref = Ref("HTTPRoute", "ns", f"{NAME}-route")
    route = world.kube.objects[ref]
    route["spec"]["rules"][0]["backendRefs"] = route["spec"]["rules"][0]["backendRefs"][:1]
    assert canary_route.canary_weight(route, names()) is None
    with pytest.raises(Exception, match="no rule with backendRefs to both"):
        canary_route.set_weight(world.kube, names(), 10, "exchange.platform")
    del world.kube.objects[ref]
    with pytest.raises(Exception, match="is gone"):
        canary_route.set_weight(world.kube, names(), 10, "exchange.platform")
    assert canary_route.port(None, names()) == 80
    assert (
        canary_route.canary_weight(
            {
                "spec": {
                    "rules": [
                        {
                            "backendRefs": [
                                {"name": f"{NAME}-service", "weight": 0},
                                {"name": f"{NAME}-canary", "weight": 0},
                            ]
                        }
                    ]
                }
            },
            names(),
        )
        == 0
    )
    assert not canary_route.scale(world.kube, names("elsewhere"), 1, "m")
    assert not canary_route.send(world.kube, names("elsewhere"), "promote", "m")


# ---------------------------------------------------------------- a fleet


def test_a_fleet_canaries_side_by_side_with_one_query_per_step(world: CanaryWorld) -> None:
    fleet = CanaryWorld(("a", "b", "c"))
    hosts = {"a": "ha", "b": "hb", "c": "hc"}
    first = fleet.run_all([fleet.spec(h, namespace=ns) for ns, h in hosts.items()])
    assert all(not r.failed for r in first.values()), first
    fleet.prometheus.urls.clear()
    fleet.prometheus.measure = lambda ns, n: (1000, 100, 0.05) if ns == "b" else (800, 0, 0.05)
    results = fleet.run_all(
        [fleet.spec(h, namespace=ns, image="router:v2") for ns, h in hosts.items()]
    )
    assert not results["ha"].failed and not results["hc"].failed
    assert results["hb"].failed and "success rate 90% < 99%" in results["hb"].msg
    # 3 steps: 3 queries for the whole fleet (b aborted at its first and left the batch)
    assert len(fleet.prometheus.urls) == 3
    first_query = urllib.parse.unquote_plus(fleet.prometheus.urls[0])
    assert all(f"{ns}-{NAME}-canary-http-80" in first_query for ns in ("a", "b", "c"))
    assert "b-exchange-router-canary" not in urllib.parse.unquote_plus(fleet.prometheus.urls[1])
    assert fleet.image("exchange-router-deployment", "a") == "router:v2"
    assert fleet.image("exchange-router-deployment", "b") == "router:v1"
    assert fleet.weights("b") == [100, 0]


def test_history_shows_each_check_of_a_canary_under_its_revision(world: CanaryWorld) -> None:
    world.installed()
    assert not world.run(image="router:v2").failed
    listed = world.run(state="history")
    lines = listed.msg.splitlines()
    assert lines[0].split() == ["REVISION", "TIME", "STATUS", "DEPLOYER", "IMAGE", "DESCRIPTION"]
    assert lines[2].startswith("2 ") and "canary promoted after 3 steps" in lines[2]
    assert lines[3] == (
        "    step 1 weight 20%: 1000 requests, success 100%, p99 80 ms: advance (success rate "
        "100% >= 99% and p99 latency 80 ms <= 500 ms over 1000 requests)"
    )
    assert len(lines) == 6
    assert listed.history[1]["canary"][2].startswith("step 3 weight 60%")
    assert "canary" not in listed.history[0]


def test_an_abort_that_cannot_reach_the_route_says_so(world: CanaryWorld) -> None:
    world.installed()
    world.prometheus.measure = lambda ns, n: (1000, 500, None)

    def webhook_down(now: float) -> None:  # after the first weight: every route write refused
        def deny(obj: dict[str, Any], dry_run: bool) -> KubeError | None:
            return KubeError(500, "webhook down") if obj["kind"] == "HTTPRoute" else None

        world.kube.denials[:] = [deny]

    world.clock.hooks.append(webhook_down)
    rel = world.run(image="router:v2", rollback_on_failure=False)
    assert rel.failed
    assert "returning the traffic to stable failed: 500 webhook down" in rel.msg
    assert "success -" not in rel.msg and "p99 -" in rel.msg


def test_a_promote_whose_settling_apply_fails_warns(world: CanaryWorld) -> None:
    world.installed()

    def apply(objects: list[dict[str, Any]]) -> str:
        if [o["kind"] for o in objects] == ["HTTPRoute"]:
            return "kubernetes.core.k8s could not apply the release: webhook down"
        return world.kube.k8s_module(objects)

    rel = world.run_all([world.spec(image="router:v2")], apply)["localhost"]
    assert not rel.failed, rel.msg
    assert any("its canary was not settled: kubernetes.core.k8s" in w for w in rel.warnings)


def test_turning_the_canary_on_with_a_new_image_runs_it_and_an_abort_puts_back_the_last_revision(
    world: CanaryWorld,
) -> None:
    world.installed(canary={"enabled": False})
    assert [r.get("weight") for r in world.route()["spec"]["rules"][0]["backendRefs"]] == [None]
    promoted = world.run(image="router:v2")
    assert not promoted.failed and len(world.prometheus.urls) == 3, promoted.msg
    world.prometheus.measure = lambda ns, n: (1000, 1000, 0.05)
    assert world.run(image="router:v3", rollback_on_failure=False).failed
    assert world.image() == "router:v2" and world.weights() == [100, 0]
    back = world.run(state="rollback", rollback_revision=1, canary={"enabled": False})
    assert not back.failed, back.msg
    assert Ref("Deployment", "ns", f"{NAME}-canary") not in world.kube.objects
    assert [r.get("weight") for r in world.route()["spec"]["rules"][0]["backendRefs"]] == [None]


def test_a_canary_with_nothing_to_apply_still_meets_the_batch_at_its_shared_apply() -> None:
    """b's canary Deployment already runs v2 (an abort left it): b applies nothing new, yet must
    reach the shared apply, else a waits for b at the apply while b waits for a at a check."""
    fleet = CanaryWorld(("a", "b"))
    specs = {ns: fleet.spec(f"h{ns}", namespace=ns) for ns in ("a", "b")}
    assert not any(r.failed for r in fleet.run_all(list(specs.values())).values())
    fleet.prometheus.measure = lambda ns, n: (1000, 1000, 0.05)
    b = fleet.spec("hb", namespace="b", image="router:v2", rollback_on_failure=False)
    assert fleet.run_all([b])["hb"].failed
    # the release's own apply takes the canary's and the route's fields back (as a deploy would)
    failed = fleet.stores["b"].records[-1]  # type: ignore[index]
    owned = [o for o in failed.objects if o["metadata"]["name"].endswith(("-canary", "-route"))]
    assert fleet.kube.k8s_module(owned) == ""
    fleet.prometheus.measure = good
    batch = [
        fleet.spec("ha", namespace="a", image="router:v2"),
        fleet.spec("hb", namespace="b", image="router:v2"),
    ]
    results: list[dict[str, Result]] = []
    runner = threading.Thread(target=lambda: results.append(fleet.run_all(batch)), daemon=True)
    runner.start()
    runner.join(60)
    assert not runner.is_alive(), "the batch deadlocked"
    assert not any(r.failed for r in results[0].values()), results[0]
