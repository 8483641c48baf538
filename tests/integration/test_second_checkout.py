"""Two checkouts on one machine (issues 17 and 23).

The local cluster's identity does not depend on where the checkout lives: a second checkout of
the same versions and configuration reuses the running kwok cluster (its `up` finds it up, prints
the same kubeconfig, and what was deployed on it stays); one whose configuration differs says so
and leaves the cluster alone (no EXCHANGE_PLATFORM_RECREATE). On kind, the cluster a run holds is
never given to another checkout's run: that one gets a cluster of its own. Molecule's namespaces
are the checkout's own.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import CLUSTER, KIND_CLUSTER_NAME, ROOT, Cluster, make_namespace
from kubernetes import client


def run_script(path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One of the cluster scripts, its output kept for the assertions (30 min at most: a build
    it starts may have much to do)."""
    return subprocess.run(
        [str(path), *args], capture_output=True, text=True, check=False, timeout=1800, env=env
    )


# What the kind tier's images are made of (cluster/kind/deployer-build.sh: the collection).
COLLECTION = ("galaxy.yml", "meta", "plugins", "roles", "playbooks")


def _second_checkout(dest: Path, paths: tuple[str, ...] = ("cluster",)) -> Path:
    """A git clone of this checkout elsewhere, with `paths` as this working tree has them (so
    uncommitted changes to the cluster scripts are what runs; in CI the two are the same)."""
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(dest)], check=True)
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "-co", "--exclude-standard", *paths],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest / CLUSTER.relative_to(ROOT)


def _ca(kubeconfig: Path) -> bytes:
    """The cluster CA's certificate (a recreated cluster has a new one)."""
    cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]
    return Path(cluster["certificate-authority"]).read_bytes()


def test_a_second_checkout_reuses_the_running_cluster_and_keeps_what_is_on_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    namespace = make_namespace(cluster)
    try:
        cluster.core.create_namespaced_config_map(
            namespace,
            client.V1ConfigMap(metadata=client.V1ObjectMeta(name="kept"), data={"a": "b"}),
        )
        uid = cluster.core.read_namespace(namespace).metadata.uid
        ca = _ca(cluster.kubeconfig)

        other = _second_checkout(tmp_path / "second-checkout")
        assert other.parent.parent != ROOT
        # Never told to recreate: whatever this environment says.
        env = {k: v for k, v in os.environ.items() if k != "EXCHANGE_PLATFORM_RECREATE"}
        up = run_script(other, "up", env=env)
        assert up.returncode == 0, up.stderr[-4000:]
        assert up.stdout.strip().splitlines()[-1] == str(cluster.kubeconfig)
        assert "is already up" in up.stderr, up.stderr[-4000:]
        assert "creating cluster" not in up.stderr
        assert "WARNING" not in up.stderr, "the second checkout's configuration differs"

        assert _ca(cluster.kubeconfig) == ca
        assert cluster.core.read_namespace(namespace).metadata.uid == uid
        assert cluster.core.read_namespaced_config_map("kept", namespace).data == {"a": "b"}

        # A checkout whose configuration differs says so and leaves the running cluster alone.
        policy = other.parent / "audit-policy.yaml"
        policy.write_text(policy.read_text() + "# changed by a second checkout\n")
        up = run_script(other, "up", env=env)
        assert up.returncode == 0, up.stderr[-4000:]
        # (the shared cluster, or the throwaway one make integration runs the tests on)
        warning = r"WARNING: cluster exchange-platform\S* was made from other versions"
        assert re.search(warning, up.stderr), up.stderr[-4000:]
        assert "EXCHANGE_PLATFORM_RECREATE=1" in up.stderr
        assert "creating cluster" not in up.stderr
        assert _ca(cluster.kubeconfig) == ca
        assert cluster.core.read_namespace(namespace).metadata.uid == uid
    finally:
        cluster.core.delete_namespace(namespace)


