"""Fixtures for tests against the local cluster (`cluster/kwok.sh`): a real API server."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from kubernetes import client, config, utils

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "cluster" / "kwok.sh"
KIND = ROOT / "cluster" / "kind.sh"
# The kind tests run on the cluster `kind.sh with` holds for them (its base name): make
# molecule-kind runs half of them on molecule's cluster, before the scenario, and half on a second.
KIND_CLUSTER_NAME = os.environ.get("EXCHANGE_PLATFORM_KIND_TESTS", "exchange-platform-molecule")
PLAYBOOKS = ROOT / "playbooks"


@dataclass
class Run:
    """One ansible-playbook run: exit code and everything it printed."""

    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Cluster:
    kubeconfig: Path
    api: client.ApiClient
    work: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def cluster_sh(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [str(CLUSTER), *args], capture_output=True, text=True, check=False, timeout=600
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kwok.sh {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def playbook(
        self,
        name: str,
        values: dict[str, Any] | None = None,
        *args: str,
        kubeconfig: Path | None = None,
        vars_text: str | None = None,
        background: bool = False,
        env_override: dict[str, str | None] | None = None,
    ) -> Run | subprocess.Popen[str]:
        """Run playbooks/<name>.yml with `values` as extra vars (or a raw YAML vars file);
        `env_override` sets variables of the environment (None: unset them)."""
        vars_file = self.work / f"vars-{uuid.uuid4().hex[:8]}.yml"
        vars_file.write_text(vars_text if vars_text is not None else json.dumps(values or {}))
        env = dict(self.env)
        env["KUBECONFIG"] = env["K8S_AUTH_KUBECONFIG"] = str(kubeconfig or self.kubeconfig)
        for key, value in (env_override or {}).items():
            env.pop(key, None)
            if value is not None:
                env[key] = value
        command = [
            str(ROOT / ".venv/bin/ansible-playbook"),
            str(PLAYBOOKS / f"{name}.yml"),
            "-e",
            f"@{vars_file}",
            *args,
        ]
        if background:
            return subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, check=False, timeout=900
        )
        return Run(done.returncode, done.stdout + done.stderr)

    def deploy(self, values: dict[str, Any], *args: str, **kwargs: Any) -> Run:
        run = self.playbook("deploy", values, *args, **kwargs)
        assert isinstance(run, Run)
        return run

    def resource_versions(self, namespace: str) -> dict[str, str]:
        """kind/name -> resourceVersion (HPA: generation) of what the role may touch."""
        found: dict[str, str] = {}
        for item in self.apps.list_namespaced_deployment(namespace).items:
            found[f"Deployment/{item.metadata.name}"] = item.metadata.resource_version
        for item in self.core.list_namespaced_service(namespace).items:
            found[f"Service/{item.metadata.name}"] = item.metadata.resource_version
        for item in self.core.list_namespaced_secret(namespace).items:
            found[f"Secret/{item.metadata.name}"] = item.metadata.resource_version
        # The HPA controller rewrites an HPA's status on every sync, so its resourceVersion moves
        # by itself; its generation moves only when its spec does.
        hpas = client.AutoscalingV2Api(self.api).list_namespaced_horizontal_pod_autoscaler
        for item in hpas(namespace).items:
            found[f"HorizontalPodAutoscaler/{item.metadata.name}"] = str(item.metadata.generation)
        return found

    def history(self, namespace: str, release: str = "exchange-router") -> list[dict[str, Any]]:
        """The release's revisions, oldest first, decoded from its history Secret."""
        try:
            secret = self.core.read_namespaced_secret(
                f"exchange-platform.release.{release}", namespace
            )
        except client.ApiException as error:
            if error.status == 404:
                return []
            raise
        records = [
            json.loads(gzip.decompress(base64.b64decode(value)))
            for value in (secret.data or {}).values()
        ]
        return sorted(records, key=lambda r: r["revision"])

    def inventory(self, hosts: dict[str, dict[str, Any]], group: str = "exchange_router") -> Path:
        """An inventory file with these hosts (and their vars) in `group`."""
        path = self.work / f"inventory-{uuid.uuid4().hex[:8]}.yml"
        path.write_text(json.dumps({"all": {"children": {group: {"hosts": hosts}}}}))
        return path

    def service_account_token(self, namespace: str, name: str) -> str:
        """A TokenRequest token of the ServiceAccount (valid one hour)."""
        return self.core.create_namespaced_service_account_token(
            name,
            namespace,
            client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
            ),
        ).status.token

    def service_account_kubeconfig(self, namespace: str, name: str) -> Path:
        """A kubeconfig that authenticates as the ServiceAccount (a TokenRequest token)."""
        token = self.service_account_token(namespace, name)
        config = yaml.safe_load(self.kubeconfig.read_text())
        config["users"] = [{"name": name, "user": {"token": token}}]
        for context in config["contexts"]:
            context["context"]["user"] = name
        path = self.work / f"{namespace}-{name}.kubeconfig"
        path.write_text(yaml.safe_dump(config))
        return path


