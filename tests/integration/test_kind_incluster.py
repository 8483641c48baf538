"""The kind tier, in-cluster: the playbooks run in a pod, as AWX container groups run jobs, with
nothing but the pod's ServiceAccount token. The image `exchange-platform/deployer:dev`
(cluster/kind/build.sh `build_deployer_image`: Python 3.11, ansible-core, the kubernetes client and
kubernetes.core at requirements.txt's pins, and this checkout's collection) runs as the
ServiceAccount of playbooks/rbac.yml, with no kubeconfig and no K8S_AUTH_* variable: the engine
and kubernetes.core.k8s find the in-cluster configuration themselves."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
import yaml
from conftest import VAULT_PASSWORD, Cluster, grant_deployer, vaulted_vars
from kubernetes import client
from test_kind import (
    BASE,
    GOOD,
    env_hashes,
    hashes_of,
    secret_values,
)

pytestmark = pytest.mark.kind

DEPLOYER_IMAGE = "exchange-platform/deployer:dev"
SERVICE_ACCOUNT = "exchange-router-deployer"
# A ServiceAccount token is a JWT: header and payload are base64url JSON ("eyJ" = '{"').
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")
# PLAY RECAP of a run that changed something and failed nowhere.
CHANGED = re.compile(r"localhost\s*:\s*ok=\d+\s+changed=[1-9]\d*\s+unreachable=0\s+failed=0")
MANAGED = "app.kubernetes.io/managed-by=exchange.platform"


class Job:
    """One playbook run in a pod of its own: its container's exit code and its log."""

    def __init__(self, kind: Cluster, namespace: str) -> None:
        self.kind = kind
        self.namespace = namespace

    def setup(self, vars_files: dict[str, str]) -> None:
        """The extra-vars files (a ConfigMap) and the vault password (a Secret), mounted."""
        self.kind.core.create_namespaced_config_map(
            self.namespace,
            client.V1ConfigMap(metadata=client.V1ObjectMeta(name="deployer-vars"), data=vars_files),
        )
        self.kind.core.create_namespaced_secret(
            self.namespace,
            client.V1Secret(
                metadata=client.V1ObjectMeta(name="deployer-vault"),
                string_data={"password": VAULT_PASSWORD + "\n"},
            ),
        )

    def run(self, playbook: str, vars_file: str, *args: str, timeout: int = 600) -> tuple[int, str]:
        name = f"{playbook}-{uuid.uuid4().hex[:6]}"
        command = [
            "ansible-playbook",
            f"exchange.platform.{playbook}",
            "-e",
            f"@/vars/{vars_file}",
            "--vault-password-file",
            "/vault/password",
            *args,
        ]
        container = client.V1Container(
            name="ansible",
            image=DEPLOYER_IMAGE,
            image_pull_policy="Never",
            command=command,
            security_context=client.V1SecurityContext(
                allow_privilege_escalation=False,
                capabilities=client.V1Capabilities(drop=["ALL"]),
                run_as_non_root=True,
                run_as_user=1000,
                seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
            ),
            volume_mounts=[
                client.V1VolumeMount(name="vars", mount_path="/vars", read_only=True),
                client.V1VolumeMount(name="vault", mount_path="/vault", read_only=True),
            ],
        )
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"app": "deployer-job"}),
            spec=client.V1PodSpec(
                service_account_name=SERVICE_ACCOUNT,
                restart_policy="Never",
                containers=[container],
                volumes=[
                    client.V1Volume(
                        name="vars",
                        config_map=client.V1ConfigMapVolumeSource(name="deployer-vars"),
                    ),
                    client.V1Volume(
                        name="vault",
                        secret=client.V1SecretVolumeSource(secret_name="deployer-vault"),
                    ),
                ],
            ),
        )
        self.kind.core.create_namespaced_pod(self.namespace, pod)
        deadline = time.monotonic() + timeout
        while True:
            status = self.kind.core.read_namespaced_pod(name, self.namespace).status
            if status.phase in ("Succeeded", "Failed"):
                break
            waiting = [
                s.state.waiting
                for s in status.container_statuses or []
                if s.state.waiting and s.state.waiting.reason != "ContainerCreating"
            ]
            assert not waiting, f"{name} cannot start: {waiting}"  # e.g. ErrImageNeverPull
            assert time.monotonic() < deadline, f"{name} did not finish in {timeout}s"
            time.sleep(1)
        log = self.kind.core.read_namespaced_pod_log(name, self.namespace, container="ansible")
        self._check_pod(name)
        assert not JWT.search(log), f"a token in the log of {name}"
        assert "Bearer" not in log, log
        return status.container_statuses[0].state.terminated.exit_code, log

    def _check_pod(self, name: str) -> None:
        """What the pod ran with, as the API server has it: the ServiceAccount and nothing else."""
        spec = self.kind.core.read_namespaced_pod(name, self.namespace).spec
        assert spec.service_account_name == SERVICE_ACCOUNT
        env = [e.name for c in spec.containers for e in c.env or []]
        assert not [e for e in env if e.startswith("K8S_AUTH_") or e == "KUBECONFIG"], env
        volumes = {v.name for v in spec.volumes if not v.name.startswith("kube-api-access-")}
        assert volumes == {"vars", "vault"}, volumes  # and the projected token kubelet adds


