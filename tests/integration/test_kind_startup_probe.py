"""exchange_router_startup_probe on a real kubelet: an application that answers only
STARTUP_DELAY_SECONDS after it starts (the stand-in), with a liveness probe too short for that
start. With the startupProbe the liveness probe waits for it: the pod is not Ready before the
application answers, is never restarted, and the deploy succeeds. The control, the same release
without the startupProbe: the liveness probe kills the starting container until the deploy fails
(and is rolled back)."""

from __future__ import annotations

import json
import time

import pytest
from conftest import Cluster
from test_kind import GOOD, deploy_plain

pytestmark = pytest.mark.kind

DELAY = 8
HEALTH = {"path": "/api/v1/health", "port": "http"}
VALUES = {
    "exchange_router_env": [{"name": "STARTUP_DELAY_SECONDS", "value": str(DELAY)}],
    # Two failures a second apart: the container is killed about 2 s after it starts.
    "exchange_router_liveness_probe": {
        "httpGet": HEALTH,
        "periodSeconds": 1,
        "timeoutSeconds": 1,
        "failureThreshold": 2,
    },
}
STARTUP = {"httpGet": HEALTH, "periodSeconds": 1, "timeoutSeconds": 1, "failureThreshold": 30}


def test_a_startup_probe_holds_the_liveness_probe_and_readiness_until_the_app_answers(
    kind: Cluster, kind_namespace: str
) -> None:
    values = dict(VALUES, exchange_router_startup_probe=STARTUP)
    started = time.monotonic()
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", json.dumps(values))
    assert run.ok, run.output
    assert time.monotonic() - started >= DELAY
    pods = kind.core.list_namespaced_pod(kind_namespace, label_selector="app=exchange-router")
    [pod] = [p for p in pods.items if not p.metadata.deletion_timestamp]
    [container] = pod.status.container_statuses
    assert container.restart_count == 0, container  # the liveness probe waited
    ready = next(c for c in pod.status.conditions if c.type == "Ready")
    assert ready.status == "True"
    # Ready only once the application answered: not before its delay from the container's start.
    waited = (ready.last_transition_time - container.state.running.started_at).total_seconds()
    assert waited >= DELAY - 1, f"Ready {waited}s after the container started"
    events = kind.core.list_namespaced_event(
        kind_namespace, field_selector=f"involvedObject.name={pod.metadata.name}"
    ).items
    messages = [e.message for e in events if e.reason == "Unhealthy"]
    assert any(m.startswith("Startup probe failed") for m in messages), messages
    assert not any(m.startswith("Liveness probe failed") for m in messages), messages

    # The control: the same release without the startupProbe never starts.
    run = deploy_plain(kind, kind_namespace, GOOD, "-e", json.dumps(VALUES))
    assert not run.ok, run.output
    assert "Liveness probe failed" in run.output, run.output
    assert "Rolled back to revision 1" in run.output, run.output
