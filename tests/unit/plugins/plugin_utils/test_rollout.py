"""plugins/plugin_utils/rollout.py branch by branch, over the in-memory cluster: what a rollout
waits for, a crash loop spotted, how a failure is explained (each reason once, logs and Warning
events of the new pods only, secrets redacted), and how a wait ends (done, gone, deadline, lost
lock)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import rollout
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.redact import redact
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Sleep, Waiter
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import (
    FakeCluster,
)

REF = Ref("Deployment", "ns", "d")
LABELS = {"app": "r"}
# What a crashed container's previous instance printed.
CRASHED = "connecting to postgres://router:hunter22@db/exchange\nexit: no route to redis"


def deployment(conditions: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    """Deployment ns/d at generation 2, 2 replicas wanted, revision 2, uid u1."""
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "d",
            "namespace": "ns",
            "uid": "u1",
            "generation": 2,
            "annotations": {rollout.REVISION: "2"},
        },
        "spec": {"replicas": 2, "selector": {"matchLabels": LABELS}},
        "status": dict({"observedGeneration": 2, "conditions": conditions or []}, **status),
    }


def new_pod(cluster: FakeCluster, *containers: dict[str, Any]) -> None:
    """Deployment d's newest ReplicaSet (revision 2) and one pod of it."""
    cluster.put(
        {
            "kind": "ReplicaSet",
            "metadata": {
                "name": "d-2",
                "labels": dict(LABELS, **{"pod-template-hash": "h2"}),
                "annotations": {rollout.REVISION: "2"},
                "ownerReferences": [{"uid": "u1"}],
            },
        }
    )
    cluster.put(
        {
            "kind": "Pod",
            "metadata": {
                "name": "d-2-pod",
                "labels": dict(LABELS, **{"pod-template-hash": "h2"}),
                "ownerReferences": [{"name": "d-2"}],
            },
            "status": {"phase": "Running", "containerStatuses": list(containers)},
        }
    )


def event(name: str, message: str, type_: str = "Warning") -> dict[str, Any]:
    return {
        "kind": "Event",
        "metadata": {"name": f"{name}.{abs(hash(message))}"},
        "involvedObject": {"name": name},
        "type": type_,
        "reason": "Reason",
        "message": message,
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"observedGeneration": 1}, (False, "the controller to observe the new generation")),
        ({"updatedReplicas": 1}, (False, "1 of 2 replicas updated")),
        ({"updatedReplicas": 2, "replicas": 3}, (False, "1 old replicas to terminate")),
        (
            {"updatedReplicas": 2, "replicas": 2, "availableReplicas": 1},
            (False, "1 of 2 updated replicas available"),
        ),
        ({"updatedReplicas": 2, "replicas": 2, "availableReplicas": 2}, (True, "complete")),
    ],
)
def test_progress_says_what_the_rollout_waits_for(
    status: dict[str, Any], expected: tuple[bool, str]
) -> None:
    assert rollout.progress(deployment(**status)) == expected


def test_a_missed_progress_deadline_fails_the_rollout() -> None:
    stuck = deployment(
        [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
    )
    with pytest.raises(rollout.RolloutFailed, match="progress deadline exceeded"):
        rollout.progress(stuck)


def test_a_replica_failure_fails_the_rollout_with_its_reason() -> None:
    failing = deployment(
        [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "quota"}]
    )
    with pytest.raises(rollout.RolloutFailed, match="FailedCreate: quota"):
        rollout.progress(failing)


def pod(**container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p"},
        "status": {"containerStatuses": [dict({"name": "c"}, **container)]},
    }


def test_a_crash_loop_is_spotted_with_its_exit_code() -> None:
    crashing = pod(
        restartCount=3,
        lastState={"terminated": {"exitCode": 101, "reason": "Error"}},
        state={"waiting": {"reason": "CrashLoopBackOff"}},
    )
    assert "exited with code 101" in rollout.crash([crashing])
    assert rollout.crash([pod(restartCount=1, state={"running": {}})]) == ""
    assert "CreateContainerConfigError" in rollout.crash(
        [pod(state={"waiting": {"reason": "CreateContainerConfigError"}})]
    )


