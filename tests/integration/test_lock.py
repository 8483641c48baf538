"""The deploy lock under real timing: renewed through slow rollouts, across many hosts with few
forks, taken over from a dead run by a client that judged it dead on its own clock."""

from __future__ import annotations

import datetime
import subprocess
import time

from conftest import SECRET_VALUES, Cluster, create_secret, grant_deployer, make_namespace, slow
from kubernetes import client

LEASE = "exchange-router-deploy-lock"


def _leases(cluster: Cluster) -> client.CoordinationV1Api:
    return client.CoordinationV1Api(cluster.api)


def test_many_hosts_few_forks_and_a_slow_rollout_never_let_a_lock_lapse(cluster: Cluster) -> None:
    namespaces = [make_namespace(cluster) for _index in range(3)]
    for namespace in namespaces:
        create_secret(cluster, namespace, SECRET_VALUES)
    inventory = cluster.inventory(
        {f"release-{i}": {"exchange_router_namespace": ns} for i, ns in enumerate(namespaces)}
    )
    values = {"exchange_router_pod_annotations": slow(45)}
    process = cluster.playbook(
        "deploy", values, "-i", str(inventory), "--forks", "1", background=True
    )
    assert isinstance(process, subprocess.Popen)
    try:
        holders: dict[str, set[str]] = {ns: set() for ns in namespaces}
        renewals: dict[str, set[str]] = {ns: set() for ns in namespaces}
        deadline = time.monotonic() + 240
        while process.poll() is None and time.monotonic() < deadline:
            for namespace in namespaces:
                try:
                    lease = _leases(cluster).read_namespaced_lease(LEASE, namespace)
                except client.ApiException:
                    continue
                holders[namespace].add(lease.spec.holder_identity)
                renewals[namespace].add(str(lease.spec.renew_time))
                age = datetime.datetime.now(datetime.UTC) - lease.spec.renew_time
                assert age.total_seconds() < lease.spec.lease_duration_seconds, "the lock lapsed"
            time.sleep(2)
        output, _errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    for namespace in namespaces:
        assert len(holders[namespace]) == 1  # one holder from first write to history
        assert len(renewals[namespace]) >= 3  # renewed while the 45 s rollout ran
        assert not _leases(cluster).list_namespaced_lease(namespace).items  # released
        assert _image_ready(cluster, namespace)


def _image_ready(cluster: Cluster, namespace: str) -> bool:
    deployment = cluster.apps.read_namespaced_deployment("exchange-router-deployment", namespace)
    return deployment.status.available_replicas == 1


def test_a_killed_deploy_leaves_a_lock_the_next_deploy_judges_dead_and_takes_over(
    cluster: Cluster, namespace: str
) -> None:
    cluster.env["PYTHONUNBUFFERED"] = "1"
    values = {"exchange_router_namespace": namespace, "exchange_router_pod_annotations": slow(60)}
    process = cluster.playbook("deploy", values, background=True)
    assert isinstance(process, subprocess.Popen)
    try:
        for _attempt in range(120):
            if _leases(cluster).list_namespaced_lease(namespace).items:
                break
            time.sleep(0.5)
        time.sleep(2)
    finally:
        # The whole run dies (its forked workers too), as when a CI job is cancelled.
        subprocess.run(["pkill", "-KILL", "-P", str(process.pid)], check=False)
        process.kill()
        process.communicate()
        cluster.env.pop("PYTHONUNBUFFERED")
    dead = _leases(cluster).read_namespaced_lease(LEASE, namespace)
    # The dead holder's renewTime lies in the future by another machine's clock: irrelevant.
    dead.spec.renew_time = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    _leases(cluster).replace_namespaced_lease(LEASE, namespace, dead)

    started = time.monotonic()
    run = cluster.deploy({"exchange_router_namespace": namespace})
    assert run.ok, run.output
    assert time.monotonic() - started >= 25, (
        run.output
    )  # waited for the record to stay unchanged 30 s
    assert not _leases(cluster).list_namespaced_lease(namespace).items


def test_concurrent_deploys_of_one_release_never_mix(cluster: Cluster, namespace: str) -> None:
    assert cluster.deploy({"exchange_router_namespace": namespace}).ok
    releases = {
        "a": {"exchange_router_image": "example/app:a", "exchange_router_service_port": 81},
        "b": {"exchange_router_image": "example/app:b", "exchange_router_service_port": 82},
    }
    processes = {
        name: cluster.playbook(
            "deploy",
            dict(
                values, exchange_router_namespace=namespace, exchange_router_pod_annotations=slow(5)
            ),
            background=True,
        )
        for name, values in releases.items()
    }
    for process in processes.values():
        assert isinstance(process, subprocess.Popen)
        output, _errors = process.communicate(timeout=600)
        assert process.returncode == 0, output
    deployment = cluster.apps.read_namespaced_deployment("exchange-router-deployment", namespace)
    port = (
        cluster.core.read_namespaced_service("exchange-router-service", namespace)
        .spec.ports[0]
        .port
    )
    image = deployment.spec.template.spec.containers[0].image
    assert (image.rsplit(":", 1)[1], port) in {("a", 81), ("b", 82)}
    assert [r["status"] for r in cluster.history(namespace)][-1] == "deployed"
    assert len(cluster.history(namespace)) == 3


