"""The local cluster as the benchmark uses it: kubectl for setup and cleanup, the apiserver's
/metrics and /readyz read with the admin certificate, namespaces of its own."""

from __future__ import annotations

import http.client
import json
import re
import ssl
import subprocess
import time
from collections.abc import Container
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from common import DEPLOYMENT, LABEL, SECRET_DATA, log


class Cluster:
    """kubectl for setup/cleanup, and the apiserver's /metrics read with the admin cert."""

    def __init__(self, kubeconfig: str, kubectl: str, env: dict[str, str]) -> None:
        self.kubeconfig, self.kubectl_bin, self.env = kubeconfig, kubectl, env
        cfg = yaml.safe_load(Path(kubeconfig).read_text())
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        url = urlsplit(cluster["server"])
        self.server = cluster["server"]
        self.host, self.port = url.hostname, url.port or 443
        self.ssl = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.ssl.load_cert_chain(user["client-certificate"], user["client-key"])

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            [self.kubectl_bin, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        if check and proc.returncode:
            raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def get(self, path: str) -> bytes:
        return self.request("GET", path, ok=(200,))

    def request(
        self,
        method: str,
        path: str,
        body: str | None = None,
        content_type: str | None = None,
        ok: Container[int] = range(200, 300),
    ) -> bytes:
        """One call with the admin certificate (GET for the rows; writes for the canary row's fake
        Gateway controller); a status not in `ok` raises."""
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ssl, timeout=30)
        try:
            headers = {"Content-Type": content_type} if content_type else {}
            conn.request(method, path, body.encode() if body is not None else None, headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status not in ok:
                raise RuntimeError(f"{method} {path}: {resp.status} {data[:500]!r}")
            return data
        finally:
            conn.close()

    def ready(self) -> bool:
        try:
            self.get("/readyz")
            return True
        except (OSError, RuntimeError, http.client.HTTPException):
            return False

    def wait_ready(self, timeout: float = 300) -> None:
        """Wait while the apiserver is down (the shared cluster's outage tests stop it)."""
        if self.ready():
            return
        log("the apiserver does not answer (an outage test?); waiting for it")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(2)
            if self.ready():
                log("the apiserver is back")
                time.sleep(5)  # let the controllers' informers reconnect
                return
        raise RuntimeError(f"the apiserver did not come back within {timeout:.0f}s")

    def request_totals(self) -> dict[tuple[str, ...], float] | None:
        """apiserver_request_total by (verb, resource, subresource, dry_run, code); None if the
        apiserver does not answer."""
        totals: dict[tuple[str, ...], float] = {}
        pattern = re.compile(r'(\w+)="([^"]*)"')
        try:
            text = self.get("/metrics").decode()
        except (OSError, RuntimeError, http.client.HTTPException):
            return None
        for line in text.splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            labels_part, value = line.rsplit(" ", 1)
            labels = dict(pattern.findall(labels_part))
            key = (
                labels.get("verb", ""),
                labels.get("resource", ""),
                labels.get("subresource", ""),
                labels.get("dry_run", ""),
                labels.get("code", ""),
            )
            totals[key] = totals.get(key, 0.0) + float(value)
        return totals

    def create_namespaces(self, names: list[str], run_id: str) -> None:
        docs = []
        for ns in names:
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": ns, "labels": {LABEL: run_id}},
                }
            )
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "exchange-router-secret", "namespace": ns},
                    "type": "Opaque",
                    "stringData": SECRET_DATA,
                }
            )
        self.kubectl(
            "apply", "--server-side", "--field-manager=xr-bench-setup", "-f", "-",
            # JSON: as YAML, a run id such as 0271e6 is a number to kubectl (and no label value)
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
        )  # fmt: skip

    def delete_namespaces(self, selector: str, wait: float = 240) -> None:
        self.kubectl("delete", "namespace", "-l", selector, "--wait=false", check=False)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not self.kubectl(
                "get", "namespace", "-l", selector, "-o", "name", check=False
            ).strip():
                return
            time.sleep(1)
        log(f"namespaces {selector} still terminating after {wait:.0f}s; going on")

    def deployment_state(self, ns: str) -> tuple[str, int, int, int]:
        out = self.kubectl(
            "-n", ns, "get", "deployment", DEPLOYMENT, "-o",
            "jsonpath={.spec.template.spec.containers[0].image} {.status.updatedReplicas}"
            " {.status.availableReplicas} {.status.replicas}",
            check=False,
        ).split()  # fmt: skip
        if len(out) < 1:
            return ("", 0, 0, 0)
        nums = [int(x) for x in out[1:4]] + [0] * (3 - len(out[1:4]))
        return (out[0], nums[0], nums[1], nums[2])

    def deployment_states(self, names: list[str]) -> dict[str, tuple[str, int, int, int]]:
        """deployment_state of every namespace in names, from one list call (a fleet's check);
        ("", 0, 0, 0) where the Deployment is missing."""
        out = self.kubectl(
            "get", "deployment", "--all-namespaces",
            f"--field-selector=metadata.name={DEPLOYMENT}", "-o", "json",
            check=False,
        )  # fmt: skip
        found = {}
        for d in json.loads(out or "{}").get("items", []):
            containers = d["spec"]["template"]["spec"]["containers"]
            status = d.get("status", {})
            found[d["metadata"]["namespace"]] = (
                containers[0].get("image", "") if containers else "",
                status.get("updatedReplicas", 0),
                status.get("availableReplicas", 0),
                status.get("replicas", 0),
            )
        return {ns: found.get(ns, ("", 0, 0, 0)) for ns in names}