def test_a_diagnosis_gives_each_reason_once_with_the_new_pods_logs_and_their_warnings() -> None:
    cluster = FakeCluster()
    new_pod(
        cluster,
        {
            "name": "crashed",
            "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
            "lastState": {"terminated": {"exitCode": 3}},
        },
        {"name": "starting", "state": {"waiting": {"reason": "ContainerCreating"}}},
        {"name": "fine", "state": {"running": {}}},
    )
    cluster.set_log("ns", "d-2-pod", "crashed", previous=CRASHED)
    for obj in (
        event("d-2-pod", "Back-off restarting failed container"),
        event("d-2", "Back-off restarting failed container"),  # the same message again
        event("d-2-pod", "Started container", "Normal"),
        event("someone-else", "not ours"),
        event("d", "progress deadline exceeded"),  # the reason itself
    ):
        cluster.put(obj)
    failing = deployment(
        [
            {"type": "Progressing", "status": "False", "reason": "A", "message": "same"},
            {"type": "Available", "status": "False", "reason": "B", "message": "same"},
            {"type": "Available", "status": "False", "reason": "B", "message": "same"},
        ]
    )
    lines = rollout.diagnose(cluster, failing, "progress deadline exceeded")
    assert lines == [
        "condition Progressing=False (A): same",
        "condition Available=False (B): (as above)",
        "pod d-2-pod: Running, Ready=Unknown",
        "  container crashed exited with code 3 (Error), is CrashLoopBackOff: back-off, restarts 2",
        "    log: connecting to postgres://router:hunter22@db/exchange",
        "    log: exit: no route to redis",
        "  container starting is ContainerCreating, restarts 0",
        "event Reason: Back-off restarting failed container",
    ]


def test_a_log_or_pod_list_the_deployer_may_not_read_is_said_not_raised() -> None:
    crashed = {"name": "c", "restartCount": 1, "state": {"terminated": {"exitCode": 1}}}
    cluster = FakeCluster()
    cluster.refusals["log", "Pod"] = KubeError(403, "pods/log is forbidden")
    new_pod(cluster, crashed)
    assert "    log: (log unavailable: 403 pods/log is forbidden)" in rollout.diagnose(
        cluster, deployment()
    )
    cluster.refusals["list", "ReplicaSet"] = KubeError(403, "replicasets is forbidden")
    assert rollout.diagnose(cluster, deployment()) == [
        "(could not read the pods or events: 403 replicasets is forbidden)"
    ]


def watch(cluster: FakeCluster, started: bool = True, **kwargs: Any) -> rollout.Rollout:
    """A 30 s wait whose clock moves 10 s at each look (kwargs may replace it)."""
    ticks = itertools.count(step=10)
    clock = kwargs.pop("clock", lambda: next(ticks))
    options: dict[str, Any] = {
        "pace": Sleep(lambda seconds: None),
        "waiter": Waiter(clock, lambda seconds: None),
        "redact": lambda text: redact(text, ["hunter22"]),
    }
    return rollout.Rollout(cluster, REF, started, 30, **dict(options, **kwargs))


def test_a_deployment_deleted_during_the_rollout_fails_it() -> None:
    assert watch(FakeCluster()).wait() == "Deployment ns/d disappeared during the rollout"


def test_a_rollout_that_never_finishes_times_out_with_its_diagnosis_redacted() -> None:
    cluster = FakeCluster()
    cluster.objects[REF] = deployment(updatedReplicas=1)
    new_pod(cluster, {"name": "c", "restartCount": 1, "state": {"running": {}}})
    cluster.set_log("ns", "d-2-pod", "c", previous=CRASHED)
    reason = watch(cluster).wait()
    assert reason.startswith(
        "Rollout of Deployment ns/d failed: timed out after 30s waiting for 1 of 2 replicas updated"
    )
    assert "log: connecting to postgres://********@db/exchange" in reason
    assert "hunter22" not in reason


def test_a_lost_lock_ends_the_wait_with_its_reason() -> None:
    cluster = FakeCluster()
    cluster.objects[REF] = deployment(updatedReplicas=1)
    lost = watch(cluster, lost=lambda: "the deploy lock was taken over", clock=lambda: 0).wait()
    assert lost == "the deploy lock was taken over"


def test_a_rollout_this_run_did_not_start_is_a_warning_never_a_failure() -> None:
    cluster = FakeCluster()
    watcher = watch(cluster, started=False)
    watcher.look()  # no such Deployment: nothing to say
    cluster.objects[REF] = deployment(
        [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
    )
    watcher.look()
    assert watcher.wait() == ""
    assert len(watcher.warnings) == 2
    assert watcher.warnings[0].startswith(
        "Deployment ns/d is not fully rolled out (progress deadline exceeded); this run did not "
        "change its pod template, so nothing was rolled back:"
    )


def test_waiting_for_removed_objects_polls_until_they_are_gone_or_time_runs_out() -> None:
    cluster = FakeCluster()
    cluster.put({"kind": "Service", "metadata": {"name": "s"}})
    ref = Ref("Service", "ns", "s")
    assert rollout.wait_gone(cluster, [ref], 0, Waiter()) == [ref]
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        cluster.delete(ref)

    assert rollout.wait_gone(cluster, [ref], 60, Waiter(sleep=nap)) == []
    assert naps == [rollout.POLL]
