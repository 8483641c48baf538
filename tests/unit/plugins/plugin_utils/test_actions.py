"""Every lifecycle branch of the release engine (install, upgrade, no-op, check mode, failed
rollout and the rollback action, rollback to N, uninstall by ownership, secret mode changes, the
replicas hand-off, locks, a shared apply one release breaks) against the in-memory cluster and
release store of fakes.py: Helm's way of testing its actions."""

from __future__ import annotations

import base64
import copy
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils import catalogue, engine
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError, Ref
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Result
from ansible_collections.exchange.platform.plugins.plugin_utils.shared_apply import (
    SHARED_APPLY_FAILED,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.store import Revision, SecretStore
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import P, role_defaults
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Waiter
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import (
    FakeCluster,
    MemoryStore,
    spec,
)

NAME = "exchange-router"
DEPLOYMENT = Ref("Deployment", "ns", f"{NAME}-deployment")
SECRET = Ref("Secret", "ns", "exchange-router-secret")
KEYS = ("database_url", "redis_url", "server_addr")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def data(tag: str) -> dict[str, str]:
    return {k: b64(f"{k}-{tag}-value") for k in KEYS}


def plain(tag: str) -> dict[str, Any]:
    """Plain secret mode: the role renders the Secret from these values."""
    return {"secret_mode": "plain", "secret_data": {k: f"{k}-{tag}-value" for k in KEYS}}


def sealed(tag: str) -> dict[str, Any]:
    """Sealed secret mode: the fake controller's "ciphertext" is the base64 value itself."""
    return {"secret_mode": "sealed", "sealed_secret_encrypted_data": data(tag)}


class World:
    """One cluster and the stores of its releases, kept across runs as a cluster keeps them."""

    def __init__(self, namespaces: tuple[str, ...] = ("ns",)) -> None:
        self.kube = FakeCluster(namespaces)
        self.kube.user = "tester"
        self.stores: dict[str, MemoryStore] = {}
        self.waiter = Waiter()
        self.apply: Callable[[list[dict[str, Any]]], str] | None = None  # else the fake's

    def spec(self, **variables: Any) -> Spec:
        """The role's release with these variables (fakes.spec)."""
        return spec(**variables)

    def run(self, check: bool = False, **variables: Any) -> Result:
        """One play of the role with these variables (without exchange_router_)."""
        s = self.spec(**variables)
        return self.run_all([s], check)[s.host]

    def run_all(self, specs: list[Spec], check: bool = False) -> dict[str, Result]:
        """The specs as one play batch on this cluster."""

        def store(client: Any, s: Spec) -> MemoryStore:
            return self.stores.setdefault(s.namespace, MemoryStore())

        return engine.run_on_cluster(
            specs, self.kube, self.apply or self.kube.k8s_module, check, "me", self.waiter, store
        )

    def existing(self, tag: str = "given", name: str = "exchange-router-secret") -> None:
        self.kube.put(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data(tag)}
        )

    def history(self, ns: str = "ns") -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.stores[ns].records or []]

    def live(self, ref: Ref) -> dict[str, Any] | None:
        return self.kube.objects.get(ref)

    def image(self) -> str:
        return self.kube.objects[DEPLOYMENT]["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.fixture
def world() -> World:
    return World()


def writes(kube: FakeCluster) -> list[tuple[str, str, str]]:
    return [c for c in kube.calls if c[0].startswith(("apply:", "create", "replace", "delete"))]


# ---------------------------------------------------------------- install, upgrade, no-op


def test_install_creates_every_object_records_revision_1_and_releases_the_lock(
    world: World,
) -> None:
    world.existing()
    rel = world.run()
    assert not rel.failed, rel.msg
    assert rel.changed and rel.revision == 1
    assert rel.msg == f"Release {NAME} revision 1 deployed"
    assert world.live(DEPLOYMENT) is not None
    assert Ref("Lease", "ns", f"{NAME}-deploy-lock") not in world.kube.objects
    (record,) = world.history()
    assert record["status"] == "deployed" and record["deployer"] == "tester"
    assert record["image"] == "router:v1" and record["secret"]["owned"] is False
    template = world.live(DEPLOYMENT)["spec"]["template"]["metadata"]  # type: ignore[index]
    assert "exchange.platform/secret-checksum" in template["annotations"]


def test_an_unchanged_redeploy_writes_nothing_and_records_nothing(world: World) -> None:
    world.existing()
    world.run()
    before = len(world.history())
    world.kube.calls.clear()
    rel = world.run()
    assert not rel.changed and not rel.failed
    assert [c for c in writes(world.kube) if c[1] != "Lease"] == []
    assert len(world.history()) == before


def test_an_upgrade_writes_only_what_changes_and_supersedes_the_last_revision(world: World) -> None:
    world.existing()
    world.run()
    world.kube.calls.clear()
    rel = world.run(image="router:v2")
    assert rel.revision == 2 and world.image() == "router:v2"
    assert world.kube.verbs("apply:exchange.platform") == [DEPLOYMENT.name]
    assert [r["status"] for r in world.history()] == ["superseded", "deployed"]
    assert [d["before_header"] for d in rel.diff] == [f"{DEPLOYMENT} (live)"]


def test_check_mode_reports_the_diff_and_writes_nothing(world: World) -> None:
    world.existing()
    world.kube.calls.clear()
    rel = world.run(check=True, image="router:v2")
    assert rel.changed and len(rel.diff) == 3
    assert writes(world.kube) == [] and world.history() == []


def test_values_the_api_server_rejects_write_nothing_and_name_each_variable(world: World) -> None:
    world.existing()

    def deny(obj: dict[str, Any], dry_run: bool) -> KubeError | None:
        if obj["kind"] == "Service":
            return KubeError(422, "invalid", [{"field": "spec.ports[0].port", "message": "bad"}])
        return None

    world.kube.denials.append(deny)
    rel = world.run()  # the catalogue's field sources name the variable
    assert rel.failed and "nothing was written" in rel.msg
    assert (
        "exchange_router_service_port: Service ns/exchange-router-service spec.ports[0].port"
        in (rel.msg)
    )
    assert [c for c in writes(world.kube) if c[1] != "Lease"] == []


@pytest.mark.parametrize(("entry", "variable"), [("DATABASE_URL", "secret_env"), ("EXTRA", "env")])
def test_a_rejected_env_entry_names_the_variable_that_renders_it(
    world: World, entry: str, variable: str
) -> None:
    world.existing()

    def deny(obj: dict[str, Any], dry_run: bool) -> KubeError | None:
        if obj["kind"] != "Deployment":
            return None
        env = obj["spec"]["template"]["spec"]["containers"][0]["env"]
        path = f"spec.template.spec.containers[0].env[{[e['name'] for e in env].index(entry)}]"
        return KubeError(422, "invalid", [{"field": f"{path}.name", "message": "bad"}])

    world.kube.denials.append(deny)
    rel = world.run(env=[{"name": "EXTRA", "value": "x"}])
    assert rel.failed and "nothing was written" in rel.msg
    assert f"{P}{variable}: Deployment ns/{DEPLOYMENT.name} spec.template" in rel.msg


def test_a_missing_namespace_names_the_variable_at_once() -> None:
    world = World(namespaces=())
    rel = world.run(namespace="nowhere")
    assert rel.failed
    assert rel.msg == "exchange_router_namespace: namespace nowhere does not exist"


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "Secret ns/exchange-router-secret does not exist (secret mode existing)"),
        ({"server_addr": b64("x")}, "lacks the keys database_url, redis_url"),
    ],
)
def test_existing_mode_checks_the_secret_before_anything_is_written(
    world: World, secret: dict[str, str] | None, message: str
) -> None:
    if secret is not None:
        world.kube.put({"kind": "Secret", "metadata": {"name": SECRET.name}, "data": secret})
    rel = world.run()
    assert rel.failed and message in rel.msg
    assert world.live(DEPLOYMENT) is None and world.history() == []


