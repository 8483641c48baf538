"""The canary's faults on kind (issue 26), with test_kind_canary.py's release, Gateway, Prometheus
and continuous client: a canary answering in 700 ms (the stand-in's LATENCY_MS) is aborted on its
p99; a deploy killed (its forked workers too) while its canary has traffic leaves the release to
the next deploy, which puts every request back on stable before anything else and runs its own
canary with no request failed; and with no client at all the check has no data, which the
default no-data policy (fail) aborts."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from conftest import Cluster
from steady_client import SteadyClient
from test_kind import GOOD, deploy_plain
from test_kind_canary import (
    CANARY,
    canary_replicas,
    canary_values,
    env_var,
    route_weights,
    timed_deploy,
)

pytestmark = pytest.mark.kind


def test_a_slow_canary_is_aborted_a_killed_one_recovered_and_no_traffic_is_no_data(
    kind: Cluster, kind_namespace: str
) -> None:
    host = f"canary-{kind_namespace}.kind.test"
    values = canary_values(kind, kind_namespace, host)
    first = timed_deploy(kind, kind_namespace, values)[0]
    assert first.ok, first.output
    with SteadyClient(kind, kind_namespace, host) as steady:
        steady.wait_serving()
        slow, to_abort = timed_deploy(
            kind, kind_namespace, dict(values, **env_var("LATENCY_MS", "700"))
        )
        print(f"slow canary: aborted in {to_abort:.0f} s")
        assert not slow.ok, slow.output
        assert "p99 latency" in slow.output and "> 500 ms" in slow.output, slow.output
        assert route_weights(kind, kind_namespace) == {"exchange-router-service": 100, CANARY: 0}

        # Killed mid-canary, as a cancelled CI job is: the whole run, its forked workers too.
        killed = dict(values, **env_var("CANARY_RELEASE", "killed"))
        process = deploy_plain(
            kind, kind_namespace, GOOD, "-e", json.dumps(killed), background=True
        )
        assert isinstance(process, subprocess.Popen)
        try:
            for _attempt in range(240):
                if route_weights(kind, kind_namespace)[CANARY] > 0:
                    break
                time.sleep(0.5)
        finally:
            subprocess.run(["pkill", "-KILL", "-P", str(process.pid)], check=False)
            process.kill()
            process.communicate()
        assert (
            route_weights(kind, kind_namespace)[CANARY] > 0
        )  # killed while the canary had traffic

        before = steady.counts()
        again, took = timed_deploy(kind, kind_namespace, killed)
        seen = steady.counts() - before
        print(f"after the kill: the next deploy took {took:.0f} s; the client saw {seen}")
        assert again.ok, again.output
        assert "left mid-flight by a run that stopped" in again.output, again.output
        assert route_weights(kind, kind_namespace) == {"exchange-router-service": 100, CANARY: 0}
        assert canary_replicas(kind, kind_namespace) == 0
        assert seen.failed == 0, (seen, steady.failures(before.at))

    # No client: the canary's check has fewer than min_requests, and no_data: fail fails it.
    quiet_values = dict(values, **env_var("CANARY_RELEASE", "quiet"))
    quiet = timed_deploy(kind, kind_namespace, quiet_values)[0]
    assert not quiet.ok, quiet.output
    assert "no data (" in quiet.output, quiet.output
    assert route_weights(kind, kind_namespace) == {"exchange-router-service": 100, CANARY: 0}
