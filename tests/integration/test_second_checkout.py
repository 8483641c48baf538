"""The local cluster's identity does not depend on where the checkout lives (issue 17).

A second checkout of the same versions and configuration reuses the running kwok cluster: its
`up` finds it up, prints the same kubeconfig, and what was deployed on it stays. One whose
configuration differs says so and leaves the cluster alone (no EXCHANGE_PLATFORM_RECREATE).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml
from conftest import CLUSTER, ROOT, Cluster, make_namespace
from kubernetes import client


def _second_checkout(dest: Path) -> Path:
    """A git clone of this checkout elsewhere, with cluster/ as this working tree has it (so
    uncommitted changes to the cluster scripts are what runs; in CI the two are the same)."""
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(dest)], check=True)
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "-co", "--exclude-standard", "cluster"],
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
        up = subprocess.run(
            [str(other), "up"], capture_output=True, text=True, check=False, timeout=900, env=env
        )
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
        up = subprocess.run(
            [str(other), "up"], capture_output=True, text=True, check=False, timeout=900, env=env
        )
        assert up.returncode == 0, up.stderr[-4000:]
        assert "WARNING: cluster exchange-platform was made from other versions" in up.stderr
        assert "EXCHANGE_PLATFORM_RECREATE=1" in up.stderr
        assert "creating cluster" not in up.stderr
        assert _ca(cluster.kubeconfig) == ca
        assert cluster.core.read_namespace(namespace).metadata.uid == uid
    finally:
        cluster.core.delete_namespace(namespace)