# ---------------------------------------------------------------- failures and the rollback action


def test_a_crash_loop_fails_with_the_reason_and_the_rollback_action_restores_revision_1(
    world: World,
) -> None:
    world.run(**plain("one"))
    rel = world.run(image="router:crash", **plain("two"))
    assert rel.failed and rel.changed
    assert "exited with code 1" in rel.msg and "CrashLoopBackOff" in rel.msg
    assert "hunter22" not in rel.msg  # a URL's password in the log is masked
    assert "Rolled back to revision 1 (recorded as revision 3); that rollout is complete." in (
        rel.msg
    )
    assert rel.rolled_back_to == 1 and rel.revision == 2
    assert world.image() == "router:v1"
    assert world.live(SECRET)["data"] == data("one")  # type: ignore[index]
    statuses = [(r["status"], r["description"].split(":")[0]) for r in world.history()]
    assert statuses == [
        ("superseded", "deploy"),
        ("failed", "failed"),
        ("deployed", "rollback to revision 1"),
    ]


def test_the_failure_path_is_the_rollback_action_with_its_dry_run_and_replicas_hand_off(
    world: World,
) -> None:
    world.existing()
    world.run()  # revision 1: autoscaling, the HPA owns spec.replicas
    world.kube.scale("ns", DEPLOYMENT.name, 2)
    rel = world.run(image="router:crash", autoscaling={"enabled": False}, replicas=1)
    assert rel.failed and rel.rolled_back_to == 1
    crash = next(i for i, c in enumerate(world.kube.calls) if c[0] == "list" and c[1] == "Pod")
    after = world.kube.calls[crash:]
    assert ("dry-run", "Deployment", DEPLOYMENT.name) in after
    assert ("dry-run", "HorizontalPodAutoscaler", f"{NAME}-hpa") in after
    assert ("apply:exchange.platform-handover", "Deployment", DEPLOYMENT.name) in after
    assert world.live(Ref("HorizontalPodAutoscaler", "ns", f"{NAME}-hpa")) is not None


