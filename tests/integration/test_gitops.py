"""GitOps with a real controller (kwok tier): Flux's source-controller and kustomize-controller,
built from Go modules (cluster/kwok/flux.sh), read the release that playbooks/render.yml wrote
into a git repository served on 127.0.0.1. Flux applies it with the app Ready, prunes the
Ingress that a later render turned off, and reverts a hand edit that playbooks/diff.yml reports
first and no longer reports after."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import HAND_IMAGE, ROOT, Cluster, edit_image_by_hand, flat, poll
from kubernetes import client

FLUX_NS = "flux-system"
RELEASE = "exchange-router"
DEPLOYMENT = "exchange-router-deployment"
INGRESS = yaml.safe_load((ROOT / "tests/fixtures/edge-values.yml").read_text())[
    "exchange_router_ingress"
] | {"cluster_issuer": ""}  # no cert-manager on kwok
SOURCE = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")
KUSTOMIZATION = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")


class OpsRepo:
    """An ops repository as a user keeps one: a work tree the release is rendered into, pushed
    to the bare repository Flux's source-controller reads over HTTP."""

    def __init__(self, cluster: Cluster, flux: dict[str, str], name: str, work: Path) -> None:
        self.cluster, self.name, self.work = cluster, name, work
        self.bare = Path(flux["git_root"]) / f"{name}.git"
        self._git("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=self.bare.parent)
        self._git("init", "-q", "-b", "main", str(work), cwd=work.parent)
        # Flux pointed at the release's directory: a GitRepository and a Kustomization (prune,
        # wait), reconciled only when asked to, so the test decides when Flux acts.
        self.flux_objects = (
            (
                SOURCE,
                {
                    "apiVersion": "source.toolkit.fluxcd.io/v1",
                    "kind": "GitRepository",
                    "metadata": {"name": name, "namespace": FLUX_NS},
                    "spec": {
                        "url": f"{flux['git_url']}/{name}.git",
                        "ref": {"branch": "main"},
                        "interval": "1h",
                        "timeout": "20s",
                    },
                },
            ),
            (
                KUSTOMIZATION,
                {
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                    "kind": "Kustomization",
                    "metadata": {"name": name, "namespace": FLUX_NS},
                    "spec": {
                        "sourceRef": {"kind": "GitRepository", "name": name},
                        "path": f"./{name}/{RELEASE}",
                        "prune": True,
                        "wait": True,
                        "timeout": "2m",
                        "interval": "1h",
                    },
                },
            ),
        )

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=ops", "-c", "user.email=ops@example.com", *args],
            cwd=cwd or self.work,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()

    def render_and_push(self, values: dict[str, Any], message: str) -> str:
        """playbooks/render.yml into the work tree, then commit and push; the commit's sha."""
        run = self.cluster.playbook(
            "render", values | {"exchange_router_render_dir": str(self.work)}
        )
        assert run.ok, run.output
        self._git("add", "-A")
        self._git("commit", "-q", "--allow-empty", "-m", message)
        self._git("push", "-q", str(self.bare), "HEAD:main")
        return self._git("rev-parse", "HEAD")

    def sync(self, sha: str) -> dict[str, Any]:
        """Flux fetches `sha` and applies it; the Kustomization once Ready at that commit."""
        cluster, name = self.cluster, self.name
        for (group, version, plural), body in self.flux_objects:
            _unless(
                409, cluster.custom.create_namespaced_custom_object, group, version, plural, body
            )
        _request_reconcile(cluster, SOURCE, name)
        _until(
            f"GitRepository {name} at {sha}",
            lambda: (
                _custom(cluster, SOURCE, name)
                .get("status", {})
                .get("artifact", {})
                .get("revision", "")
                .endswith(sha)
            ),
        )

        def applied() -> dict[str, Any] | None:
            obj = _custom(cluster, KUSTOMIZATION, name)
            at = obj.get("status", {}).get("lastAppliedRevision", "")
            return obj if at.endswith(sha) and _ready(obj) else None

        _request_reconcile(cluster, KUSTOMIZATION, name)
        return _until(f"Kustomization {name} Ready at {sha}", applied)


def _unless(status: int, call: Callable[..., Any], group: str, version: str, *args: Any) -> None:
    """A call on a Flux object in flux-system; an ApiException of `status` (409 when it exists,
    404 when it is gone) is what was wanted."""
    try:
        call(group, version, FLUX_NS, *args)
    except client.ApiException as error:
        if error.status != status:
            raise


def _custom(cluster: Cluster, kind: tuple[str, str, str], name: str) -> dict[str, Any]:
    group, version, plural = kind
    return cluster.custom.get_namespaced_custom_object(group, version, FLUX_NS, plural, name)


def _request_reconcile(cluster: Cluster, kind: tuple[str, str, str], name: str) -> str:
    """What `flux reconcile` does: a new reconcile.fluxcd.io/requestedAt token."""
    group, version, plural = kind
    token = str(time.time_ns())
    cluster.custom.patch_namespaced_custom_object(
        group,
        version,
        FLUX_NS,
        plural,
        name,
        {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}},
    )
    return token


