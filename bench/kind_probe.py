"""First deploy on a real kubelet (the kind tier), until the rollout is complete: the readiness
probe default before issue 10 (TCP every 10 s) against today's (GET /api/v1/health every 1 s).

    make bench-kind              # 5 interleaved rounds; bench/results/kind-probe.md, BENCHMARKS.md

Each round deploys the stand-in application (cluster/kind/standin) into two fresh namespaces,
one per probe, with the shipped playbook; `ansible-playbook` wall time is measured, the engine
waits for the rollout. Ratios are of medians measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import yaml
from kubernetes import client, config, utils

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "exchange-platform/standin:dev"
# The Postgres and Redis stand-ins, as molecule and the kind tests load them.
BACKENDS = ROOT / "cluster" / "kind" / "manifests" / "backends.yaml"
OLD_PROBE = {"tcpSocket": {"port": "http"}, "periodSeconds": 10}
PROBES = {"before (tcpSocket, every 10 s)": OLD_PROBE, "after (the default)": None}
SECRET = {
    "server_addr": "0.0.0.0:8080",
    "database_url": "postgres://router:bench@postgres:5432/exchange",
    "redis_url": "redis://redis:6379/0",
}


def namespace_with_backends(api: client.ApiClient) -> str:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    name = f"xr-probe-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_secret(
        name, {"metadata": {"name": "exchange-router-secret"}, "stringData": SECRET}
    )
    utils.create_from_dict(api, yaml.safe_load(BACKENDS.read_text()), namespace=name)
    for _attempt in range(120):
        if apps.read_namespaced_deployment("backends", name).status.ready_replicas:
            return name
        time.sleep(1)
    raise SystemExit(f"the backends in {name} never became ready")


def remove(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.delete_namespace(namespace)
    for _attempt in range(120):
        try:
            core.read_namespace(namespace)
        except client.ApiException as error:
            if error.status == 404:
                return
            raise
        time.sleep(1)


def deploy(kubeconfig: str, namespace: str, probe: dict | None) -> float:
    values: dict = {"exchange_router_namespace": namespace, "exchange_router_image": IMAGE}
    if probe is not None:
        values["exchange_router_readiness_probe"] = probe
    env = dict(os.environ, KUBECONFIG=kubeconfig, K8S_AUTH_KUBECONFIG=kubeconfig)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    command = [
        str(ROOT / ".venv/bin/ansible-playbook"),
        str(ROOT / "playbooks/deploy.yml"),
        "-e",
        json.dumps(values),
    ]
    start = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"deploy into {namespace} failed:\n{done.stdout[-3000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--out", default=str(ROOT / "bench/results/kind-probe.md"))
    args = parser.parse_args()
    api = config.new_client_from_config(args.kubeconfig)
    times: dict[str, list[float]] = {label: [] for label in PROBES}
    for round_ in range(args.rounds):
        order = list(PROBES.items())
        if round_ % 2:
            order.reverse()  # interleaved, alternating which goes first
        for label, probe in order:
            namespace = namespace_with_backends(api)
            try:
                times[label].append(deploy(args.kubeconfig, namespace, probe))
            finally:
                remove(api, namespace)  # the node's CPU requests fit a few releases only
            print(f"round {round_ + 1} {label}: {times[label][-1]:.2f} s", file=sys.stderr)
    medians = {label: statistics.median(values) for label, values in times.items()}
    before, after = medians.values()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    lines = [
        f"First deploy on kind until rolled out ({args.rounds} interleaved rounds, commit "
        f"{commit}, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores):",
        "",
        "| readiness probe | median | runs |",
        "| --- | --- | --- |",
        *(
            f"| {label} | {medians[label]:.2f} s | {', '.join(f'{v:.1f}' for v in values)} |"
            for label, values in times.items()
        ),
        "",
        f"after / before = {after / before:.2f} ({before - after:.1f} s less per first deploy)",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    update_benchmarks_md("\n".join(lines))
    print("\n".join(lines))
    return 0


BEGIN, END = "<!-- bench:kind-probe:begin -->", "<!-- bench:kind-probe:end -->"


def update_benchmarks_md(body: str) -> None:
    """The section between the markers in BENCHMARKS.md (appended once if missing)."""
    path = ROOT / "BENCHMARKS.md"
    block = f"{BEGIN}\n<!-- written by bench/kind_probe.py (make bench-kind) -->\n\n{body}\n{END}"
    text = path.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        path.write_text(head + block + rest.split(END, 1)[1])
    else:
        title = "## First deploy on a real kubelet: the readiness probe (`make bench-kind`)"
        path.write_text(text.rstrip("\n") + f"\n\n{title}\n\n{block}\n")


if __name__ == "__main__":
    sys.exit(main())