def test_without_rollback_the_failed_revision_stays(world: World) -> None:
    world.existing()
    world.run()
    rel = world.run(image="router:crash", rollback_on_failure=False)
    assert rel.failed and rel.rolled_back_to is None
    assert "Not rolled back (exchange_router_rollback_on_failure is false)." in rel.msg
    assert world.image() == "router:crash"


def test_a_first_deploy_that_fails_is_left_for_diagnosis(world: World) -> None:
    world.existing()
    rel = world.run(image="router:stuck")
    assert rel.failed and "progress deadline exceeded" in rel.msg
    assert "No previous revision to roll back to (first deploy)." in rel.msg


def test_rollback_to_a_revision_and_to_one_that_does_not_exist(world: World) -> None:
    world.existing()
    for tag in ("v1", "v2", "v3"):
        world.run(image=f"router:{tag}")
    rel = world.run(state="rollback", rollback_revision=1)
    assert not rel.failed, rel.msg
    assert rel.msg == f"Release {NAME} rolled back to revision 1 (recorded as revision 4)"
    assert world.image() == "router:v1"
    assert world.history()[-1]["description"] == "rollback to revision 1"
    previous = world.run(state="rollback")  # the one before the latest: revision 3
    assert previous.rolled_back_to == 3 and world.image() == "router:v3"
    missing = world.run(state="rollback", rollback_revision=42)
    assert missing.failed
    assert "exchange_router_rollback_revision: no revision 42" in missing.msg
    assert "(revisions: 1, 2, 3, 4, 5)" in missing.msg


def test_rollback_in_check_mode_writes_nothing(world: World) -> None:
    world.existing()
    world.run()
    world.run(image="router:v2")
    world.kube.calls.clear()
    rel = world.run(check=True, state="rollback")
    assert rel.changed and rel.rolled_back_to == 1
    assert writes(world.kube) == [] and world.image() == "router:v2"


# ---------------------------------------------------------------- replicas hand-off


