"""plugins/plugin_utils/follow.py: rollouts of a batch woken by one watch per namespace."""

from __future__ import annotations

import threading
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import rollout
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.follow import Follower
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Sleep
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import (
    FakeCluster,
    FakeStream,
)

A = Ref("Deployment", "ns", "a-deployment")
B = Ref("Deployment", "ns", "b-deployment")
LONG = 30.0  # a bound no test waits out: a wait that returns was woken


def modified(ref: Ref) -> dict[str, Any]:
    return {"type": "MODIFIED", "object": {"metadata": {"name": ref.name}}}


def test_a_change_wakes_the_wait_of_that_deployment() -> None:
    cluster = FakeCluster()
    follower = Follower(cluster)
    mark = follower.mark(A)
    threading.Timer(0.05, lambda: cluster.streams[0].push(modified(A))).start()
    follower.wait(A, mark, LONG)
    assert follower.mark(A) == mark + 1
    follower.close()


def test_a_change_between_the_mark_and_the_wait_is_not_missed() -> None:
    cluster = FakeCluster()
    follower = Follower(cluster)
    mark = follower.mark(A)
    while not cluster.streams:  # the watch is open
        threading.Event().wait(0.01)
    cluster.streams[0].push(modified(A))
    follower.wait(A, mark, LONG)  # returns at once: the change came after the mark
    assert follower.mark(A) > mark
    follower.close()


def test_one_watch_per_namespace_serves_every_release_in_it() -> None:
    cluster = FakeCluster(namespaces=("ns", "other"))
    follower = Follower(cluster)
    follower.mark(A)
    follower.mark(B)
    follower.mark(Ref("Deployment", "other", "c-deployment"))
    for _attempt in range(500):  # until both namespaces' watches are open
        watches = [c for c in cluster.calls if c[0] == "watch"]
        if len(watches) == 2:
            break
        threading.Event().wait(0.01)
    follower.mark(B)
    follower.close()
    assert len(watches) == 2
    assert len([c for c in cluster.calls if c[0] == "watch"]) == 2
    assert all(c[2] == "app.kubernetes.io/managed-by=exchange.platform" for c in watches)


def test_another_deployments_change_does_not_wake_the_wait() -> None:
    cluster = FakeCluster()
    slept: list[float] = []
    follower = Follower(cluster, sleep=slept.append)
    mark = follower.mark(A)
    threading.Timer(0.05, lambda: cluster.streams[0].push(modified(B))).start()
    follower.wait(A, mark, 0.3)  # runs out: only B changed
    assert follower.mark(A) == mark
    follower.close()


def test_without_the_watch_verb_the_wait_sleeps_its_bound() -> None:
    cluster = FakeCluster()
    cluster.watchable = False
    slept: list[float] = []
    follower = Follower(cluster, sleep=slept.append)
    mark = follower.mark(A)
    follower.wait(A, mark, 0.5)
    assert slept and 0 < sum(slept) <= 0.5
    follower.close()


def test_close_ends_the_watches_and_wakes_the_waits() -> None:
    cluster = FakeCluster()
    follower = Follower(cluster)
    mark = follower.mark(A)
    threading.Timer(0.05, follower.close).start()
    follower.wait(A, mark, LONG)
    assert all(s.closed for s in cluster.streams)


def test_a_stream_that_ends_at_once_is_not_reopened_in_a_loop() -> None:
    class Ending(FakeCluster):
        def watch(self, kind: str, namespace: str, selector: str, seconds: int) -> FakeStream:
            stream = super().watch(kind, namespace, selector, seconds)
            stream.close()
            return stream

    cluster = Ending()
    follower = Follower(cluster)
    follower.wait(A, follower.mark(A), 0.3)
    follower.close()
    assert len([c for c in cluster.calls if c[0] == "watch"]) == 1


class Pace:
    """Records the rollout's marks and waits."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def mark(self) -> int:
        self.calls.append("mark")
        return len(self.calls)

    def wait(self, mark: int, timeout: float) -> None:
        self.calls.append(f"wait {mark} {timeout}")


def test_a_rollout_marks_before_each_read_and_waits_from_that_mark() -> None:
    reads = [{"status": {"observedGeneration": 0}}, {"status": {}}]
    done = {"observedGeneration": 1, "updatedReplicas": 1, "replicas": 1, "availableReplicas": 1}

    class Cluster(FakeCluster):
        def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
            status = reads.pop(0)["status"] if reads else done
            return {
                "metadata": {"name": name, "namespace": namespace, "generation": 1},
                "spec": {"replicas": 1},
                "status": status,
            }

    pace = Pace()
    watch = rollout.Rollout(Cluster(), A, False, 60, pace=pace)
    assert watch.wait() == ""
    assert pace.calls == ["mark", "wait 1 0.5", "mark", "wait 3 0.5", "mark"]


def test_the_default_pace_sleeps() -> None:
    slept: list[float] = []
    pace = Sleep(slept.append)
    pace.wait(pace.mark(), 0.5)
    assert slept == [0.5]