def _kind_cluster_name(kind: Cluster) -> str:
    """The kind cluster the tests use: kind.sh keeps its kubeconfig in kind/clusters/<name>/."""
    return kind.kubeconfig.parent.name


def _which(checkout: Path) -> str:
    """The kind cluster `up` would use in `checkout`, as an independent run there would see it
    (not inside this run's `kind.sh with`)."""
    env = {k: v for k, v in os.environ.items() if k != "EXCHANGE_PLATFORM_KIND_HELD"}
    env["KIND_CLUSTER_NAME"] = KIND_CLUSTER_NAME
    which = run_script(checkout / "cluster/kind.sh", "which", env=env)
    assert which.returncode == 0, which.stderr[-4000:]
    return which.stdout.strip().splitlines()[-1]


@pytest.mark.kind
def test_a_held_kind_cluster_is_never_given_to_another_checkout_s_run(
    kind: Cluster, tmp_path: Path
) -> None:
    """Not recreated, not reloaded, not shared (one node's room is one run's): a clone of the same
    content and one with a changed manifest each get an extra cluster named by their content."""
    name = _kind_cluster_name(kind)
    other = _second_checkout(tmp_path / "second-checkout", ("cluster", *COLLECTION)).parent.parent
    extra = rf"{re.escape(KIND_CLUSTER_NAME)}-[0-9a-f]{{8}}"
    # Held as `kind.sh with` holds it (a shared lock), whether or not this run is inside one.
    cache = os.environ.get("EXCHANGE_PLATFORM_CACHE", str(Path.home() / ".cache/exchange-platform"))
    lock = Path(cache) / "kind/clusters" / name / "in-use.lock"
    uid = kind.core.read_namespace("kube-system").metadata.uid
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_SH)
        same = _which(other)
        manifest = other / "cluster/kind/manifests/metrics-server.yaml"
        manifest.write_text(manifest.read_text() + "# changed by a second checkout\n")
        changed = _which(other)
    assert name not in (same, changed)
    assert re.fullmatch(extra, same), same
    assert re.fullmatch(extra, changed), changed
    assert same != changed  # named by content
    assert kind.core.read_namespace("kube-system").metadata.uid == uid  # the same cluster, kept


# The namespaces molecule/<scenario>/inventory/hosts.yml names for each ephemeral directory, as
# a molecule step (a separate ansible-playbook with MOLECULE_EPHEMERAL_DIRECTORY set) sees them.
# In a process of its own: Ansible's plugin loader changes the importer of ansible_collections.
NAMESPACES_OF = """
import json, os, sys
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template
from ansible.vars.manager import VariableManager

init_plugin_loader()
found = []
for state in sys.argv[2:]:
    os.environ["MOLECULE_EPHEMERAL_DIRECTORY"] = state
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[sys.argv[1]])
    host = inventory.get_host("localhost")
    variables = VariableManager(loader=loader, inventory=inventory).get_vars(host=host)
    templar = Templar(loader=loader, variables=variables)
    names = "{{ [exchange_router_namespace, molecule_restricted_namespace] }}"
    found.append(templar.template(trust_as_template(names)))
print(json.dumps(found))
"""


@pytest.mark.parametrize("scenario", ["shared", "default"])
def test_molecule_names_its_namespaces_after_the_checkout_s_state(scenario: str) -> None:
    """Two checkouts' molecule runs on one cluster never share a namespace (the Makefile gives
    each checkout its own ephemeral directory), and every step of one run names the same."""
    states = ["/cache/molecule/aaaa-kwok", "/cache/molecule/aaaa-kwok", "/cache/molecule/bbbb-kwok"]
    inventory = ROOT / "molecule" / scenario / "inventory/hosts.yml"
    shown = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", NAMESPACES_OF, str(inventory), *states],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")),
    )
    one, again, other = json.loads(shown.stdout.splitlines()[-1])
    assert one == again
    assert set(one).isdisjoint(other)
    assert one[0].startswith("exchange-router-molecule-")
    assert one[1].startswith("exchange-router-restricted-")