def test_replicas_hand_off_between_the_release_and_the_hpa(world: World) -> None:
    world.existing()
    world.run(autoscaling={"enabled": False}, replicas=3)
    world.run()  # autoscaling on: the count stays, handed to another manager
    assert world.live(DEPLOYMENT)["spec"]["replicas"] == 3  # type: ignore[index]
    assert world.kube.verbs("apply:exchange.platform-handover", "Deployment")
    world.kube.scale("ns", DEPLOYMENT.name, 2)
    world.run(image="router:v2")  # a re-deploy never undoes a scale-out
    assert world.live(DEPLOYMENT)["spec"]["replicas"] == 2  # type: ignore[index]
    mark = len(world.kube.calls)
    world.run(image="router:v2", autoscaling={"enabled": False}, replicas=1)
    assert world.live(DEPLOYMENT)["spec"]["replicas"] == 1  # type: ignore[index]
    assert world.live(Ref("HorizontalPodAutoscaler", "ns", f"{NAME}-hpa")) is None
    # the HPA goes before the Deployment's replicas are set: after, it could scale them again
    calls = world.kube.calls[mark:]
    hpa_deleted = calls.index(("delete:Background", "HorizontalPodAutoscaler", f"{NAME}-hpa"))
    assert ("apply:exchange.platform", "Deployment", DEPLOYMENT.name) in calls[hpa_deleted:]


# ---------------------------------------------------------------- uninstall


def test_uninstall_deletes_what_the_release_created_and_never_a_secret_it_did_not(
    world: World,
) -> None:
    world.existing()
    world.run()
    rel = world.run(state="absent")
    assert rel.changed and rel.msg == f"Release {NAME} removed"
    assert world.live(DEPLOYMENT) is None and world.live(SECRET) is not None
    assert world.history() == []
    again = world.run(state="absent")
    assert not again.changed and again.msg == f"Release {NAME} is not installed"


def test_uninstall_deletes_a_plain_secret_the_release_created(world: World) -> None:
    world.run(**plain("one"))
    check = world.run(check=True, state="absent")
    assert check.changed and world.live(SECRET) is not None
    world.run(state="absent")
    assert world.live(SECRET) is None and world.live(DEPLOYMENT) is None


def test_uninstall_without_history_goes_by_name_and_labels(world: World) -> None:
    service, _deployment, hpa = spec().objects
    world.kube.put(service)  # the release's labels, as it made it
    world.kube.put(dict(hpa, metadata={"name": f"{NAME}-hpa"}))  # not labelled
    rel = world.run(state="absent")
    assert rel.changed
    assert world.live(Ref("Service", "ns", f"{NAME}-service")) is None
    assert world.live(Ref("HorizontalPodAutoscaler", "ns", f"{NAME}-hpa")) is not None


# ---------------------------------------------------------------- secret modes


def test_secret_modes_plain_sealed_plain_existing_and_back_never_touch_a_foreign_secret(
    world: World,
) -> None:
    world.existing("foreign", name="someone-elses")
    foreign = copy.deepcopy(world.kube.objects[Ref("Secret", "ns", "someone-elses")])
    annotations = ("metadata", "annotations")

    def secret() -> dict[str, Any]:
        return world.live(SECRET) or {}

    assert not world.run(**plain("one")).failed
    rel = world.run(**sealed("two"))
    assert not rel.failed, rel.msg
    assert secret()["data"] == data("two")  # the controller took the release's Secret over
    assert secret()[annotations[0]][annotations[1]] == {"sealedsecrets.bitnami.com/managed": "true"}
    rel = world.run(**plain("three"))
    assert not rel.failed, rel.msg
    assert world.live(Ref("SealedSecret", "ns", SECRET.name)) is None
    assert secret()["data"] == data("three") and not secret()["metadata"].get("annotations")
    assert not secret()["metadata"].get("ownerReferences")
    rel = world.run(secret_mode="existing")
    assert not rel.failed, rel.msg
    assert secret()["data"] == data("three")  # left to its new owner, not deleted
    refused = world.run(**plain("four"))
    assert refused.failed and "exchange_router_secret_adopt" in refused.msg
    assert secret()["data"] == data("three")
    assert not world.run(**plain("four"), secret_adopt=True).failed
    assert secret()["data"] == data("four")
    assert world.kube.objects[Ref("Secret", "ns", "someone-elses")] == foreign