def _vaulted(kind: Cluster, namespace: str, secret: dict[str, str]) -> str:
    values = dict(BASE, exchange_router_namespace=namespace, exchange_router_secret_mode="plain")
    return vaulted_vars(kind, values, secret)


def _gone(read: Any, *args: str) -> bool:
    try:
        read(*args)
    except client.ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def test_in_cluster_with_only_the_service_account_token_deploys_rolls_back_and_removes(
    kind: Cluster,
    kind_namespace: str,
) -> None:
    """deploy (-vvv), a crash loop the engine rolls back, rollback.yml, history.yml and
    remove.yml, each a pod of its own; checked from outside with the admin client."""
    namespace = kind_namespace
    grant_deployer(kind, namespace)
    deployer = f"system:serviceaccount:{namespace}:{SERVICE_ACCOUNT}"
    crash = dict(GOOD, server_addr="0.0.0.0")
    job = Job(kind, namespace)
    job.setup(
        {
            "deploy.yml": _vaulted(kind, namespace, GOOD),
            "crash.yml": _vaulted(kind, namespace, crash),
            "release.yml": yaml.safe_dump(
                dict(BASE, exchange_router_namespace=namespace, exchange_router_rollback_revision=1)
            ),
        }
    )

    def secretless(log: str) -> None:
        assert "forbidden" not in log.lower(), log
        assert GOOD["database_url"] not in log, "a secret value in the log"

    code, log = job.run("deploy", "deploy.yml", "-vvv")
    assert code == 0, log
    assert CHANGED.search(log), log
    secretless(log)
    status = kind.apps.read_namespaced_deployment("exchange-router-deployment", namespace).status
    assert status.available_replicas == 1, status
    assert env_hashes(kind, namespace) == [hashes_of(GOOD)]
    assert [r["deployer"] for r in kind.history(namespace)] == [deployer]

    code, log = job.run("deploy", "crash.yml")
    assert code == 2, log  # ansible-playbook: a host failed
    assert "exited with code 2" in log, log
    assert "SERVER_ADDR must be host:port" in log, log
    assert "Rolled back to revision 1" in log, log
    assert "0.0.0.0" not in log, "the crash loop's secret value in the log"
    secretless(log)
    assert secret_values(kind, namespace) == GOOD
    status = kind.apps.read_namespaced_deployment("exchange-router-deployment", namespace).status
    assert status.available_replicas == 1, status

    code, log = job.run("rollback", "release.yml")
    assert code == 0, log
    assert "failed=0" in log, log
    secretless(log)
    assert env_hashes(kind, namespace) == [hashes_of(GOOD)]

    code, log = job.run("history", "release.yml")
    assert code == 0, log
    assert deployer in log, log
    records = kind.history(namespace)
    assert len(records) >= 3, records  # deploy, the failed one, its rollback (and rollback.yml's)
    assert {r["deployer"] for r in records} == {deployer}, records

    code, log = job.run("remove", "release.yml")
    assert code == 0, log
    assert "failed=0" in log, log
    assert not kind.apps.list_namespaced_deployment(namespace, label_selector=MANAGED).items
    assert not kind.core.list_namespaced_service(namespace, label_selector=MANAGED).items
    for secret in ("exchange-router-secret", "exchange-platform.release.exchange-router"):
        assert _gone(kind.core.read_namespaced_secret, secret, namespace), secret
    leases = client.CoordinationV1Api(kind.api)
    assert _gone(leases.read_namespaced_lease, "exchange-router-deploy-lock", namespace)