def _start(command: list[str], env: dict[str, str] | None = None) -> Path:
    up = subprocess.run(command, capture_output=True, text=True, check=False, timeout=5400, env=env)
    assert up.returncode == 0, f"{' '.join(command)} failed:\n{up.stderr[-4000:]}"
    return Path(up.stdout.strip().splitlines()[-1])


def _cluster(kubeconfig: Path, work: Path) -> Cluster:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "K8S_AUTH_"))}
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        PATH=f"{ROOT / '.venv/bin'}:{os.environ['PATH']}",
    )
    return Cluster(
        kubeconfig=kubeconfig,
        api=config.new_client_from_config(str(kubeconfig)),
        work=work,
        env=env,
    )


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    """The kwok tier (cluster/kwok.sh): a real control plane, pods faked by kwok."""
    return _cluster(_start([str(CLUSTER), "up"]), tmp_path_factory.mktemp("integration"))


@pytest.fixture(scope="session")
def kind(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    """The kind tier (cluster/kind.sh): real kubelet, the stand-in image, metrics-server and the
    Sealed Secrets controller."""
    env = dict(os.environ, KIND_CLUSTER_NAME=KIND_CLUSTER_NAME)
    return _cluster(_start([str(KIND), "up"], env), tmp_path_factory.mktemp("kind"))


def make_namespace(cluster: Cluster, labels: dict[str, str] | None = None) -> str:
    name = f"xr-it-{uuid.uuid4().hex[:8]}"
    cluster.core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels or {}))
    )
    return name


def create_secret(cluster: Cluster, namespace: str, data: dict[str, str]) -> None:
    cluster.core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="exchange-router-secret"), string_data=data
        ),
    )


VAULT_PASSWORD = "integration-test-password"


def vaulted_vars(cluster: Cluster, values: dict[str, object], secret: dict[str, str]) -> str:
    """A vars file whose exchange_router_secret_data values are Ansible Vault strings, as
    `ansible-vault encrypt_string --name KEY` writes them, with the password in
    cluster.work/vault-password. Encrypted here with Ansible's own VaultLib: one ansible-vault
    process per value was about 0.7 CPU-s each, 171 of them in one make test."""
    password = cluster.work / "vault-password"
    password.write_text(VAULT_PASSWORD + "\n")
    vault = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
    lines = [yaml.safe_dump(values).rstrip(), "exchange_router_secret_data:"]
    for key, value in secret.items():
        lines.append(f"  {key}: !vault |")
        lines += ["    " + line for line in vault.encrypt(value).decode().splitlines()]
    return "\n".join(lines) + "\n"


Answer = TypeVar("Answer")


def poll(
    probe: Callable[[], Answer], done: Callable[[Answer], bool], attempts: int, pace: float = 1.0
) -> Answer:
    """Call probe() until done(its answer), at most `attempts` times `pace` seconds apart, and
    return the last answer: the caller asserts on it, so a timeout fails with what was seen."""
    answer = probe()
    for _attempt in range(attempts - 1):
        if done(answer):
            break
        time.sleep(pace)
        answer = probe()
    return answer