def test_a_renamed_secret_the_release_created_is_removed_with_the_new_one_in_place(
    world: World,
) -> None:
    assert not world.run(**plain("one")).failed
    rel = world.run(**plain("two"), secret_name="renamed")
    assert not rel.failed, rel.msg
    assert world.live(SECRET) is None
    assert world.live(Ref("Secret", "ns", "renamed"))["data"] == data("two")  # type: ignore[index]


def test_a_secret_the_release_did_not_create_is_never_taken_without_adopt(world: World) -> None:
    world.existing("theirs")
    for values in (plain("mine"), sealed("x")):
        rel = world.run(**values)
        assert rel.failed and "Set exchange_router_secret_adopt: true" in rel.msg
        assert world.live(SECRET)["data"] == data("theirs")  # type: ignore[index]
        assert [c for c in writes(world.kube) if c[1] != "Lease"] == []
    adopted = world.run(**sealed("x"), secret_adopt=True)
    assert not adopted.failed, adopted.msg
    assert world.live(SECRET)["data"] == data("x")  # type: ignore[index]


def test_a_sealed_release_recorded_before_ownership_was_recorded_redeploys(world: World) -> None:
    values = sealed("x")
    assert not world.run(**values).failed
    world.stores["ns"].records = [  # as 2.0.0 recorded it: no name
        Revision.from_dict(dict(r.to_dict(), secret={"mode": "sealed", "owned": False}))
        for r in world.stores["ns"].records or []
    ]
    rel = world.run(**dict(values, image="router:v2", **sealed("x")))
    assert not rel.failed, rel.msg


def test_sealed_values_the_controller_cannot_unseal_fail_before_the_apply(world: World) -> None:
    world.kube.controller = False
    rel = world.run(**sealed("x"), rollout_timeout=1)
    assert rel.failed and "no Sealed Secrets controller unsealed" in rel.msg
    assert world.live(DEPLOYMENT) is None


# ---------------------------------------------------------------- batches and locks


def test_a_batch_where_the_apply_rejects_one_release_fails_that_one_alone() -> None:
    world = World(namespaces=("a", "b", "c"))
    for ns in "abc":
        world.kube.put(
            {"kind": "Secret", "metadata": {"name": SECRET.name, "namespace": ns}, "data": data(ns)}
        )

    def deny(obj: dict[str, Any], dry_run: bool) -> KubeError | None:
        if obj["metadata"]["namespace"] == "b" and not dry_run:
            return KubeError(403, "ValidatingAdmissionPolicy 'freeze' denied request: frozen")
        return None

    world.kube.denials.append(deny)
    specs = [world.spec(namespace=ns, inventory_host=ns) for ns in "abc"]
    results = world.run_all(specs)
    a, b, c = (results[ns] for ns in "abc")
    assert b.failed and "frozen" in b.msg
    assert "kubernetes.core.k8s could not apply the release" in b.msg
    for ok in (a, c):
        assert not ok.failed and ok.revision == 1, ok.msg
        assert SHARED_APPLY_FAILED in ok.warnings
        assert ok.rolled_back_to is None
    assert Ref("Deployment", "c", DEPLOYMENT.name) in world.kube.objects
    assert [r["status"] for r in world.history("b")] == ["failed"]


def test_a_batch_that_applies_cleanly_is_one_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(namespaces=("a", "b"))
    applies = []
    for ns in "ab":
        world.kube.put(
            {"kind": "Secret", "metadata": {"name": SECRET.name, "namespace": ns}, "data": data(ns)}
        )
    world.apply = lambda objects: applies.append(objects) or world.kube.k8s_module(objects)
    world.run_all([world.spec(namespace=ns, inventory_host=ns) for ns in "ab"])
    assert len(applies) == 1 and len(applies[0]) == 6


