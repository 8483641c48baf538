"""The canary's faults on kind (issue 26), with test_kind_canary.py's release, Gateway, Prometheus
and continuous client: a canary answering in 700 ms (the stand-in's LATENCY_MS) is aborted on its
p99; a deploy killed (its forked workers too) while its canary has traffic leaves the release to
the next deploy, which puts every request back on stable before anything else and runs its own
canary with no request failed; and with no client at all the check has no data, which the
default no-data policy (fail) aborts. All of it as the deployer playbooks/rbac.yml makes (least
privilege), whose removal then deletes the canary's objects with the rest."""

from __future__ import annotations

import subprocess
import time

import pytest
from conftest import Cluster, grant_deployer
from test_kind import GOOD, deploy_plain
from test_kind_canary import (
    CANARY,
    STABLE_ONLY,
    canary_replicas,
    env_var,
    route_weights,
    serving_canary_release,
)

pytestmark = pytest.mark.kind


def test_as_the_deployer_a_slow_canary_aborts_a_killed_one_recovers_and_removal_takes_all(
    kind: Cluster, kind_namespace: str
) -> None:
    grant_deployer(kind, kind_namespace)
    deployer = kind.service_account_kubeconfig(kind_namespace, "exchange-router-deployer")
    with serving_canary_release(kind, kind_namespace, deployer) as (release, steady):
        slow, to_abort = release.timed_deploy(env_var("LATENCY_MS", "700"))
        print(f"slow canary: aborted in {to_abort:.0f} s")
        assert not slow.ok, slow.output
        assert "forbidden" not in slow.output, slow.output
        assert "p99 latency" in slow.output and "> 500 ms" in slow.output, slow.output
        assert route_weights(kind, kind_namespace) == STABLE_ONLY

        # Killed mid-canary, as a cancelled CI job is: the whole run, its forked workers too.
        killed = env_var("CANARY_RELEASE", "killed")
        process = release.deploy(killed, background=True)
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
        again, took = release.timed_deploy(killed)
        seen = steady.counts() - before
        print(f"after the kill: the next deploy took {took:.0f} s; the client saw {seen}")
        assert again.ok, again.output
        assert "left mid-flight by a run that stopped" in again.output, again.output
        assert route_weights(kind, kind_namespace) == STABLE_ONLY
        assert canary_replicas(kind, kind_namespace) == 0
        assert seen.failed == 0, (seen, steady.failures(before.at))

    # No client: the canary's check has fewer than min_requests, and no_data: fail fails it.
    quiet = release.timed_deploy(env_var("CANARY_RELEASE", "quiet"))[0]
    assert not quiet.ok, quiet.output
    assert "no data (" in quiet.output, quiet.output
    assert route_weights(kind, kind_namespace) == STABLE_ONLY

    # Removal by the same deployer takes every object the release made, the canary's included.
    assert kind.apps.read_namespaced_deployment(CANARY, kind_namespace)  # control: it exists
    removed = deploy_plain(kind, kind_namespace, GOOD, kubeconfig=deployer, playbook="remove")
    assert removed.ok, removed.output
    managed = "app.kubernetes.io/managed-by=exchange.platform"
    assert not kind.apps.list_namespaced_deployment(kind_namespace, label_selector=managed).items
    assert not kind.core.list_namespaced_service(kind_namespace, label_selector=managed).items