def test_a_batch_where_the_apply_rejects_one_release_fails_it_alone(cluster: Cluster) -> None:
    """A ValidatingAdmissionPolicy denies every write that is not a dry-run in one namespace: the
    dry-runs pass, the batch's shared kubernetes.core.k8s run fails, and the engine applies each
    release on its own. That release fails with the policy's message; the other two deploy and
    are not rolled back."""
    namespaces = [make_namespace(cluster) for _index in range(3)]
    for namespace in namespaces:
        create_secret(cluster, namespace, SECRET_VALUES)
    frozen = namespaces[1]
    name = f"freeze-{frozen}"
    admission = client.AdmissionregistrationV1Api(cluster.api)
    admission.create_validating_admission_policy(
        {
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": ["apps"],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["deployments"],
                        }
                    ]
                },
                "validations": [
                    {"expression": "request.dryRun == true", "message": f"{frozen} is frozen"}
                ],
            },
        }
    )
    admission.create_validating_admission_policy_binding(
        {
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": frozen}}
                },
            },
        }
    )
    try:
        time.sleep(2)  # the policy reaches the API server's admission cache
        hosts = {
            f"release-{i}": {"exchange_router_namespace": ns} for i, ns in enumerate(namespaces)
        }
        run = cluster.deploy({}, "-i", str(cluster.inventory(hosts)))
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)
    assert not run.ok
    recap = run.output.split("PLAY RECAP", 1)[1]
    assert "failed=1" in recap.split("release-1", 1)[1].splitlines()[0], recap
    assert f"{frozen} is frozen" in run.output
    assert "each release of the batch on this cluster was applied on its own" in run.output
    for namespace in (namespaces[0], namespaces[2]):
        assert _image_ready(cluster, namespace)
        assert [r["status"] for r in cluster.history(namespace)] == ["deployed"]
    assert [r["status"] for r in cluster.history(frozen)] == ["failed"]
    assert not cluster.apps.list_namespaced_deployment(frozen).items


def test_a_lock_taken_over_mid_rollout_stops_the_deploy_without_history_or_rollback(
    cluster: Cluster, namespace: str
) -> None:
    """As rbac.yml's deployer, a 40 s rollout: once the lock has been renewed, another holder
    replaces the Lease (as a run that judged this one dead would). The next renewal is refused,
    and the deploy stops: it records no revision, rolls nothing back and leaves the Lease to its
    new holder."""
    grant_deployer(cluster, namespace)
    kubeconfig = cluster.service_account_kubeconfig(namespace, "exchange-router-deployer")
    assert cluster.deploy({"exchange_router_namespace": namespace}, kubeconfig=kubeconfig).ok
    values = {
        "exchange_router_namespace": namespace,
        "exchange_router_image": "example/app:next",
        "exchange_router_pod_annotations": slow(40),
    }
    process = cluster.playbook("deploy", values, kubeconfig=kubeconfig, background=True)
    assert isinstance(process, subprocess.Popen)
    try:
        first = None
        for _attempt in range(120):
            items = _leases(cluster).list_namespaced_lease(namespace).items
            if items and first is None:
                first = items[0].spec.renew_time
            if items and first is not None and items[0].spec.renew_time != first:
                break  # renewed once: this run holds the lock mid-rollout
            time.sleep(0.5)
        lease = _leases(cluster).read_namespaced_lease(LEASE, namespace)
        assert lease.spec.renew_time != first, "the lock was never renewed"
        lease.spec.holder_identity = "someone-else"
        _leases(cluster).replace_namespaced_lease(LEASE, namespace, lease)
        output, _errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0, output
    assert "lost the deploy lock" in output, output
    assert "stopped without recording history or rolling back" in output, output
    assert [r["revision"] for r in cluster.history(namespace)] == [1]
    deployment = cluster.apps.read_namespaced_deployment("exchange-router-deployment", namespace)
    assert deployment.spec.template.spec.containers[0].image == "example/app:next"
    assert _leases(cluster).read_namespaced_lease(LEASE, namespace).spec.holder_identity == (
        "someone-else"
    )