def test_a_batch_larger_than_any_thread_pool_reaches_its_one_apply() -> None:
    """Every deploy of a batch waits at the shared apply for the others: 40 releases (the engine
    once ran at most 32 side by side, and the first 32 waited forever for the last 8)."""
    namespaces = tuple(f"n{i}" for i in range(40))
    world = World(namespaces=namespaces)
    for ns in namespaces:
        world.kube.put(
            {"kind": "Secret", "metadata": {"name": SECRET.name, "namespace": ns}, "data": data(ns)}
        )
    applies: list[list[dict[str, Any]]] = []
    world.apply = lambda objects: applies.append(objects) or world.kube.k8s_module(objects)
    results = world.run_all([world.spec(namespace=ns, inventory_host=ns) for ns in namespaces])
    assert all(r.revision == 1 and not r.failed for r in results.values()), results
    assert len(applies) == 1 and len(applies[0]) == 3 * 40


@pytest.mark.parametrize("states", [("diff", "history"), ("diff", "absent"), ("present",)])
def test_readers_share_a_few_threads_and_a_batch_with_a_writer_gets_one_each(
    states: tuple[str, ...],
) -> None:
    """A writer may wait (for its lock, for the shared apply) on releases that must have started,
    so a batch with one runs every release at once; readers wait on nothing and share READERS."""
    size = 3 * engine.READERS
    specs = [spec(f"h{i}", namespace=f"n{i}", state=states[i % len(states)]) for i in range(size)]
    writer = any(s in engine.WRITERS for s in states)
    all_started = threading.Barrier(size, timeout=5)
    threads: set[int] = set()

    def one(s: Spec) -> Result:
        threads.add(threading.get_ident())
        if writer:
            all_started.wait()  # broken (an error) unless every release runs at once
        else:
            time.sleep(0.01)  # so that a pool of one thread per release would start them all
        return Result(msg=s.host)

    results = engine._side_by_side(one, specs)
    assert [results[s.host].msg for s in specs] == [s.host for s in specs]
    assert len(threads) == size if writer else 1 <= len(threads) <= engine.READERS


