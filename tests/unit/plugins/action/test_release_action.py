"""The release action plugin run in-process, as ansible-core's own unit tests run action plugins:
ActionModule(task, connection, play_context, loader, templar, shared_loader_obj) over a real Task
in a real Play, VariableManager, DataLoader, Templar and local connection, with the role's real
defaults as each host's variables, so the real templates render (the loader's basedir is the role:
`_find_needle("templates", ...)` finds them as it finds a role's). The real engine runs over the
in-memory FakeCluster (engine.run's `connect` answers with it: its default, connection.connect,
is bound when engine.py is imported) and kubernetes.core.k8s's run is the fake's own apply
(FakeCluster.k8s_module)."""

from __future__ import annotations

import base64
import copy
import functools
import gc
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.block import Block
from ansible.playbook.play import Play
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins.loader import connection_loader
from ansible.template import Templar, trust_as_template
from ansible.vars.manager import VariableManager

from ansible_collections.exchange.platform.plugins.action.release import K8S, ActionModule
from ansible_collections.exchange.platform.plugins.plugin_utils import engine
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import FIELD_MANAGER
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import (
    RENDER_DIR_NEEDED,
    P,
)
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import (
    TEST_VARIABLES,
    FakeCluster,
)

ROLE = Path(__file__).resolve().parents[4] / "roles/exchange_router"
DEFAULTS = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
DEPLOYMENT = Ref("Deployment", "ns", "exchange-router-deployment")
SECRET = Ref("Secret", "ns", "exchange-router-secret")
# plain mode, its values templated from (vaulted) variables as a playbook writes them
PLAIN = {
    "secret_mode": "plain",
    "secret_data": {
        "server_addr": trust_as_template("{{ vault_server_addr }}"),
        "database_url": "postgres://db/exchange",
        "redis_url": "redis://redis:6379/0",
    },
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(autouse=True)
def _unfreeze() -> Iterator[None]:
    """run() freezes the heap (its worker ends with the task); this process goes on."""
    yield
    gc.unfreeze()


class Batch:
    """A play over `hosts` that runs the role's engine task once: the role's defaults (with the
    unit tests' namespace and waits) as play vars, each host's own values as its host vars."""

    def __init__(self, hosts: dict[str, dict[str, Any]], **task: Any) -> None:
        self.loader = DataLoader()
        self.loader.set_basedir(str(ROLE))
        inventory = InventoryManager(self.loader, parse=False)
        self.manager = VariableManager(loader=self.loader, inventory=inventory)
        for host, variables in hosts.items():
            inventory.add_host(host)
            for name, value in variables.items():
                self.manager.set_host_variable(host, P + name, value)
        play_vars = {**copy.deepcopy(DEFAULTS), **{P + k: v for k, v in TEST_VARIABLES.items()}}
        play_vars["vault_server_addr"] = ":8080"  # as a vars file decrypted with the vault password
        self.play = Play.load(
            {"hosts": "all", "gather_facts": False, "vars": play_vars},
            variable_manager=self.manager,
            loader=self.loader,
        )
        self.task = Task.load(
            {"action": "exchange.platform.release", "run_once": True, **task},
            block=Block(play=self.play),
            variable_manager=self.manager,
            loader=self.loader,
        )
        self.hosts = list(hosts)

    def task_vars(self) -> dict[str, Any]:
        """The first host's variables, as the strategy computes them for a run_once task."""
        return self.manager.get_vars(
            play=self.play,
            host=self.manager._inventory.get_host(self.hosts[0]),
            task=self.task,
            _hosts=self.hosts,
            _hosts_all=self.hosts,
        )

    def action(self) -> ActionModule:
        context = PlayContext()
        templar = Templar(loader=self.loader, variables=self.task_vars())
        connection = connection_loader.get("local", context, "/dev/null")
        return ActionModule(self.task, connection, context, self.loader, templar, None)


class Cluster:
    """The in-memory cluster the real engine reaches, and every kubernetes.core.k8s run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kube = FakeCluster(("ns", "other"))
        self.kube.user = "tester"
        self.connects: list[dict[str, Any]] = []  # the resolved connection of each identity
        self.modules: list[dict[str, Any]] = []  # each kubernetes.core.k8s run's arguments
        self.answer: dict[str, Any] | None = None  # the module's result, else the fake's apply
        self.monkeypatch = monkeypatch

        def connect(options: dict[str, Any], field_manager: str) -> FakeCluster:
            assert field_manager == FIELD_MANAGER
            self.connects.append(options)
            return self.kube

        monkeypatch.setattr(engine, "run", functools.partial(engine.run, connect=connect))

    def existing_secret(self, namespace: str) -> None:
        """The Secret existing mode references, made elsewhere, with every key the pods read."""
        keys = ("server_addr", "database_url", "redis_url")
        data = {k: b64(f"{k}-value") for k in keys}
        metadata = {"name": SECRET.name, "namespace": namespace}
        self.kube.put({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "data": data})

    def run(self, batch: Batch) -> dict[str, dict[str, Any]]:
        """The engine task of `batch`, with kubernetes.core.k8s applied to this cluster."""
        action = batch.action()

        def execute(module_name: str, module_args: dict[str, Any], task_vars: Any) -> Any:
            assert module_name == K8S
            self.modules.append(module_args)
            if self.answer is not None:
                return self.answer
            failed = self.kube.k8s_module(module_args["definition"])
            return {"failed": True, "msg": failed} if failed else {"changed": True}

        self.monkeypatch.setattr(action, "_execute_module", execute)
        result = action.run(task_vars=batch.task_vars())
        assert result["changed"] is False  # each host's release_report says what changed
        return result["releases"]


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Cluster:
    return Cluster(monkeypatch)


def test_a_host_whose_values_are_invalid_fails_with_every_problem_and_nothing_is_applied(
    cluster: Cluster,
) -> None:
    out = cluster.run(Batch({"h1": {"replicas": -1, "container_port": 70000}}))
    assert out["h1"]["failed"] and not out["h1"]["changed"]
    assert out["h1"]["msg"].splitlines()[1:] == [
        "exchange_router_container_port: 70000 is not a port number (1-65535)",
        "exchange_router_replicas: -1 must be 0 or more",
    ]
    assert cluster.connects == [] and cluster.modules == [] and cluster.kube.calls == []


def test_a_value_that_cannot_be_templated_fails_its_host_alone(cluster: Cluster) -> None:
    cluster.existing_secret("ns")
    undefined = {"namespace": "other", "image": trust_as_template("{{ router_image_tag }}")}
    out = cluster.run(Batch({"h1": {}, "h2": undefined}))
    assert out["h2"]["failed"] and "router_image_tag" in out["h2"]["msg"], out["h2"]
    assert not out["h1"]["failed"] and out["h1"]["revision"] == 1, out["h1"]  # h1 went on
    assert {ref.namespace for ref in cluster.kube.objects} == {"ns"}  # nothing of h2's
    (module,) = cluster.modules
    assert {o["metadata"]["namespace"] for o in module["definition"]} == {"ns"}


def test_render_only_without_a_render_dir_says_how_to_set_it(cluster: Cluster) -> None:
    out = cluster.run(Batch({"h1": {}}, vars={"__exchange_router_render_only": True}))
    assert out["h1"]["failed"] and out["h1"]["msg"] == RENDER_DIR_NEEDED
    assert cluster.connects == [] and cluster.kube.calls == []


@pytest.mark.parametrize("check", [False, True])
def test_a_render_writes_one_manifest_per_object_and_touches_no_cluster(
    cluster: Cluster, tmp_path: Path, check: bool
) -> None:
    values = dict(PLAIN, render_dir=str(tmp_path / "out"))
    batch = Batch({"h1": values}, check_mode=check, vars={"__exchange_router_render_only": True})
    out = cluster.run(batch)["h1"]
    release = tmp_path / "out" / "ns" / "exchange-router"  # <render_dir>/<namespace>/<name>
    names = ["deployment.yaml", "service.yaml", "horizontalpodautoscaler.yaml", "secret.yaml"]
    names.append("kustomization.yaml")
    assert sorted(out["files"]) == sorted(str(release / n) for n in names)
    assert out["changed"] and not out["failed"]
    assert cluster.connects == [] and cluster.kube.calls == []
    if check:
        assert out["msg"].startswith("would write 4 manifests") and not (tmp_path / "out").exists()
        return
    secret = release / "secret.yaml"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert yaml.safe_load(secret.read_text())["data"]["server_addr"] == b64(":8080")
    deployment = yaml.safe_load((release / "deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "router:v1"


def test_a_deploy_goes_through_the_engine_and_one_k8s_run_with_the_resolved_connection(
    cluster: Cluster,
) -> None:
    environment = [{"K8S_AUTH_CONTEXT": trust_as_template("{{ 'stag' + 'ing' }}")}, {}]
    out = cluster.run(Batch({"h1": PLAIN}, environment=environment))["h1"]
    assert not out["failed"] and out["changed"] and out["revision"] == 1, out
    assert cluster.connects[0]["context"] == "staging"  # the task's environment: K8S_AUTH_*
    (module,) = cluster.modules
    assert module["context"] == "staging"
    assert module["state"] == "present" and module["apply"] is True
    assert module["server_side_apply"] == {"field_manager": FIELD_MANAGER, "force_conflicts": True}
    kinds = {o["kind"] for o in module["definition"]}
    assert kinds == {"Secret", "Deployment", "Service", "HorizontalPodAutoscaler"}
    live = cluster.kube.objects
    assert live[DEPLOYMENT]["spec"]["template"]["spec"]["containers"][0]["image"] == "router:v1"
    assert live[SECRET]["data"]["server_addr"] == b64(":8080")  # the vaulted value, templated


def test_another_host_of_the_batch_is_released_with_its_own_variables(cluster: Cluster) -> None:
    cluster.existing_secret("ns")
    cluster.existing_secret("other")
    theirs = {"namespace": "other", "image": "router:v2"}
    out = cluster.run(Batch({"h1": {}, "h2": theirs}))
    assert not out["h1"]["failed"] and not out["h2"]["failed"], out
    other = Ref("Deployment", "other", DEPLOYMENT.name)
    assert cluster.kube.objects[other]["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "router:v2"
    )
    assert len(cluster.connects) == 1 and len(cluster.modules) == 1  # one identity, one run


def test_a_failed_apply_fails_the_release_with_the_modules_own_words(cluster: Cluster) -> None:
    cluster.answer = {
        "failed": True,
        "msg": "Failed to apply object: quota exceeded (403)",
        "reason": "Forbidden",
        "error": 403,
        "status": "Failure",
    }
    out = cluster.run(Batch({"h1": PLAIN}))["h1"]
    assert out["failed"], out
    assert (
        "kubernetes.core.k8s could not apply the release: Failed to apply object: quota "
        "exceeded (403) (reason: Forbidden) (status: Failure)"
    ) in out["msg"]
    assert DEPLOYMENT not in cluster.kube.objects  # only the dry-run reached it


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"changed": True}, ""),
        ({"failed": False, "msg": "ok"}, ""),
        ({"failed": True}, "failed"),
        ({"failed": True, "msg": "", "reason": "Conflict"}, "failed (reason: Conflict)"),
        ({"failed": True, "msg": "boom", "error": "", "status": None}, "boom"),
        (
            {"failed": True, "msg": "forbidden: 403", "reason": "Forbidden", "status": 403},
            "forbidden: 403 (reason: Forbidden)",
        ),
    ],
)
def test_the_apply_message_adds_each_detail_the_module_message_lacks(
    monkeypatch: pytest.MonkeyPatch, answer: dict[str, Any], message: str
) -> None:
    action = Batch({"h1": {}}).action()
    monkeypatch.setattr(action, "_execute_module", lambda **_: answer)
    said = action._apply({}, {"definition": []})
    assert said == (
        f"kubernetes.core.k8s could not apply the release: {message}" if message else ""
    )


def test_applies_run_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's file in the task's temporary directory is one path: two releases' applies
    side by side (a fleet's promotes) would run each other's arguments."""
    action = Batch({"h1": {}}).action()
    running, most, guard = [0], [0], threading.Lock()

    def module_run(**kwargs: Any) -> dict[str, Any]:
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with guard:
            running[0] -= 1
        return {"failed": False}

    monkeypatch.setattr(action, "_execute_module", module_run)
    threads = [
        threading.Thread(target=action._apply, args=({}, {"definition": []})) for _t in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert most[0] == 1


def test_removal_templates_no_secret_value_and_removes_the_release(cluster: Cluster) -> None:
    assert not cluster.run(Batch({"h1": PLAIN}))["h1"]["failed"]
    vaulted = {"server_addr": trust_as_template("{{ vault_password_not_given }}")}
    gone = {"state": "absent", "secret_mode": "plain", "secret_data": vaulted}
    out = cluster.run(Batch({"h1": gone}))["h1"]
    assert not out["failed"] and out["changed"], out
    assert DEPLOYMENT not in cluster.kube.objects and SECRET not in cluster.kube.objects
    assert len(cluster.modules) == 1  # the deploy's: removal deletes, it applies nothing
    deploy = cluster.run(Batch({"h1": dict(gone, state="present")}))["h1"]
    assert deploy["failed"] and "vault_password_not_given" in deploy["msg"]  # a deploy reads it


TASK = trust_as_template("{{ 'task' }}")  # as a playbook's YAML gives it: a template
ADDED = {"K8S_AUTH_CONTEXT": "task", "K8S_AUTH_VERIFY_SSL": "False"}  # templated, strings


@pytest.mark.parametrize(
    ("environment", "added"),
    [
        (None, {}),
        ([{"K8S_AUTH_CONTEXT": TASK}, {}, {"K8S_AUTH_VERIFY_SSL": False}], ADDED),
        ({"K8S_AUTH_CONTEXT": TASK, "K8S_AUTH_VERIFY_SSL": False}, ADDED),
    ],
)
def test_the_environment_is_the_controllers_and_the_tasks_list_or_mapping(
    monkeypatch: pytest.MonkeyPatch, environment: Any, added: dict[str, str]
) -> None:
    monkeypatch.setenv("K8S_AUTH_HOST", "https://controller")
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "controller")
    action = Batch({"h1": {}}).action()
    action._task.environment = environment
    assert action._environment() == {**os.environ, **added}


def test_the_module_is_told_never_to_log_its_arguments() -> None:
    action = Batch({"h1": {}}).action()
    assert action._task.no_log is False
    args: dict[str, Any] = {"definition": [{"kind": "Secret"}]}
    action._update_module_args(K8S, args, {})
    assert args["_ansible_no_log"] is True
    assert args["_ansible_module_name"] == K8S and args["_ansible_check_mode"] is False


def test_a_state_other_than_the_required_one_fails_the_task_before_anything(
    cluster: Cluster,
) -> None:
    """tasks/diff.yml's require_state: diff; an extra var is the one way to another state."""
    batch = Batch({"h1": {}, "h2": {"namespace": "other"}}, args={"require_state": "diff"})
    result = batch.action().run(task_vars=batch.task_vars())  # the play's state: present
    assert result["failed"] and "releases" not in result
    assert 'exchange_router_state must be diff, not "present"' in result["msg"]
    assert cluster.connects == [] and cluster.kube.calls == []


def test_the_required_state_lets_the_run_go_on(cluster: Cluster) -> None:
    cluster.existing_secret("ns")
    batch = Batch({"h1": {"state": "diff"}}, args={"require_state": "diff"})
    out = cluster.run(batch)
    assert out["h1"]["msg"].endswith(
        "no deployed revision in its history (never deployed "
        "there, or the namespace is gone): nothing to compare"
    )