def _until(what: str, check: Callable[[], Any], timeout: int = 180) -> Any:
    value = poll(check, bool, timeout)
    assert value, f"gave up waiting for {what}"
    return value


def _ready(obj: dict[str, Any]) -> bool:
    conditions = obj.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.fixture(scope="module")
def flux(cluster: Cluster) -> dict[str, str]:
    """Flux's controllers on this cluster and where its git server keeps repositories."""
    return json.loads(cluster.cluster_sh("flux").strip().splitlines()[-1])


@pytest.fixture
def ops(
    cluster: Cluster, flux: dict[str, str], namespace: str, tmp_path: Path
) -> Iterator[OpsRepo]:
    """An ops repository of the test's own for the test's namespace; Flux's objects deleted
    after it."""
    repo = OpsRepo(cluster, flux, namespace, tmp_path / "ops")
    yield repo
    for (group, version, plural), _body in repo.flux_objects:
        _unless(
            404, cluster.custom.delete_namespaced_custom_object, group, version, plural, namespace
        )


def _ingresses(cluster: Cluster, namespace: str) -> set[str]:
    net = client.NetworkingV1Api(cluster.api)
    return {i.metadata.name for i in net.list_namespaced_ingress(namespace).items}


def test_flux_applies_the_rendered_release_and_prunes_the_ingress_a_render_turned_off(
    cluster: Cluster, namespace: str, ops: OpsRepo
) -> None:
    values = {"exchange_router_namespace": namespace, "exchange_router_ingress": INGRESS}
    sha = ops.render_and_push(values, "exchange-router with its Ingress")
    applied = ops.sync(sha)
    deployment = cluster.apps.read_namespaced_deployment(DEPLOYMENT, namespace)
    assert (deployment.status.available_replicas or 0) >= 1, deployment.status  # the app Ready
    assert _ingresses(cluster, namespace) == {"exchange-router-ingress"}  # the control
    inventory = {e["id"] for e in applied["status"]["inventory"]["entries"]}
    assert f"{namespace}_exchange-router-ingress_networking.k8s.io_Ingress" in inventory

    release_dir = ops.work / namespace / RELEASE
    (release_dir / "NOTES.md").write_text("a file the user keeps beside the release\n")
    sha = ops.render_and_push({"exchange_router_namespace": namespace}, "the Ingress turned off")
    assert not (release_dir / "ingress.yaml").exists()  # render removed the file it wrote
    assert (release_dir / "NOTES.md").exists()  # and only that
    ops.sync(sha)
    assert _ingresses(cluster, namespace) == set()  # Flux pruned it
    assert cluster.apps.read_namespaced_deployment(DEPLOYMENT, namespace).status.available_replicas


def test_a_hand_edit_is_reported_by_diff_then_reverted_by_flux_then_no_longer_reported(
    cluster: Cluster, namespace: str, ops: OpsRepo
) -> None:
    values = {"exchange_router_namespace": namespace}
    assert cluster.deploy(values).ok  # revision 1 in the release's history
    ops.sync(ops.render_and_push(values, "exchange-router"))
    clean = cluster.playbook("diff", values)
    assert clean.ok and "changed=0" in clean.output, clean.output  # the control
    rendered = cluster.apps.read_namespaced_deployment(DEPLOYMENT, namespace)
    image = rendered.spec.template.spec.containers[0].image

    edit_image_by_hand(cluster, namespace)
    drifted = cluster.playbook("diff", values)
    assert drifted.ok and "changed=1" in drifted.output, drifted.output
    assert "spec.template.spec.containers[0].image" in drifted.output, drifted.output
    assert f'"{HAND_IMAGE}" live' in drifted.output, drifted.output

    _request_reconcile(cluster, KUSTOMIZATION, namespace)
    _until(
        "Flux to revert the hand edit",
        lambda: (
            cluster.apps.read_namespaced_deployment(DEPLOYMENT, namespace)
            .spec.template.spec.containers[0]
            .image
            == image
        ),
    )
    after = cluster.playbook("diff", values)
    assert after.ok and "changed=0" in after.output, after.output
    # the fleet summary's line, after the host's name (the YAML callback folds long lines)
    assert f"{RELEASE} in namespace {namespace}: no drift from revision 1" in flat(after.output)