def test_a_dead_holder_s_lock_is_taken_over_after_this_client_saw_it_unchanged(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.existing()
    world.kube.put(
        {
            "kind": "Lease",
            "metadata": {"name": f"{NAME}-deploy-lock"},
            "spec": {"holderIdentity": "killed-run", "leaseDurationSeconds": 30},
        }
    )
    clock = [0.0]
    world.waiter = Waiter(lambda: clock[0], lambda s: clock.__setitem__(0, clock[0] + s))
    rel = world.run()
    assert not rel.failed, rel.msg
    assert 30 <= clock[0] <= 32


def test_a_live_holder_makes_the_deploy_wait_then_fail_naming_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.existing()
    lease = world.kube.put(
        {
            "kind": "Lease",
            "metadata": {"name": f"{NAME}-deploy-lock"},
            "spec": {"holderIdentity": "other-run", "leaseDurationSeconds": 30},
        }
    )
    clock = [0.0]

    def renewing(seconds: float) -> None:  # the holder renews every second
        clock[0] += seconds
        lease["spec"]["renewTime"] = str(clock[0])
        world.kube.objects[Ref("Lease", "ns", f"{NAME}-deploy-lock")] = copy.deepcopy(lease)
        world.kube.objects[Ref("Lease", "ns", f"{NAME}-deploy-lock")]["metadata"][
            "resourceVersion"
        ] = str(clock[0])

    world.waiter = Waiter(lambda: clock[0], renewing)
    rel = world.run()
    assert rel.failed and "another deploy (other-run" in rel.msg
    assert world.live(DEPLOYMENT) is None


def test_the_engine_over_the_real_store_and_one_identity_per_cluster() -> None:
    kube = FakeCluster(("a", "b"))
    connects = []

    def connect(options: dict[str, Any], manager: str) -> FakeCluster:
        connects.append(options)
        return kube

    for ns in "ab":
        kube.put(
            {"kind": "Secret", "metadata": {"name": SECRET.name, "namespace": ns}, "data": data(ns)}
        )
    same = {"host": "https://h", "api_key": "t"}
    specs = [
        spec(inventory_host="a", namespace="a", **same),
        spec(inventory_host="b", namespace="b", api_key="t"),
    ]
    env = {"K8S_AUTH_HOST": "https://h"}
    outcomes = engine.run(specs, lambda o, objs: kube.k8s_module(objs), False, "me", env, connect)
    assert connects == [same]  # b's host came from the environment: the same identity
    assert all(o.revision == 1 for o in outcomes.values()), outcomes
    assert SecretStore(kube, "a", NAME).load()[0].status == "deployed"  # type: ignore[index]


def test_the_deployer_is_asked_once_per_cluster_and_never_by_a_no_op() -> None:
    kube = FakeCluster(("a", "b"))
    for ns in "ab":
        kube.put(
            {"kind": "Secret", "metadata": {"name": SECRET.name, "namespace": ns}, "data": data(ns)}
        )
    specs = [spec(inventory_host=ns, namespace=ns) for ns in "ab"]

    def run() -> list[str]:
        kube.calls.clear()
        outcomes = engine.run(
            specs, lambda o, objs: kube.k8s_module(objs), False, "me", {}, lambda o, m: kube
        )
        assert not any(o.failed for o in outcomes.values()), outcomes
        return kube.verbs("create", "SelfSubjectReview")

    assert len(run()) == 1  # two releases recorded, one question
    assert run() == []  # nothing changed: nothing recorded, nobody asked


def test_a_connection_that_cannot_be_made_fails_its_releases_with_the_reason() -> None:
    def connect(options: dict[str, Any], manager: str) -> FakeCluster:
        raise KubeError(0, "cannot load kubeconfig /x (context nope): no context")

    outcomes = engine.run([spec()], lambda o, objs: "", False, "me", {}, connect)
    assert outcomes["localhost"].failed and "context nope" in outcomes["localhost"].msg


# ---------------------------------------------------------------- what the user reads


def test_a_spec_with_an_unknown_or_missing_key_is_an_error_not_a_default() -> None:
    from ansible_collections.exchange.platform.plugins.plugin_utils.spec import (
        Spec,
        SpecError,
    )

    good = {k: v for k, v in vars(spec()).items() if k != "host"}
    with pytest.raises(SpecError, match=r"unknown keys \['hisotry_max'\]"):
        Spec.of("h", dict(good, hisotry_max=3))
    with pytest.raises(SpecError, match=r"lacks \['wait'\]"):
        Spec.of("h", {k: v for k, v in good.items() if k != "wait"})
    with pytest.raises(SpecError, match="state 'upgrade' is not one of present, absent"):
        Spec.of("h", dict(good, state="upgrade"))


def test_history_lists_one_aligned_line_per_revision_like_helm_history(world: World) -> None:
    world.existing()
    world.run()
    world.run(image="router:v2")
    rel = world.run(state="history")
    lines = rel.msg.splitlines()
    assert lines[0].split() == ["REVISION", "TIME", "STATUS", "DEPLOYER", "IMAGE", "DESCRIPTION"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2"]
    assert lines[1].index("superseded") == lines[2].index("deployed") == lines[0].index("STATUS")
    assert [r["revision"] for r in rel.history] == [1, 2]
    assert "objects" not in rel.history[0]


def test_history_keeps_history_max_revisions(world: World) -> None:
    world.existing()
    for tag in "abcd":
        world.run(image=f"router:{tag}", history_max=3)
    assert [r["revision"] for r in world.history()] == [2, 3, 4]
    assert [r["status"] for r in world.history()] == ["superseded", "superseded", "deployed"]


def test_a_rotated_existing_secret_rolls_the_pods_with_a_keyed_checksum(world: World) -> None:
    world.existing("one")

    def checksum() -> str:
        template = world.live(DEPLOYMENT)["spec"]["template"]  # type: ignore[index]
        return template["metadata"]["annotations"]["exchange.platform/secret-checksum"]

    world.run()
    first = checksum()
    assert not world.run().changed
    world.kube.objects[SECRET]["data"] = data("two")
    rotated = world.run()
    assert rotated.changed and rotated.revision == 2
    assert checksum() != first
    assert world.history()[0]["checksum_key"] == world.history()[1]["checksum_key"]


# ---------------------------------------------------------------- the edge


INGRESS = {"enabled": True, "hosts": [{"host": "x.example"}], "cluster_issuer": "ca"}
# The Certificate's lifecycle (issued before the Ingress points at it): test_certificates.py.
ROUTE = {
    "enabled": True,
    "parent_refs": [{"name": "gw", "namespace": "edge"}],
    "hostnames": ["x.example"],
}


@pytest.mark.parametrize("accepted", [True, False])
def test_an_httproute_is_deployed_when_its_gateway_accepts_it(world: World, accepted: bool) -> None:
    world.existing()

    def gateway(obj: dict[str, Any]) -> None:
        if obj["kind"] == "HTTPRoute":
            status = "True" if accepted else "False"
            obj["status"] = {
                "parents": [
                    {
                        "parentRef": {"name": "gw"},
                        "conditions": [
                            {
                                "type": "Accepted",
                                "status": status,
                                "reason": "NotAllowedByListeners",
                                "message": "no listener allows this namespace",
                            },
                            {"type": "ResolvedRefs", "status": "True"},
                        ],
                    }
                ]
            }

    world.kube.controllers.append(gateway)
    rel = world.run(httproute=ROUTE)
    if accepted:
        assert not rel.failed, rel.msg
        assert rel.msg.endswith("it answers at https://x.example/")
    else:
        assert rel.failed
        assert (
            "Gateway edge/gw did not accept HTTPRoute ns/exchange-router-route: Accepted=False"
            in (rel.msg)
        )


@pytest.mark.parametrize("mode", ["plain", "sealed"])
def test_a_plan_reads_the_secret_and_the_sealed_secret_once(world: World, mode: str) -> None:
    values = plain("one") if mode == "plain" else sealed("one")
    world.run(**values)
    world.kube.calls.clear()
    rel = world.run(**values)
    assert not rel.failed and not rel.changed, rel.msg
    assert world.kube.verbs("get", "Secret").count(SECRET.name) == 1
    assert world.kube.verbs("get", "SealedSecret") == [SECRET.name]


EVERY_KIND = {
    "service_account": {"create": True},
    "pdb": {"enabled": True},
    "network_policy": {"enabled": True, "edge_namespace": "edge"},
    "config_files": {"app.yaml": "level: info\n"},
    "wait": False,  # no controllers here for the edge to wait on
}


@pytest.mark.parametrize(
    "variables",
    [
        dict(EVERY_KIND, ingress=INGRESS, **plain("one")),
        dict(EVERY_KIND, httproute=ROUTE, **sealed("one")),
    ],
    ids=["plain-ingress", "sealed-httproute"],
)
def test_removal_without_history_removes_every_kind_the_release_made(
    world: World, variables: dict[str, Any]
) -> None:
    rel = world.run(**variables)
    assert not rel.failed, rel.msg
    made = {ref.kind for ref in world.kube.objects} - {"Lease"}
    enabled = [k.kind for k in catalogue.RELEASE_KINDS if k.enabled(spec_variables(variables))]
    assert made >= set(enabled) and len(enabled) == (10 if "ingress" in variables else 9)
    world.stores["ns"] = MemoryStore()  # the history Secret deleted by hand
    rel = world.run(state="absent")
    assert not rel.failed and rel.changed, rel.msg
    assert [ref for ref in world.kube.objects if ref.kind != "Lease"] == []


def spec_variables(variables: dict[str, Any]) -> dict[str, Any]:
    """The role variables of a test's values, defaults filled in."""
    return {**role_defaults(), **{P + k: v for k, v in variables.items()}}
