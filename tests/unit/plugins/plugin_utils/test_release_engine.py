"""The release engine's pure parts: lock expiry on this client's clock, redaction, the keyed
checksum, field-to-variable tracing, the metrics warning. The connection:
test_connection_options.py; rollout judgement and crash detection: test_rollout.py."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    engine,
    preflight,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError
from ansible_collections.exchange.platform.plugins.plugin_utils.lock import (
    Lease,
    LockError,
    Renewer,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.redact import redact
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Result
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Waiter
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import (
    FakeCluster,
    spec,
)


class FakeLeases:
    """The few Lease requests the lock makes, against one stored object."""

    def __init__(self, lease: dict[str, Any] | None) -> None:
        self.lease = lease
        self.puts = 0

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.lease

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._write("POST", body)

    def replace(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._write("PUT", body)

    def _write(self, method: str, body: Any = None) -> dict[str, Any]:
        if (
            method == "PUT"
            and body["metadata"]["resourceVersion"] != self.lease["metadata"]["resourceVersion"]
        ):
            raise KubeError(409, "conflict")
        self.puts += method == "PUT"
        version = int(
            (self.lease or {"metadata": {"resourceVersion": "0"}})["metadata"]["resourceVersion"]
        )
        self.lease = dict(body, metadata=dict(body["metadata"], resourceVersion=str(version + 1)))
        return self.lease


def held_by(holder: str, renew: str = "2099-01-01T00:00:00.000000Z") -> dict[str, Any]:
    return {
        "metadata": {"name": "l", "namespace": "n", "resourceVersion": "7"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 30, "renewTime": renew},
    }


def test_a_holder_is_dead_only_after_this_client_saw_its_record_unchanged_for_the_duration() -> (
    None
):
    now = [100.0]
    kube = FakeLeases(held_by("other"))
    lease = Lease(kube, "n", "l", "me", 30, waiter=Waiter(lambda: now[0]))  # type: ignore[arg-type]
    assert not lease.try_take()  # first sight: alive, whatever its renewTime says
    now[0] += 29
    assert not lease.try_take()
    kube.lease = dict(held_by("other", "2000-01-01T00:00:00.000000Z"))  # it renewed: alive again
    kube.lease["metadata"]["resourceVersion"] = "8"
    now[0] += 2
    assert not lease.try_take()
    now[0] += 29.5
    assert not lease.try_take()
    now[0] += 1
    assert lease.try_take()  # 30 s unchanged on this client's clock
    assert kube.lease["spec"]["holderIdentity"] == "me"


def test_the_renewer_never_touches_a_lease_this_run_does_not_hold() -> None:
    kube = FakeLeases(held_by("other"))
    lease = Lease(kube, "n", "l", "me", 30, waiter=Waiter(lambda: 0.0))  # type: ignore[arg-type]
    assert not lease.try_take()
    lease.renew()
    assert kube.lease["spec"]["holderIdentity"] == "other" and kube.puts == 0


class Failing(FakeLeases):
    """Every write fails with `status` (a race lost: 404/409; refused: 403; an outage: 500)."""

    def __init__(self, lease: dict[str, Any] | None, status: int) -> None:
        super().__init__(lease)
        self.status = status

    def _write(self, method: str, body: Any = None) -> dict[str, Any]:
        raise KubeError(self.status, f"{method} failed")

    def delete(self, ref: Any, precondition_rv: str = "") -> bool:
        raise KubeError(self.status, "DELETE failed")


def test_renewal_keeps_the_acquire_time_and_a_lease_taken_over_is_lost_for_good() -> None:
    kube = FakeLeases(None)
    lease = Lease(kube, "n", "l", "me", 30)  # type: ignore[arg-type]
    assert lease.try_take()
    acquired = kube.lease["spec"]["acquireTime"]
    kube.lease["spec"]["leaseTransitions"] = 4
    lease.lease = dict(kube.lease)
    lease.renew()
    assert kube.puts == 1 and kube.lease["spec"]["acquireTime"] == acquired
    assert kube.lease["spec"]["leaseTransitions"] == 4  # renewing is no transition
    kube.lease = dict(held_by("other"), metadata=dict(kube.lease["metadata"], resourceVersion="99"))
    lease.renew()  # 409: another run replaced it
    assert lease.lost.startswith("lost the deploy lock n/l (409 conflict")
    lease.renew()
    assert kube.puts == 1 and not lease.release()  # never renewed or deleted after that


def test_an_outage_during_renewal_is_retried_not_taken_as_a_lost_lock() -> None:
    lease = Lease(Failing(None, 500), "n", "l", "me", 30)  # type: ignore[arg-type]
    lease.lease = held_by("me")
    lease.renew()
    assert lease.lost == "" and lease.lease == held_by("me")


@pytest.mark.parametrize("status", [404, 409])
def test_a_race_lost_while_taking_the_lock_is_one_more_look(status: int) -> None:
    assert not Lease(Failing(held_by(""), status), "n", "l", "me", 30).try_take()  # type: ignore[arg-type]


@pytest.mark.parametrize("current", [None, held_by("")])
def test_a_lease_the_deployer_may_not_write_is_an_error_at_once(current: Any) -> None:
    lease = Lease(Failing(current, 403), "n", "l", "me", 30)  # type: ignore[arg-type]
    with pytest.raises(KubeError, match="403"):
        lease.try_take()


def test_release_deletes_only_the_lease_this_run_wrote() -> None:
    lease = Lease(Failing(None, 409), "n", "l", "me", 30)  # type: ignore[arg-type]
    lease.lease = held_by("me")
    assert not lease.release()  # replaced since: someone else's now
    lease = Lease(Failing(None, 500), "n", "l", "me", 30)  # type: ignore[arg-type]
    lease.lease = held_by("me")
    with pytest.raises(KubeError, match="500"):
        lease.release()


def test_the_renewer_renews_every_tick_and_survives_a_failing_renewal() -> None:
    renewed = threading.Event()

    class Ticking:
        def __init__(self, error: bool) -> None:
            self.error = error

        def renew(self) -> None:
            if self.error:
                raise RuntimeError("outage")
            renewed.set()

    with Renewer([Ticking(True), Ticking(False)], 0.01):  # type: ignore[list-item]
        assert renewed.wait(10)


def test_a_missing_namespace_fails_at_once_instead_of_waiting_for_the_lock() -> None:
    lease = Lease(Failing(None, 404), "n", "l", "me", 30)  # type: ignore[arg-type]
    with pytest.raises(LockError, match="namespace n does not exist"):
        lease.take(wait=600)


def test_redaction_removes_values_and_url_passwords() -> None:
    lines = ["panic: cannot reach redis://:hunter22@redis:6379", "DATABASE_URL=s3cr3t-value", "ok"]
    out = [redact(line, ["s3cr3t-value"]) for line in lines]
    assert "hunter22" not in out[0] and "s3cr3t-value" not in out[1] and out[2] == "ok"


@pytest.mark.parametrize("order", [["abc", "abcdef"], ["abcdef", "abc"]])
def test_redaction_replaces_the_longest_value_first_whatever_the_order(order: list[str]) -> None:
    assert redact("token=abcdef;pin=abc", order) == "token=********;pin=********"


def test_the_checksum_is_keyed_so_low_entropy_values_cannot_be_guessed() -> None:
    data = {"pin": "MTIzNA=="}
    unsalted = hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    first = preflight.secret_checksum("00" * 32, data)
    assert first != unsalted
    assert first == preflight.secret_checksum("00" * 32, dict(data))
    assert first != preflight.secret_checksum("11" * 32, data)


def test_a_rejected_field_names_the_role_variable_by_the_longest_prefix() -> None:
    sources = {
        "*:metadata.labels": "exchange_router_labels",
        "Deployment:spec.template.spec.containers[0].readinessProbe": "readiness_probe",
        "Deployment:spec.template.spec": "generic",
    }
    path = "spec.template.spec.containers[0].readinessProbe.tcpSocket.port"
    assert preflight.field_variable("Deployment", path, sources) == "readiness_probe"
    assert (
        preflight.field_variable("Service", "metadata.labels", sources) == "exchange_router_labels"
    )
    assert preflight.field_variable("Service", "spec.ports", sources) == ""


def test_only_the_applier_that_set_replicas_owns_them() -> None:
    live = {
        "metadata": {
            "managedFields": [
                {
                    "manager": "exchange.platform",
                    "operation": "Apply",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}},
                },
            ]
        }
    }
    assert preflight.owns_replicas(live, "exchange.platform")
    assert not preflight.owns_replicas(live, "other")
    live["metadata"]["managedFields"][0]["operation"] = "Update"
    assert not preflight.owns_replicas(live, "exchange.platform")


@pytest.mark.parametrize("serves", [True, False])
def test_autoscaling_without_metrics_is_a_warning(serves: bool) -> None:
    kube = FakeCluster()
    kube.metrics = serves
    specs = [spec(), spec(autoscaling={"enabled": False}, inventory_host="h2")]
    results = {s.host: Result(changed=True) for s in specs}
    engine._warn_without_metrics(kube, specs, results)
    assert bool(results["localhost"].warnings) is not serves
    assert not results["h2"].warnings


def test_a_no_op_does_not_ask_for_metrics_again() -> None:
    kube = FakeCluster()
    kube.metrics = False
    results = {"localhost": Result()}
    engine._warn_without_metrics(kube, [spec()], results)
    assert not results["localhost"].warnings