def grant_deployer(cluster: Cluster, namespace: str) -> None:
    """playbooks/rbac.yml in the namespace: the ServiceAccount exchange-router-deployer (and an
    unused group as the extra subject) get the deployer Role."""
    run = cluster.playbook(
        "rbac",
        {
            "exchange_router_namespace": namespace,
            "exchange_router_deployer_subjects": [
                {"kind": "Group", "name": "unused-group", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        },
    )
    assert run.ok, run.output


HAND_IMAGE = "x/hand:1"


def edit_image_by_hand(cluster: Cluster, namespace: str) -> None:
    """kubectl edit, as a user would: the release's container image set to HAND_IMAGE, a field
    the release owns, so a drift report must show it."""
    container = {"name": "exchange-router", "image": HAND_IMAGE}
    cluster.apps.patch_namespaced_deployment(
        "exchange-router-deployment",
        namespace,
        {"spec": {"template": {"spec": {"containers": [container]}}}},
    )


def flat(output: str) -> str:
    """The output with each run of whitespace as one space: the YAML callback folds long lines."""
    return " ".join(output.split())


def deployer_can(
    cluster: Cluster,
    namespace: str,
    verb: str,
    resource: str,
    name: str = "",
    *,
    everywhere: bool = False,
) -> bool:
    """Whether playbooks/rbac.yml's ServiceAccount exchange-router-deployer (of `namespace`) may,
    in its namespace or, with everywhere, across all namespaces: a SubjectAccessReview (resource
    as "group/plural", "plural" for the core group)."""
    group, _slash, plural = resource.rpartition("/")
    review = client.AuthorizationV1Api(cluster.api).create_subject_access_review(
        client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=f"system:serviceaccount:{namespace}:exchange-router-deployer",
                groups=["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
                resource_attributes=client.V1ResourceAttributes(
                    namespace=None if everywhere else namespace,
                    verb=verb,
                    group=group,
                    resource=plural,
                    name=name or None,
                ),
            )
        )
    )
    return bool(review.status.allowed)


# Pods with this annotation become Ready only after the given time on the kwok cluster.
def slow(seconds: int) -> dict[str, str]:
    return {"exchange-platform.test/ready-after": f"{seconds}s"}


CRASH = {"exchange-platform.test/crash": "true"}

SECRET_VALUES = {
    "server_addr": "0.0.0.0:8080",
    "database_url": "postgres://router:it@postgres:5432/exchange",
    "redis_url": "redis://redis:6379/0",
}


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace of the test's own, with the Secret `existing` mode expects."""
    name = make_namespace(cluster)
    create_secret(cluster, name, SECRET_VALUES)
    yield name
    cluster.core.delete_namespace(name)


@pytest.fixture
def empty_namespace(cluster: Cluster) -> Iterator[str]:
    name = make_namespace(cluster)
    yield name
    cluster.core.delete_namespace(name)


# ---------------------------------------------------------------- the kind tier
STANDIN_IMAGE = "exchange-platform/standin:dev"
# The Postgres and Redis stand-ins (molecule, the bench and edge.sh load the same manifest).
BACKENDS = ROOT / "cluster" / "kind" / "manifests" / "backends.yaml"


def _backends(kind: Cluster, namespace: str) -> None:
    """Postgres and Redis stand-ins: one pod listening on 5432 and 6379, and their Services."""
    utils.create_from_dict(kind.api, yaml.safe_load(BACKENDS.read_text()), namespace=namespace)
    for _attempt in range(120):
        status = kind.apps.read_namespaced_deployment("backends", namespace).status
        if status.ready_replicas:
            return
        time.sleep(1)
    raise AssertionError("the backends never became ready")


@pytest.fixture
def kind_namespace(kind: Cluster) -> Iterator[str]:
    name = f"xr-kind-{uuid.uuid4().hex[:8]}"
    kind.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    _backends(kind, name)
    yield name
    kind.core.delete_namespace(name)
